"""Blueprint "auth": how a citizen gets in and out of a portal through the IdP. Login and
registration redirects (acr_values, prompt=create), the callback that turns a verified code
exchange into a local session, step-up when a page needs a higher level, and RP-initiated
logout. The protocol steps themselves are in portals.oidc."""
from __future__ import annotations

import logging
import secrets
from typing import Any

from authlib.common.errors import AuthlibBaseError
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from joserfc.errors import JoseError

from portals import citizen_session, oidc
from portals.errors import error_page
from portals.humanize import ACR_LABELS
from portals.security import check_csrf, safe_next
from portals.state import portal

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Đăng nhập không thành công"
IDP_UNREACHABLE = "Không kết nối được hệ thống xác thực"
CALLBACK_ERRORS = {
    "access_denied": "Bạn đã hủy đăng nhập hoặc yêu cầu bị từ chối.",
    "login_required": "Bạn cần đăng nhập lại.",
}


def start_login(acr: str, next_url: str, **extra: Any) -> ResponseReturnValue:
    """Redirect to the IdP asking for level `acr`; the callback returns to `next_url`."""
    state = portal()
    session["login"] = {"acr": acr, "next": safe_next(next_url)}
    params = {"acr_values": acr}
    params.update(extra)
    try:
        response: ResponseReturnValue = state.idp.authorize_redirect(state.redirect_uri,
                                                                     **params)
        return response
    except Exception as exc:  # noqa: BLE001 - discovery unreachable
        log.warning("cannot reach the identity provider: %r", exc)
        return error_page(IDP_UNREACHABLE, "Hệ thống xác thực tạm thời không phản hồi. "
                                           "Vui lòng thử lại sau ít phút.", 503)


def login_required(acr: str | None = None) -> ResponseReturnValue | None:
    """None when the session is good enough, else a response that (re)authorizes."""
    if g.record is None:
        return start_login(acr or portal().config["login_acr"], request.full_path.rstrip("?"))
    if acr and not oidc.acr_at_least(g.record.acr, acr):
        # Step-up: the IdP asks only the missing factor for its existing session.
        return start_login(acr, request.full_path.rstrip("?"))
    return None


@bp.get("/dang-nhap")
def login_methods() -> ResponseReturnValue:
    """The choice of login method (only the IdP's today), as on the real portals."""
    if g.record is not None:
        return redirect(url_for("pages.citizen"))
    return render_template("login_methods.html", next=safe_next(request.args.get("next")))


@bp.get("/auth/login")
def login() -> ResponseReturnValue:
    if g.record is not None:
        return redirect(url_for("pages.citizen"))
    return start_login(portal().config["login_acr"],
                       request.args.get("next") or url_for("pages.citizen"))


@bp.get("/dang-ky")
def register() -> ResponseReturnValue:
    """Registration happens at the IdP (prompt=create); the citizen comes back logged in."""
    if g.record is not None:
        return redirect(url_for("pages.citizen"))
    return start_login(portal().config["login_acr"], url_for("pages.citizen"), prompt="create")


@bp.get("/auth/callback")
def callback() -> ResponseReturnValue:
    state = portal()
    cfg = state.config
    pending = session.pop("login", None) or {"acr": cfg["login_acr"], "next": "/"}
    if request.args.get("error"):
        message = CALLBACK_ERRORS.get(request.args["error"], "Đăng nhập không thành công.")
        return error_page(LOGIN_FAILED, message, 400, retry=True)
    # RFC 9207: the IdP names itself in the response; refuse a mix-up.
    iss = request.args.get("iss")
    if iss is not None and iss != cfg["issuer"]:
        return error_page(LOGIN_FAILED, "Phản hồi không đến từ hệ thống xác thực mong đợi.",
                          400, retry=True)
    try:
        identity = oidc.exchange_code(state.idp, cfg)
    except (AuthlibBaseError, JoseError, ValueError) as exc:
        log.warning("login failed: %s", exc)
        return error_page(LOGIN_FAILED, "Không xác minh được phản hồi của hệ thống xác thực. "
                                        "Vui lòng đăng nhập lại.", 400, retry=True)
    except Exception as exc:  # noqa: BLE001 - IdP unreachable during the exchange
        log.warning("token exchange failed: %r", exc)
        return error_page(IDP_UNREACHABLE, "Vui lòng thử lại sau ít phút.", 503, retry=True)
    if not oidc.acr_at_least(identity.claims.get("acr"), pending["acr"]):
        return error_page("Chưa đủ mức xác thực",
                          f"Chức năng này cần xác thực "
                          f"{ACR_LABELS.get(pending['acr'], pending['acr'])}.", 403, retry=True)
    # Session rotation: a new record and a new cookie content at every login/step-up.
    if g.record is not None:
        state.store.revoke(g.record.id)
    record = state.store.create(cfg["issuer"], identity.claims, identity.userinfo,
                                identity.id_token)
    citizen_session.begin(record)
    return redirect(safe_next(pending.get("next")))


@bp.post("/dang-xuat")
def logout() -> ResponseReturnValue:
    """Ends the portal session, then the IdP's (RP-initiated logout) when it offers one; the
    `state` sent along lets the home page confirm the logout only on the genuine return."""
    check_csrf()
    state = portal()
    record = g.record
    citizen_session.clear()
    if record is None:
        return redirect(url_for("pages.home"))
    state.store.revoke(record.id)
    logout_state = secrets.token_urlsafe(16)
    url = oidc.logout_url(state.idp, state.config, record.id_token, logout_state)
    if url is None:
        flash("Bạn đã đăng xuất khỏi cổng.", "success")
        return redirect(url_for("pages.home"))
    session["logout_state"] = logout_state
    return redirect(url)
