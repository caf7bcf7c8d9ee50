"""The SSO session: the citizen's login at the IdP, shared by every portal.

The browser holds an opaque random cookie (HttpOnly, SameSite=Lax; `__Host-` prefixed and
Secure when the issuer is https); the database holds only its SHA-256. A new cookie and a new
`sid` are issued at every login and step-up (session rotation, ASVS 5.0 7.2.4). Lifetimes
follow NIST 800-63B-4 §5 (absolute `session_ttl`, idle `session_idle_ttl`).

A second, Flask-signed cookie carries `bid`, a random browser id that pending authorizations
and flows are bound to (so a flow id leaked in a URL is useless in another browser), and the
CSRF token of Flask-WTF.

That Flask session is *renewed* (emptied, new `bid`, so a new CSRF token too) at every login
(`start`) and every logout (`end`): nothing a browser was handed before a login — a flow, a
pending authorization, an account re-authentication address, a form token — authorises
anything after it, and nothing survives a logout. The one exception is the work the login
itself finishes: `start` remembers the binding the browser had (`binding_before_login`), and
the caller re-binds exactly what it continues (interaction/pending.finish re-binds the pending
authorization of the flow that ran the login, and records that flow's completion).
"""
from __future__ import annotations

import json

from flask import Flask, current_app, g, request, session
from sqlalchemy import bindparam, select, update
from werkzeug.wrappers import Response

from idp.accounts import device

# browser_binding: the platform owns the browser id; callers reach it as sso.browser_binding.
from idp.platform.browser import browser_binding as browser_binding
from idp.platform.crypto import random_token, sha256_hex
from idp.platform.db import db, now
from idp.platform.models import Citizen, SsoSession
from idp.platform.web import client_ip

LAST_SEEN_GRANULARITY = 60  # seconds; avoids a database write on every request


def cookie_name() -> str:
    secure = current_app.config["IDP"]["issuer"].startswith("https://")
    return "__Host-idp_sso" if secure else "idp_sso"


def _renew_browser() -> None:
    """A new Flask session: no old key survives, a new browser id and (lazily) CSRF token.
    The binding the browser had is kept for this request (`binding_before_login`)."""
    if "sso_binding_before" not in g:
        g.sso_binding_before = browser_binding()
    session.clear()
    session["bid"] = random_token(18)
    g.pop("csrf_token", None)  # Flask-WTF caches the request's token in g


def binding_before_login() -> str:
    """The browser binding this request started with, before a login or logout renewed it
    (the current binding when none did)."""
    return g.get("sso_binding_before") or browser_binding()


def started_in_request() -> SsoSession | None:
    """The session a login (`start`) in this request made current, else None."""
    started: SsoSession | None = g.get("sso_started")
    return started


# Built once: on an SSO authorize, building the statement cost more than running it. The
# session and its account in one round trip; a session of an account no longer active is none.
_CURRENT = select(SsoSession, Citizen).join(Citizen, Citizen.id == SsoSession.citizen_id).where(
    SsoSession.cookie_hash == bindparam("cookie_hash"), SsoSession.revoked_at.is_(None),
    SsoSession.expires_at > bindparam("t"), SsoSession.last_seen_at > bindparam("seen_after"),
    Citizen.status == "active")


def current() -> SsoSession | None:
    """This browser's live SSO session (idle and absolute lifetimes, account active), read once
    per request together with its account (`current_citizen`)."""
    if "sso" in g:
        known: SsoSession | None = g.sso
        return known
    g.sso = g.sso_citizen = None
    value = request.cookies.get(cookie_name())
    if value and len(value) <= 100:
        t = now()
        idle = current_app.config["IDP"]["session_idle_ttl"]
        found = db.session.execute(_CURRENT, {
            "cookie_hash": sha256_hex(value), "t": t, "seen_after": t - idle}).first()
        if found is not None:
            row, citizen = found
            if t - row.last_seen_at > LAST_SEEN_GRANULARITY:
                row.last_seen_at = t
                db.session.commit()
            g.sso, g.sso_citizen = row, citizen
            return row
    return None


