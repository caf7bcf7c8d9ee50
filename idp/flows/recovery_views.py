"""Blueprint `recovery`: the ways into account recovery.

- GET /recover: forgot password on its own (no portal): an internal `recover` flow that ends
  on GET /recover/done.
- GET /recover/from/<flow_id>: "Quên mật khẩu?" on the login page: the login flow hands its
  pending authorization to a `recover` flow, which resumes it when done (login again).
- GET/POST /lost-phone: "Mất số điện thoại nhận OTP". Never an online bypass of the second
  factor: it explains the recovery codes (used at the second-factor step) and records a
  request for the assisted procedure — identity proofing at a service counter, then an
  operator runs `idp recovery approve`. The answer is the same whether or not the ID number
  has an account (a request is recorded only when it has); the per-ID-number limit counts
  the number string, so it says nothing either.
"""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.platform import captcha
from idp.accounts import recovery
from idp.platform.crypto import sha256_hex
from idp.platform.db import db
from idp.flows import base, start_internal
from idp.flows.login import ID_NUMBER
from idp.flows.views import hand_over_login
from idp.platform.models import Citizen
from idp.accounts.validation import ValidationError, normalize_phone

bp = Blueprint("recovery", __name__)

REQUESTS_PER_DAY = 3  # lost-phone requests per ID-number string (each may text the owner)
DAY = 24 * 3600


def _store():
    return current_app.extensions["idp.store"]


# --------------------------------------------------------------------------- forgot password

@bp.get("/recover")
def forgot():
    return redirect(start_internal("recover", return_to=url_for("recovery.done")), 303)


@bp.get("/recover/done")
def done():
    return render_template(
        "info.html", title=_("Đặt lại mật khẩu thành công"),
        message=_("Mật khẩu của bạn đã được đặt lại và mọi phiên đăng nhập cũ đã được đăng "
                  "xuất. Hãy quay lại cổng dịch vụ công và đăng nhập bằng mật khẩu mới."))


@bp.get("/recover/from/<flow_id>")
def from_login(flow_id: str):
    """Hand the login flow's pending authorization to a new `recover` flow."""
    return hand_over_login(flow_id, "recover")


# --------------------------------------------------------------------------- lost phone

def _back_url() -> str | None:
    """Back to the second-factor step when the page was opened from it (?flow=<id>)."""
    try:
        flow = base.load(request.args.get("flow", ""))
    except base.FlowGone:
        return None
    return flow.url if flow.kind in ("login", "stepup") else None


def _lost_phone_page(errors=None, values=None, status=200):
    values = values or {}
    return render_template(
        "lost_phone.html", action=url_for("recovery.lost_phone"), errors=errors or {},
        id_number=values.get("id_number", ""), phone=values.get("phone", ""),
        captcha_id=captcha.issue(_store(), current_app.config["IDP"]["captcha_ttl"],
                                 purpose="lost_phone"),
        refresh_captcha_url=url_for("recovery.lost_phone"), back_url=_back_url(),
        forgot_url=url_for("recovery.forgot")), status


@bp.route("/lost-phone", methods=["GET", "POST"])
def lost_phone():
    if request.method == "GET":
        return _lost_phone_page()
    form = request.form
    id_number = (form.get("id_number") or "").strip()
    keep = {"id_number": id_number[:20], "phone": (form.get("phone") or "").strip()[:30]}
    if not captcha.verify(_store(), form.get("captcha_id") or "", form.get("captcha") or "",
                          purpose="lost_phone"):
        return _lost_phone_page({"captcha": _("Mã xác thực không đúng hoặc đã hết hạn. Vui "
                                              "lòng nhập mã mới.")}, keep, 400)
    errors = {}
    if not ID_NUMBER.fullmatch(id_number):
        errors["id_number"] = _("Vui lòng nhập số CMND (9 chữ số) hoặc CCCD (12 chữ số).")
    try:
        new_phone = normalize_phone(form.get("phone") or "")
    except ValidationError:
        errors["phone"] = _("Vui lòng nhập số điện thoại di động Việt Nam mới, ví dụ "
                            "0941234947.")
    if errors:
        return _lost_phone_page(errors, keep, 400)
    key = "lostphone:" + sha256_hex(id_number)
    if _store().incr(key, DAY) > REQUESTS_PER_DAY:
        _store().incr(key, DAY, -1)
        return _lost_phone_page({"form": _("Đã có quá nhiều yêu cầu cho số định danh này "
                                           "trong hôm nay. Vui lòng thử lại vào ngày mai.")},
                                keep, 429)
    citizen = db.session.query(Citizen).filter_by(id_number=id_number,
                                                  status="active").one_or_none()
    if citizen is not None:
        recovery.record_request(citizen, new_phone)
    else:
        recovery.record_unknown_request(id_number)  # the same work, nothing recorded
    return redirect(url_for("recovery.lost_phone_sent"), 303)


@bp.get("/lost-phone/sent")
def lost_phone_sent():
    return render_template("lost_phone_sent.html")
