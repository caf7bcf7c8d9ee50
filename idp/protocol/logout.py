"""Logout: RP-Initiated Logout 1.0 at /logout and Back-Channel Logout 1.0 to the portals.

RP-initiated logout (`end_session_endpoint`, GET and POST; security-requirements §3.1):

- `id_token_hint` is valid when signed by one of our published keys (next/current/previous, so
  hints survive a rotation) and its `iss` is ours; an expired hint is accepted (the RP's own
  session may outlive the ID token). Anything else (alg none, modified, foreign or retired
  key, garbage) counts as "no valid hint", never as an error page or a 500.
- `client_id`, when given with a hint, must be one of the hint's audiences; otherwise the hint
  is not trusted.
- Redirection to `post_logout_redirect_uri` only with a valid hint and only when the URI
  exactly matches one registered for the hint's client; `state` is appended when sent.
  Otherwise no redirect, ever (§3, §4).
- The browser is logged out at once (even on GET) only when the valid hint belongs to the
  browser's current session (same `sub`, and same `sid`). In every other case with a session
  the citizen confirms on a page whose POST carries our CSRF token (a bare cross-site GET
  cannot log anybody out, §6 / ASVS 5.0 10.6.2). With a valid hint and no session here there
  is nothing to end: straight to the redirect (or the "logged out" page).

Ending a session (`end_sessions`): the SSO session rows are revoked; the tokens issued from
them are revoked *except* grants with `offline_access` (Back-Channel Logout §2.7: refresh
tokens without offline_access SHOULD be revoked, offline ones normally SHOULD NOT: the
citizen asked the portal for access while away, which a browser logout does not withdraw);
every client that received tokens from the session and registered a `backchannel_logout_uri`
is sent a logout token. Password reset and recovery approval (recovery.revoke_all) and
"sign out the other sessions" (account page) revoke all tokens themselves and call
`end_sessions(..., revoke_tokens=False)` for the notifications.

Back-channel delivery never blocks the user and survives the node: `end_sessions` writes one
outbox row per (session, portal) in the transaction that revokes the sessions, and `idp
worker` delivers them (idp/outbox.py: at least once, bounded retries with exponential
backoff, a dead letter after `outbox_max_attempts`). The token's jti is the row's message id,
fixed at that moment; the token is signed at each attempt (fresh iat/exp, same jti), POSTed
with `backchannel_timeout`, no redirects followed; 200 and 204 are success. Outcomes are
audited (`backchannel.delivered` / `backchannel.failed`, and `outbox.dead`).

A session that came from a VNeID login (issue 16 item 5) is also ended at VNeID: after the
local logout the browser goes to the upstream's logout (interaction/upstream_session.py) and
comes back to the portal's post-logout URI (or our "Bạn đã đăng xuất" page).
"""
from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, current_app, g, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select
from wtforms.validators import ValidationError

from idp.accounts.signout import end_sessions
from idp.interaction import session as sso
from idp.interaction import upstream_session
from idp.platform import audit, outbox
from idp.platform.db import db, now
from idp.platform.models import Citizen, Client, SsoSession
from idp.platform.web import LOCALES, csrf

