"""Known devices: a long-lived signed cookie in a browser where a citizen completed a login.

Every completed login (the password step of a LoA1 login, the second-factor step of a LoA2
login or step-up: flows/login.py, flows/second_factor.py) sets `idp_dev` (`__Host-idp_dev`,
Secure, when the issuer is https; HttpOnly, SameSite=Lax, path /, `device_cookie_ttl`
seconds). Its value is signed with the app's SECRET_KEY (itsdangerous, with a salt of its
own and a timestamp checked against the same TTL) and names:

    {"c": the citizen's database id (never the ID number: the cookie is not personal data
          a reader could use elsewhere), "d": a random device id (96 bits)}

A new device id is drawn at every completed login, and a browser holds one citizen: the last
one who completed a login in it.

What it is for (the threat model is in flows/login.py): the login and password-reset throttles
of an ID number do not count this browser with strangers when the cookie names the citizen
who owns that ID number. It proves nothing by itself: it is no factor, it never skips a step,
and it is worthless for any other ID number. Someone who steals it already has the browser
(or its cookie jar) and still meets the growing wait of that device's own counter.
"""
from __future__ import annotations

import re

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from idp.platform.crypto import random_token
from idp.platform.db import db
from idp.platform.models import Citizen

SALT = "idp known device v1"
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{16,43}\Z")


def _settings():
    return current_app.config["IDP"]


def _secure() -> bool:
    return _settings()["issuer"].startswith("https://")


def cookie_name() -> str:
    return "__Host-idp_dev" if _secure() else "idp_dev"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def current() -> tuple[int, str] | None:
    """(citizen id, device id) from this browser's valid device cookie, else None."""
    if "idp_device" in g:
        return g.idp_device
    g.idp_device = None
    value = request.cookies.get(cookie_name())
    if value and len(value) <= 200:
        try:
            data = _serializer().loads(value, max_age=_settings()["device_cookie_ttl"])
        except BadSignature:  # includes SignatureExpired
            data = None
        if (isinstance(data, dict) and isinstance(data.get("c"), int)
                and isinstance(data.get("d"), str) and _DEVICE_ID.match(data["d"])):
            g.idp_device = (data["c"], data["d"])
    return g.idp_device


def owner_device(id_number: str) -> str | None:
    """The device id when this browser's cookie names the citizen who owns `id_number`."""
    found = current()
    if found is None:
        return None
    citizen = db.session.get(Citizen, found[0])
    if citizen is None or citizen.id_number != id_number:
        return None
    return found[1]


def remember(citizen: Citizen) -> None:
    """A completed login of `citizen` in this browser: (re)issue the cookie with this
    response."""
    g.idp_device_cookie = _serializer().dumps({"c": citizen.id, "d": random_token(12)})


def write_cookie(response):
    """after_request: set the cookie decided during the request."""
    value = g.get("idp_device_cookie")
    if value:
        response.set_cookie(cookie_name(), value, max_age=_settings()["device_cookie_ttl"],
                            path="/", secure=_secure(), httponly=True, samesite="Lax")
    return response


def init_app(app) -> None:
    app.after_request(write_cookie)
