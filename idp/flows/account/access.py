"""Who may use the account page, and when a change needs a fresh full authentication.

- Viewing needs an SSO session at LoA2. Without a session the login flow runs (password +
  second factor); a LoA1 session only runs the step-up flow (second factor).
- Changing a factor or the password needs a *fresh full* authentication (ASVS 5.0 7.5.1,
  NIST 800-63B-4 §4.1.2 "binding a new authenticator"): password and second factor entered
  in this browser within the last FRESH_AUTH_SECONDS. A step-up alone (second factor on top
  of an old password login) or a LoA2 login made for a portal does not count, since nothing
  tells us when *its* password was entered: those run the login flow again.

How "full" is proven: the account page starts a login flow (flows.create_internal) with
`return_to` = /account/reauth/<nonce>, and records under the nonce *that flow's id*, the
browser binding, and the citizen expected (the session's, when there is one). When that flow
finishes a login, interaction/pending.finish records which citizen and session it logged in
(the completion record, flows.completion). Presenting the address (once: both records are
taken) marks the session fresh for FRESH_AUTH_SECONDS only when:
- the named flow finished a login, of the citizen whose session is current now (and of the
  expected citizen when one was recorded), into this very session and its latest auth_time;
- the flow ran in the browser the record was made in, and the browser binding has not
  changed since (every login and logout renews it, session.py), so no later login on this
  browser can be credited to an earlier, unfinished flow.
Any other login — a portal's, another account-page flow's, or the recovery/registration flow
the login page handed over to ("Quên mật khẩu?", "Đăng ký"; the hand-over deletes the nonce
record and sends the flow back to the account page instead) — marks nothing. Shared-browser
attack this closes: with nobody logged in, open "add phone", hand the login over to "Quên
mật khẩu?" for one's own ID, keep the /account/reauth/<nonce> address, wait for the next
person to log in on that browser, then present it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, redirect, request, url_for

from idp import flows
from idp.flows.account import bp
from idp.interaction import session as sso
from idp.interaction.policy import LEVELS, Needed, internal_needed
from idp.platform import audit
from idp.platform.crypto import random_token
from idp.platform.db import db, now
from idp.platform.models import Citizen, SsoSession

FRESH_AUTH_SECONDS = 300  # ASVS 5.0 7.5.1: re-authenticate before changing factors/password
NONCE = re.compile(r"[A-Za-z0-9_-]{20,64}")
# What an organisation's account may open: it has no password and no second factor (it signs
# in by certificate only, accounts/organisations.py); the other pages send it back here.
ORGANISATION_PAGES = frozenset({"account.index", "account.sessions_revoke_others",
                                "account.certificate_remove"})


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
    key = "acct-reauth:" + nonce
    current_session = sso.current()
    params = {"acr_values": "LoA2"}
    if citizen is not None and citizen.account_type == "citizen":  # an organisation's key is
        params["login_hint"] = citizen.id_number                  # no login name
    flow = flows.create_internal(
        "login", url_for("account.reauthenticated", nonce=nonce), params=params,
        needed=_needed("login", "reauthenticate"), record_completion=True,
        handover={"return_to": url_for("account.index"), "drop": [key]})
    _store().put(key, {"bid": sso.browser_binding(), "next": next_path, "flow": flow.id,
                       "citizen_id": current_session.citizen_id if current_session else None},
                 current_app.config["IDP"]["flow_ttl"])
    return redirect(flow.url, 303)


def _needed(kind: str, reason: str) -> Needed:
    """The account page asks LoA2 itself (an internal pending request of kind "account"):
    the policy's `Needed` for the flow, never below the deployment's floor."""
    return internal_needed(kind, "LoA2", reason, current_app.config["IDP"])


def stepup_redirect(next_path: str, citizen: Citizen):
    url = flows.start_internal("stepup", next_path, params={"acr_values": "LoA2"},
                               data={"citizen_id": citizen.id}, begin_for=citizen,
                               needed=_needed("stepup", "level_below"))
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
    if citizen.account_type != "citizen" and request.endpoint not in ORGANISATION_PAGES:
        return redirect(url_for("account.index"), 303)
    if fresh and not is_fresh(session):
        return login_redirect(_next_path(back), citizen)
    g.account = Account(session, citizen)
    return None


def _guarded(back: str | None, fresh: bool):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return _guard(back, fresh=fresh) or view(*args, **kwargs)
        return wrapper
    return decorator


def loa2_required(back: str | None = None):
    """The view needs a LoA2 session; `back` is the page to return to after a POST."""
    return _guarded(back, fresh=False)


def fresh_required(back: str | None = None):
    """The view changes a factor or the password: fresh full authentication needed."""
    return _guarded(back, fresh=True)


@bp.get("/reauth/<nonce>")
def reauthenticated(nonce: str):
    """GET /account/reauth/<nonce>: the end of a login flow started by the account page."""
    record = _store().take("acct-reauth:" + nonce) if NONCE.fullmatch(nonce) else None
    done = flows.completion(str(record.get("flow", ""))) if record is not None else None
    session = sso.current()
    if done is not None and session is not None and _proves_login(record, done, session):
        _store().put("acct-fresh:" + session.sid, {"auth_time": session.auth_time},
                     FRESH_AUTH_SECONDS)
        audit.record("account.reauthenticated", citizen_id=session.citizen_id)
        return redirect(record["next"], 303)
    return redirect(url_for("account.index"), 303)


def _proves_login(record: dict, done: dict, session: SsoSession) -> bool:
    """The flow named by the record finished a full login of this session's own citizen,
    in this browser, and nothing logged in or out here since (module docstring)."""
    expected = record.get("citizen_id")
    return (done.get("kind") == "login"
            and done.get("sid") == session.sid
            and done.get("citizen_id") == session.citizen_id
            and expected in (None, session.citizen_id)
            and done.get("auth_time") == session.auth_time
            and record.get("bid") == done.get("bid_before")
            and done.get("bid") == sso.browser_binding()
            and now() - session.auth_time <= FRESH_AUTH_SECONDS
            and LEVELS.get(session.acr, 0) >= 2)
