"""The upstream login an SSO session came from ("Đăng nhập bằng VNeID", issue 16 item 5), for
the two ways a logout crosses the border:

- ours → theirs: logging out at the IdP (protocol/logout.py) ends the local session and then
  sends the browser to the upstream's logout (RP-initiated where the upstream supports it:
  OIDC's end_session_endpoint with id_token_hint; VNeID's third-party logout with
  `token_id`), which comes back to /signin/upstream/<name>/logged-out and on to where the
  logout was going (`logout_redirect`, `after_logout`);
- theirs → ours: an upstream back-channel logout names its session (`sid`) or its user
  (`sub`); `sessions_named` finds the local sessions to end (flows/federated/logout.py).

What is kept, per local session, in the ephemeral store for the session's lifetime, never in
a cookie: the provider, the upstream's `sub` and `sid`, its ID token (the logout hint) and
access token (VNeID's logout takes it as `token_id`). An index from the upstream's sid to
ours serves the back-channel logout.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from idp.platform import upstream
from idp.platform.crypto import random_token
from idp.platform.models import SsoSession

LOGOUT_STATE_TTL = 600  # the citizen may take a while at the upstream's logout page


def _store() -> Any:
    return current_app.extensions["idp.store"]


def _ttl() -> int:
    return int(current_app.config["IDP"]["session_ttl"])


def _key(sid: str) -> str:
    return "upstream-login:" + sid


def _sid_key(provider: str, upstream_sid: str) -> str:
    return f"upstream-sid:{provider}:{upstream_sid}"


def remember(row: SsoSession, info: dict[str, Any]) -> None:
    """The session `row` was started by the upstream login `info` ({provider, sub, sid,
    id_token, access_token}: flows/federated/upstream_step.upstream_login)."""
    _store().put(_key(row.sid), dict(info), _ttl())
    if info.get("sid"):
        _store().put(_sid_key(str(info["provider"]), str(info["sid"])), {"sid": row.sid},
                     _ttl())


def of(sid: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = _store().get(_key(sid))
    return found


def sessions_named(provider: str, upstream_sid: str | None) -> list[str]:
    """Our session ids that the upstream session `upstream_sid` started (at most one)."""
    if not upstream_sid:
        return []
    found = _store().get(_sid_key(provider, upstream_sid))
    return [str(found["sid"])] if found and found.get("sid") else []


def logout_redirect(sid: str, target: str | None) -> str | None:
    """Where to send the browser after the local session `sid` ended: the upstream's logout
    when that session came from an upstream that has one (then on to `target`, through
    `after_logout`), else None (the caller goes to `target` itself)."""
    info = _store().take(_key(sid))
    if not info:
        return None
    name = str(info.get("provider", ""))
    if info.get("sid"):
        _store().delete(_sid_key(name, str(info["sid"])))
    provider = upstream.provider(name)
    if provider is None:
        return None
    state = random_token(24)
    back = url_for("upstream_signin.logged_out", name=name, _external=False)
    back = str(current_app.config["IDP"]["issuer"]).rstrip("/") + back
    url = provider.logout_url(id_token=info.get("id_token"),
                              access_token=info.get("access_token"),
                              post_logout_redirect_uri=back, state=state)
    if url is None:
        return None
    _store().put("upstream-logout:" + state, {"target": target or ""}, LOGOUT_STATE_TTL)
    return str(url)


def after_logout(state: str) -> tuple[bool, str]:
    """The upstream sent the browser back (`state` once): (known, where it was going)."""
    if not state or len(state) > 128:
        return False, ""
    found = _store().take("upstream-logout:" + state)
    if found is None:
        return False, ""
    return True, str(found.get("target") or "")
