"""Blueprint `register`: GET /register/from/<flow_id> — "Chưa có tài khoản? Đăng ký" on the
login page hands the login flow's pending authorization to a new `register` flow (as
recovery_views.from_login does for "Quên mật khẩu?"). When the registration finishes the
citizen is logged in and the authorization resumes. An RP can also ask for registration
directly with prompt=create (policy.decide)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect

from .flows import KINDS, base
from .flows.views import conflict_page, gone_page

bp = Blueprint("register", __name__)


@bp.get("/register/from/<flow_id>")
def from_login(flow_id: str):
    try:
        old = base.load(flow_id)
    except base.FlowGone:
        return gone_page()
    if old.kind != "login":
        return gone_page()
    if old.state != "credentials":
        return redirect(old.url, 303)  # the password was right: already has an account
    if not base.finish(old):
        return conflict_page()
    store = current_app.extensions["idp.store"]
    key = "pending:" + old.pending
    pending = store.get(key)
    if pending is None:
        return gone_page()
    store.put(key, pending, current_app.config["IDP"]["flow_ttl"])  # a fresh lifetime
    return redirect(base.create(KINDS["register"], old.pending, old.client_id).url, 303)
