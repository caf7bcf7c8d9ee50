"""Logout across the border with an upstream provider (issue 16 item 5;
interaction/upstream_session.py keeps what it needs):

    GET  /signin/upstream/<name>/logged-out          the upstream's logout sends the browser
                                                     back here (`state` once): on to where
                                                     the logout was going (the portal's
                                                     post-logout URI), else "Bạn đã đăng xuất"
    POST /signin/upstream/<name>/backchannel-logout  OIDC Back-Channel Logout 1.0 from the
                                                     upstream: the logout token is verified
                                                     (platform/upstream), its `jti` taken once,
                                                     and the local sessions it names end —
                                                     with our own back-channel notices to the
                                                     portals (accounts/signout.py)

A logout token naming a `sid` ends the session that upstream session started; one naming
only a `sub` ends every session of the linked account that a login through that provider
started. Answers per the spec: 200 done (also when nothing was left to end), 400 with
`invalid_request` for a token that does not verify or was already used, 501 for a provider
this IdP does not know. Exempt from CSRF: a server-to-server POST.
"""
from __future__ import annotations

import json
from typing import Any

from flask import current_app, jsonify, redirect, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from idp.accounts import federation
from idp.accounts.signout import end_sessions
from idp.flows.federated.upstream_step import bp
from idp.interaction import upstream_session
from idp.platform import audit, upstream
from idp.platform.db import db, now
from idp.platform.models import SsoSession
from idp.platform.upstream import UpstreamError
from idp.platform.web import csrf

JTI_TTL = 600  # longer than any logout token's life with the allowed clock skew
_MAX_TOKEN = 16384


@bp.get("/signin/upstream/<name>/logged-out")
def logged_out(name: str) -> Any:
    known, target = upstream_session.after_logout(request.args.get("state", ""))
    if known and target:
        return redirect(target, 302)
    return render_template("info.html", title=_("Bạn đã đăng xuất"),
                           message=_("Bạn đã đăng xuất khỏi hệ thống. Để bảo vệ tài khoản, "
                                     "hãy đóng trình duyệt nếu bạn dùng máy tính công cộng."))


def _bad(description: str) -> Any:
    response = jsonify({"error": "invalid_request", "error_description": description})
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/signin/upstream/<name>/backchannel-logout")
@csrf.exempt  # a server-to-server POST, authenticated by the signed logout token
def backchannel_logout(name: str) -> Any:
    provider = upstream.provider(name)
    if provider is None:
        return jsonify({"error": "unknown provider"}), 501
    token = request.form.get("logout_token", "")
    if not token or len(token) > _MAX_TOKEN:
        return _bad("logout_token is missing")
    try:
        asked = provider.verify_logout_token(token)
    except UpstreamError as exc:
        audit.record("federation.logout_refused", provider=name, reason=exc.reason)
        return _bad("the logout token was not accepted")
    store = current_app.extensions["idp.store"]
    if not store.add(f"upstream-jti:{name}:{asked.jti}", {"t": now()}, JTI_TTL):
        return _bad("the logout token was already used")
    sids = upstream_session.sessions_named(name, asked.sid)
    if not asked.sid and asked.sub:
        sids = _sessions_of(name, asked.sub)
    result = end_sessions(sids, "upstream_logout")
    audit.record("federation.logout", provider=name, by="sid" if asked.sid else "sub",
                 **result)
    response = current_app.response_class(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _sessions_of(provider: str, sub: str) -> list[str]:
    """The live sessions of the account linked to (provider, sub) that a login through that
    provider started (their amr says `fed`)."""
    row = federation.linked(provider, sub)
    if row is None:
        return []
    t = now()
    found = db.session.execute(select(SsoSession.sid, SsoSession.amr_json).where(
        SsoSession.citizen_id == row.citizen_id, SsoSession.revoked_at.is_(None),
        SsoSession.expires_at > t)).all()
    return [sid for sid, amr in found if "fed" in json.loads(amr or "[]")]