log = logging.getLogger("idp.logout")
bp = Blueprint("logout", __name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = 120  # seconds (BCL §4: preferably at most two minutes)
MAX_PARAM = 4096


# --------------------------------------------------------------------------- back-channel

def deliver(message, payload: dict) -> tuple[bool, str]:
    """Outbox handler (idp/outbox.py) of one back-channel logout: the token is signed now,
    with the jti fixed when the row was written (so a portal sees one jti however many
    attempts it takes) and a fresh iat/exp (a retry an hour later is still a valid token)."""
    token = logout_token(message.client_id, payload["alg"], payload["sub"], payload["sid"],
                         message.message_id)
    outcome = post_logout_token(payload["uri"], token,
                                current_app.config["IDP"]["backchannel_timeout"])
    return outcome in ("200", "204"), outcome


def post_logout_token(uri: str, token: str, timeout: float) -> str:
    """One POST (BCL §2.5); returns the status code as text or the error's class name.
    Redirects are not followed. The URI is checked again here, on the addresses it resolves
    to now, and the connection goes to the checked address (idp/netguard.py: SSRF and DNS
    rebinding); a refused URI raises outbox.PermanentFailure (a dead letter, no retries)."""
    from idp.platform.netguard import BlockedURL, Policy, connection
    parts = urlsplit(uri)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    body = urlencode({"logout_token": token})
    policy = Policy.from_settings(current_app.config["IDP"])
    try:
        conn = connection(uri, timeout, policy.allowed_hosts, policy.production)
    except BlockedURL as exc:
        if exc.code == "unresolvable":
            return exc.code  # DNS may come back: retried with backoff
        raise outbox.PermanentFailure(f"blocked_{exc.code}") from None
    try:
        try:
            conn.request("POST", path, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cache-Control": "no-store", "User-Agent": "vn-citizen-idp back-channel logout"})
            response = conn.getresponse()
            response.read(4096)
            return str(response.status)
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - timeouts, refused connections, TLS errors...
        return type(exc).__name__


def logout_token(client_id: str, alg: str, sub: str, sid: str, jti: str) -> str:
    t = int(now())
    claims = {"iss": current_app.config["IDP"]["issuer"], "aud": client_id, "iat": t,
              "exp": t + LOGOUT_TOKEN_TTL, "jti": jti, "sub": sub, "sid": sid,
              "events": {BACKCHANNEL_EVENT: {}}}
    return current_app.extensions["idp.keyring"].sign(claims, alg, typ="logout+jwt")


# --------------------------------------------------------------------------- RP-initiated

def _param(name: str) -> str | None:
    value = request.values.get(name)
    if value is None or len(value) > MAX_PARAM or "\x00" in value:
        return None
    return value


def _apply_locale(ui_locales: str | None) -> None:
    if g.get("locale_override"):  # ?lang= (the language switch) wins
        return
    for tag in (ui_locales or "").split():
        lang = tag.split("-")[0].lower()
        if lang in LOCALES:
            g.locale_override = lang
            return


def verify_hint(hint: str | None, client_id: str | None) -> dict | None:
    """The hint's claims when we issued it (any published key; expiry not checked), else
    None."""
    if not hint:
        return None
    try:
        claims = current_app.extensions["idp.keyring"].verify(hint)
    except ValueError:
        return None
    if claims.get("iss") != current_app.config["IDP"]["issuer"] or not claims.get("sub"):
        return None
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else list(aud or [])
    if not audiences or not all(isinstance(a, str) for a in audiences):
        return None
    if client_id and client_id not in audiences:
        return None
    claims["_client_id"] = claims.get("azp") if len(audiences) > 1 else audiences[0]
    return claims


def _redirect_target(claims: dict | None, uri: str | None, state: str | None) -> str | None:
    """The post-logout redirect, only for a valid hint and an exactly registered URI."""
    if claims is None or not uri or not claims.get("_client_id"):
        return None
    client = db.session.execute(select(Client).where(
        Client.client_id == claims["_client_id"])).scalar()
    if client is None or uri not in client.client_metadata.get("post_logout_redirect_uris", []):
        return None
    if state:
        parts = urlsplit(uri)
        query = parts.query + ("&" if parts.query else "") + urlencode({"state": state})
        uri = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return uri


def _belongs(claims: dict | None, session: SsoSession) -> bool:
    if claims is None:
        return False
    citizen = db.session.get(Citizen, session.citizen_id)
    if citizen is None or claims.get("sub") != citizen.sub:
        return False
    return claims.get("sid") in (None, session.sid)


def _log_out(session: SsoSession | None, client_id: str | None) -> None:
    if session is None:
        return
    result = end_sessions([session.sid], "rp_initiated" if client_id else "user")
    audit.record("logout", citizen_id=session.citizen_id, client_id=client_id, **result)
    sso.end()  # clears the cookie (the row is already revoked)


def _done(target: str | None, session: SsoSession | None = None):
    """Where the browser goes after a logout: the upstream's logout first when the session
    came from a VNeID login (interaction/upstream_session.py; it comes back to `target`),
    else `target`, else our "Bạn đã đăng xuất" page."""
    onward = upstream_session.logout_redirect(session.sid, target) if session else None
    if onward:
        return redirect(onward, 302)
    if target:
        return redirect(target, 302)
    return render_template("info.html", title=_("Bạn đã đăng xuất"),
                           message=_("Bạn đã đăng xuất khỏi hệ thống. Để bảo vệ tài khoản, "
                                     "hãy đóng trình duyệt nếu bạn dùng máy tính công cộng."))


@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt  # the RP's request (RPIL §2: GET and POST); our own confirmation is checked below
def end_session():
    hint = _param("id_token_hint")
    client_id = _param("client_id")
    uri = _param("post_logout_redirect_uri")
    state = _param("state")
    ui_locales = _param("ui_locales")
    _apply_locale(ui_locales)
    claims = verify_hint(hint, client_id)
    target = _redirect_target(claims, uri, state)
    session = sso.current()
    audience = claims["_client_id"] if claims else None

    if request.method == "POST" and request.form.get("confirm") == "1":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            return render_template("error.html", title=_("Phiên làm việc đã hết hạn"),
                                   message=_("Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng "
                                             "tải lại trang và thử lại.")), 400
        _log_out(session, audience)
        return _done(target, session)

    if session is None:
        return _done(target)
    # A valid hint of this very session and no bad redirect URI: the RP asked, log out now.
    if _belongs(claims, session) and (not uri or target):
        _log_out(session, audience)
        return _done(target, session)
    carried = {"id_token_hint": hint, "client_id": client_id,
               "post_logout_redirect_uri": uri, "state": state, "ui_locales": ui_locales}
    return render_template("logout_confirm.html", carried=carried)


def init_app(app) -> None:
    app.register_blueprint(bp)
    outbox.register(app, "backchannel", outbox.Handler(deliver, "backchannel"))