def current_citizen() -> Citizen | None:
    """The account of `current()`, loaded with it (held for the request, not read again)."""
    if current() is None:
        return None
    citizen: Citizen | None = g.get("sso_citizen")
    if citizen is None:  # the session was started or replaced in this request
        citizen = db.session.get(Citizen, g.sso.citizen_id)
        g.sso_citizen = citizen
    return citizen


def start(citizen: Citizen, acr: str, amr: list[str]) -> SsoSession:
    """Log the browser in with a new cookie (session rotation). The same citizen
    re-authenticating or stepping up keeps the session's `sid` — the portals that received
    tokens under it stay attached to it for logout — with the new level, methods and
    auth_time; another citizen on this browser gets a new session and the old one ends.
    Either way the Flask session (browser binding, CSRF token) is renewed (module docstring)."""
    old = current()
    _renew_browser()
    t = now()
    value = random_token(32)
    s = current_app.config["IDP"]
    if old is not None and old.citizen_id == citizen.id:
        old.cookie_hash, old.auth_time, old.acr = sha256_hex(value), int(t), acr
        old.amr_json, old.last_seen_at, old.expires_at = json.dumps(amr), t, t + s["session_ttl"]
        db.session.commit()
        g.sso, g.sso_cookie, g.sso_started, g.sso_citizen = old, value, old, citizen
        return old
    if old is not None:
        old.revoked_at = t
    row = SsoSession(sid=random_token(18), cookie_hash=sha256_hex(value),
                     citizen_id=citizen.id, auth_time=int(t), acr=acr,
                     amr_json=json.dumps(amr), created_at=t, last_seen_at=t,
                     expires_at=t + s["session_ttl"],
                     user_agent=(request.user_agent.string or "")[:300], ip=client_ip())
    db.session.add(row)
    db.session.commit()
    g.sso, g.sso_cookie, g.sso_started, g.sso_citizen = row, value, row, citizen
    return row


def sign_in(citizen: Citizen, acr: str, amr: list[str], remember: bool = False) -> SsoSession:
    """A flow finished a login (engine.Finish(login=...)): start the session (`start`), with
    the "Ghi nhớ đăng nhập" choice for the cookie (`write_cookie`), and make this browser a
    known device of the citizen (accounts/device.py). The one place a flow's login begins."""
    g.sso_remember = remember
    row = start(citizen, acr, amr)
    device.remember(citizen)
    return row


def end() -> None:
    """Log the browser out: the session row is revoked, the cookie cleared, and the Flask
    session renewed (module docstring)."""
    row = current()
    if row is not None:
        db.session.execute(update(SsoSession).where(SsoSession.sid == row.sid)
                           .values(revoked_at=now()))
        db.session.commit()
    g.sso = g.sso_citizen = None
    g.sso_cookie = ""
    g.pop("sso_started", None)
    _renew_browser()


def write_cookie(response: Response) -> Response:
    """after_request: set or clear the SSO cookie decided during the request. A browser
    session cookie (gone when the browser closes: shared computers, issue 11 item 6) unless
    the login that started it had "Ghi nhớ đăng nhập" ticked (`g.sso_remember`, set by
    flows/login.py and flows/second_factor.py); then it lasts `session_ttl`."""
    if "sso_cookie" not in g:
        return response
    s = current_app.config["IDP"]
    secure = s["issuer"].startswith("https://")
    if g.sso_cookie:
        max_age = s["session_ttl"] if g.get("sso_remember") else None
        response.set_cookie(cookie_name(), g.sso_cookie, max_age=max_age, path="/",
                            secure=secure, httponly=True, samesite="Lax")
    else:
        response.delete_cookie(cookie_name(), path="/", secure=secure, httponly=True,
                               samesite="Lax")
    return response


def init_app(app: Flask) -> None:
    secure = app.config["IDP"]["issuer"].startswith("https://")
    app.config["SESSION_COOKIE_NAME"] = "__Host-idp_s" if secure else "idp_s"
    app.config["SESSION_COOKIE_PATH"] = "/"
    app.after_request(write_cookie)
