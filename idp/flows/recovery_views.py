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

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from idp.accounts import recovery
from idp.accounts.validation import ValidationError, looks_like_id_number, normalize_phone
from idp.flows import start_internal
from idp.interaction import engine
from idp.interaction.engine import ViewResult, hand_over_login
from idp.platform import captcha
from idp.platform.crypto import sha256_hex
from idp.platform.db import db
from idp.platform.messages import Message, msg
from idp.platform.models import Citizen

bp = Blueprint("recovery", __name__)

REQUESTS_PER_DAY = 3  # lost-phone requests per ID-number string (each may text the owner)
DAY = 24 * 3600


def _store() -> Any:
    return current_app.extensions["idp.store"]


# --------------------------------------------------------------------------- forgot password

@bp.get("/recover")
def forgot() -> ViewResult:
    return redirect(start_internal("recover", return_to=url_for("recovery.done")), 303)


@bp.get("/recover/done")
def done() -> ViewResult:
    return render_template("info.html", title=msg("recovery.done_title"),
                           message=msg("recovery.done"))


@bp.get("/recover/from/<flow_id>")
def from_login(flow_id: str) -> ViewResult:
    """Hand the login flow's pending authorization to a new `recover` flow."""
    return hand_over_login(flow_id, "recover")


# --------------------------------------------------------------------------- lost phone

def _back_url() -> str | None:
    """Back to the second-factor step when the page was opened from it (?flow=<id>)."""
    try:
        flow = engine.load(request.args.get("flow", ""))
    except engine.FlowGone:
        return None
    return flow.url if flow.kind in ("login", "stepup") else None


def _lost_phone_page(errors: dict[str, Message] | None = None,
                     values: dict[str, str] | None = None, status: int = 200) -> ViewResult:
    values = values or {}
    return render_template(
        "lost_phone.html", action=url_for("recovery.lost_phone"), errors=errors or {},
        id_number=values.get("id_number", ""), phone=values.get("phone", ""),
        captcha_id=captcha.issue(_store(), current_app.config["IDP"]["captcha_ttl"],
                                 purpose="lost_phone"),
        refresh_captcha_url=url_for("recovery.lost_phone"), back_url=_back_url(),
        forgot_url=url_for("recovery.forgot")), status


@bp.route("/lost-phone", methods=["GET", "POST"])
def lost_phone() -> ViewResult:
    if request.method == "GET":
        return _lost_phone_page()
    form = request.form
    id_number = (form.get("id_number") or "").strip()
    keep = {"id_number": id_number[:20], "phone": (form.get("phone") or "").strip()[:30]}
    if not captcha.verify(_store(), form.get("captcha_id") or "", form.get("captcha") or "",
                          purpose="lost_phone"):
        return _lost_phone_page({"captcha": msg("captcha.invalid")}, keep, 400)
    errors: dict[str, Message] = {}
    if not looks_like_id_number(id_number):
        errors["id_number"] = msg("login.id_number_format")
    try:
        new_phone = normalize_phone(form.get("phone") or "")
    except ValidationError:
        errors["phone"] = msg("recovery.lost_phone_format")
    if errors:
        return _lost_phone_page(errors, keep, 400)
    key = "lostphone:" + sha256_hex(id_number)
    if _store().incr(key, DAY) > REQUESTS_PER_DAY:
        _store().incr(key, DAY, -1)
        return _lost_phone_page({"form": msg("recovery.lost_phone_too_many")}, keep, 429)
    citizen = db.session.query(Citizen).filter_by(id_number=id_number,
                                                  status="active").one_or_none()
    if citizen is not None:
        recovery.record_request(citizen, new_phone)
    else:
        recovery.record_unknown_request(id_number)  # the same work, nothing recorded
    return redirect(url_for("recovery.lost_phone_sent"), 303)


@bp.get("/lost-phone/sent")
def lost_phone_sent() -> ViewResult:
    return render_template("lost_phone_sent.html", notice=msg("recovery.lost_phone_sent"))
