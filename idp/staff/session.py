"""The staff session: its own cookie (`idp_staff`, Path=/staff, HttpOnly, SameSite=Strict,
Secure on an https issuer) holding a random id; the state lives server-side in the ephemeral
store under the id's SHA-256, never in the citizen's Flask session. It ends after
`staff_idle_timeout` without a request, `staff_session_lifetime` after the sign-in, or at
sign-out (deleted server-side). `proved_at`: when the authenticator code was last entered
(sign-in or re-authentication), for the sensitive actions (access.requires(fresh=True))."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from flask import Response, current_app, g, request

from idp.platform.crypto import sha256_hex

COOKIE = "idp_staff"
PATH = "/staff"

now = time.time  # tests replace it (tests/support/clock.py)


@dataclass
class State:
    staff_id: int
    started: float
    seen: float
    proved_at: float


def _settings() -> dict:
    return current_app.config["IDP"]


def _key(sid: str) -> str:
    return f"staff-session:{sha256_hex(sid)}"


def _store():
    return current_app.extensions["idp.store"]


def _save(sid: str, state: State) -> None:
    s = _settings()
    ttl = min(s["staff_idle_timeout"], state.started + s["staff_session_lifetime"] - now())
    _store().put(_key(sid), state.__dict__, max(ttl, 1))


def start(staff_id: int) -> None:
    """A new session (a fresh id: never one the browser brought, no fixation)."""
    end()
    sid = secrets.token_urlsafe(32)
    t = now()
    _save(sid, State(staff_id, t, t, t))
    g.staff_cookie = sid


def load() -> tuple[State | None, bool]:
    """The live session of this request and whether a cookie was there (an ended session:
    the sign-in page says it expired)."""
    sid = request.cookies.get(COOKIE)
    if not sid or len(sid) > 100:
        return None, False
    value = _store().get(_key(sid))
    if value is None:
        return None, True
    state = State(**value)
    s, t = _settings(), now()
    if t - state.seen > s["staff_idle_timeout"] or \
            t - state.started > s["staff_session_lifetime"]:
        _store().delete(_key(sid))
        return None, True
    state.seen = t
    _save(sid, state)
    return state, True


def proved() -> None:
    """The authenticator code was entered again (re-authentication)."""
    sid = request.cookies.get(COOKIE)
    state, _ = load()
    if sid and state is not None:
        state.proved_at = now()
        _save(sid, state)


def fresh(state: State) -> bool:
    return now() - state.proved_at <= _settings()["staff_reauth_window"]


def end() -> None:
    sid = request.cookies.get(COOKIE)
    if sid and len(sid) <= 100:
        _store().delete(_key(sid))
    g.staff_cookie = ""


def write_cookie(response: Response) -> Response:
    """After the view: set (sign-in) or clear (sign-out) the cookie; staff pages are never
    cached."""
    if request.blueprint != "staff":
        return response
    response.headers["Cache-Control"] = "no-store"
    sid = g.pop("staff_cookie", None)
    if sid is None:
        return response
    secure = _settings()["issuer"].startswith("https://")
    if sid:
        response.set_cookie(COOKIE, sid, path=PATH, httponly=True, samesite="Strict",
                            secure=secure)
    else:
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="Strict",
                               secure=secure)
    return response
