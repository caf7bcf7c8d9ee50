"""Who may use the account page, and when a change needs a fresh full authentication.

- Viewing needs an SSO session at LoA2. Without a session the login flow runs (password +
  second factor); a LoA1 session only runs the step-up flow (second factor).
- Changing a factor or the password needs a *fresh full* authentication (ASVS 5.0 7.5.1,
  NIST 800-63B-4 §4.1.2 "binding a new authenticator"): password and second factor entered
  in this browser within the last FRESH_AUTH_SECONDS. A step-up alone (second factor on top
  of an old password login) or a LoA2 login made for a portal does not count, since nothing
  tells us when *its* password was entered: those run the login flow again.

How "full" is proven: the account page starts the login flow with `return_to` =
/account/reauth/<nonce>, the nonce recorded server-side with the browser binding and the
cookie of the session that was current then. The browser learns that URL only from the
redirect that ends a finished login flow, and every login rotates the session cookie (keeping
the sid, see session.start), so presenting it (once) in the same browser with a rotated
cookie proves the login ran; the sid is then marked fresh for FRESH_AUTH_SECONDS.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, redirect, request, url_for

from .. import audit, flows, session as sso
from ..crypto import random_token
from ..db import db, now
from ..models import Citizen, SsoSession
from ..policy import LEVELS
from . import bp

FRESH_AUTH_SECONDS = 300  # ASVS 5.0 7.5.1: re-authenticate before changing factors/password
NONCE = re.compile(r"[A-Za-z0-9_-]{20,64}")


@dataclass
class Account:
    session: SsoSession
    citizen: Citizen


def _store():
    return current_app.extensions["idp.store"]


def current() -> Account:
    """The account of this request (set by the guards below)."""
    return g.account


def _next_path(back: str | None) -> str:
    """Where to come back after a flow: this URL (as a GET: a POST is not replayed after a
    login, the user submits again), or the page `back` for a POST-only action."""
    if back is None or request.method == "GET":
        path = request.script_root + request.full_path.rstrip("?")
        if len(path) <= 500:
            return path
    return url_for(back or "account.index")


def login_redirect(next_path: str, citizen: Citizen | None = None):
    """Run the full login flow (password + second factor), then come back fresh."""
    nonce = random_token(24)
    current_session = sso.current()
    _store().put("acct-reauth:" + nonce,
                 {"bid": sso.browser_binding(), "next": next_path,
                  "cookie_before": current_session.cookie_hash if current_session else None},
                 current_app.config["IDP"]["flow_ttl"])
    params = {"acr_values": "LoA2"}
    if citizen is not None:
        params["login_hint"] = citizen.id_number
    url = flows.start_internal("login", url_for("account.reauthenticated", nonce=nonce),
                               params=params)
    return redirect(url, 303)


def stepup_redirect(next_path: str, citizen: Citizen):
    url = flows.start_internal("stepup", next_path, params={"acr_values": "LoA2"},
                               data={"citizen_id": citizen.id}, begin_for=citizen)
    return redirect(url, 303)


def is_fresh(session: SsoSession) -> bool:
    return (now() - session.auth_time <= FRESH_AUTH_SECONDS
            and _store().get("acct-fresh:" + session.sid) is not None)


def _guard(back: str | None, fresh: bool):
    session = sso.current()
    if session is None:
        return login_redirect(_next_path(back))
    citizen = db.session.get(Citizen, session.citizen_id)
    if LEVELS.get(session.acr, 0) < 2:
        return stepup_redirect(_next_path(back), citizen)
    if fresh and not is_fresh(session):
        return login_redirect(_next_path(back), citizen)
    g.account = Account(session, citizen)
    return None


def loa2_required(back: str | None = None):
    """The view needs a LoA2 session; `back` is the page to return to after a POST."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return _guard(back, fresh=False) or view(*args, **kwargs)
        return wrapper
    return decorator


def fresh_required(back: str | None = None):
    """The view changes a factor or the password: fresh full authentication needed."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return _guard(back, fresh=True) or view(*args, **kwargs)
        return wrapper
    return decorator


@bp.get("/reauth/<nonce>")
def reauthenticated(nonce: str):
    """GET /account/reauth/<nonce>: the end of a login flow started by the account page."""
    record = _store().take("acct-reauth:" + nonce) if NONCE.fullmatch(nonce) else None
    session = sso.current()
    if (record is not None and record.get("bid") == sso.browser_binding()
            and session is not None and session.cookie_hash != record.get("cookie_before")
            and now() - session.auth_time <= FRESH_AUTH_SECONDS
            and LEVELS.get(session.acr, 0) >= 2):
        _store().put("acct-fresh:" + session.sid, {"auth_time": session.auth_time},
                     FRESH_AUTH_SECONDS)
        audit.record("account.reauthenticated", citizen_id=session.citizen_id)
        return redirect(record["next"], 303)
    return redirect(url_for("account.index"), 303)
