"""Phones that receive SMS codes: add (code to the *new* number, notification to the default
one), change (add + make default + remove the old one, in one guided action), make default,
remove. Binding a phone is binding a new authenticator (NIST 800-63B-4 §3.1.3.3 → §4.1.2):
it needs a fresh full authentication (access.fresh_required) and proof of possession.

Invariants: exactly one phone is the default and it is `Citizen.phone` (the contact number
released as phone_number); the default is never removed (another must become default
first), so an account always keeps a second factor. Accounts created before this page have
no `AuthMethod` rows for their phone (factors.phones falls back to Citizen.phone): the row is
created the first time the account page lists the phones.

The phone awaiting its code lives in the ephemeral store under `acct-phone:<sid>` (never in
the page); its OTP challenge under the id `acct-phone-<sid>`, so the resend cooldown and the
per-challenge send limit hold across cancel-and-restart within the session.
"""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from idp.platform import audit
from idp.accounts import factors, otp
from idp.platform.audit import mask_phone
from idp.platform.db import db
from idp.flows.second_factor import refusal_message
from idp.platform.models import AuthMethod, Citizen
from idp.accounts.validation import ValidationError, normalize_phone
from idp.flows.account import bp
from idp.flows.account.access import current, fresh_required, loa2_required
from idp.flows.account import notify

MAX_PHONES = 3
ENROL_TTL = 600  # the new phone's code must be entered within 10 minutes (NIST: ≤ 10 min)


def _store():
    return current_app.extensions["idp.store"]


def _rows(citizen: Citizen) -> list[AuthMethod]:
    return [m for m in factors.methods(citizen) if m.kind == "sms"]


def phone_rows(citizen: Citizen) -> list[AuthMethod]:
    """The account's phones, default first; creates the row of the registered number when
    the account has none (once: a short mutex keeps two parallel requests from both doing
    it)."""
    rows = _rows(citizen)
    if rows or not citizen.phone:
        return rows
    if _store().add(f"acct-phones-init:{citizen.id}", {}, 30):
        rows = _rows(citizen)
        if not rows:
            db.session.add(AuthMethod(citizen_id=citizen.id, kind="sms", phone=citizen.phone,
                                      is_default=True))
            db.session.commit()
            rows = _rows(citizen)
    return rows


def _row(citizen: Citizen, method_id: int) -> AuthMethod | None:
    return db.session.scalar(select(AuthMethod).where(
        AuthMethod.id == method_id, AuthMethod.citizen_id == citizen.id,
        AuthMethod.kind == "sms"))


def _state_key(account) -> str:
    return "acct-phone:" + account.session.sid


def _otp_id(account) -> str:
    return "acct-phone-" + account.session.sid


PHONE_ERRORS = {
    "phone.required": lambda: _("Vui lòng nhập số điện thoại di động."),
    "phone.foreign": lambda: _("Chỉ chấp nhận số điện thoại di động của nhà mạng Việt Nam."),
    "phone.landline": lambda: _("Số máy cố định không nhận được mã OTP; vui lòng nhập số di "
                                "động."),
}


def _phone_error(exc: ValidationError) -> str:
    message = PHONE_ERRORS.get(exc.code)
    return message() if message else _("Số điện thoại di động không hợp lệ (cần 10 chữ số, "
                                       "đầu số của nhà mạng Việt Nam, ví dụ 0941234947).")


# --------------------------------------------------------------------------- add / change

@bp.route("/phones/new", methods=["GET", "POST"])
@fresh_required()
def phone_new():
    account = current()
    citizen = account.citizen
    rows = phone_rows(citizen)
    replace = _row(citizen, request.args.get("replace", type=int) or 0)
    if replace is None and len(rows) >= MAX_PHONES:
        flash(_("Tài khoản đã có tối đa %(num)d số điện thoại. Vui lòng xóa bớt một số trước "
                "khi thêm số mới.", num=MAX_PHONES), "error")
        return redirect(url_for("account.index"), 303)
    errors, value = {}, ""
    if request.method == "POST":
        value = (request.form.get("phone") or "").strip()[:30]
        try:
            phone = normalize_phone(value)
        except ValidationError as exc:
            errors["phone"] = _phone_error(exc)
        else:
            if any(r.phone == phone for r in rows):
                errors["phone"] = _("Số điện thoại này đã có trong tài khoản.")
            else:
                return _send_first_code(account, phone, replace, value)
    return _phone_page(errors, value, replace, 400 if errors else 200)


def _phone_page(errors: dict, value: str, replace: AuthMethod | None, status: int,
                headers: dict | None = None):
    action = url_for("account.phone_new", replace=replace.id if replace else None)
    return render_template("account_phone.html", action=action, errors=errors, value=value,
                           replace=replace, mask_phone=mask_phone), status, headers or {}


def _refused(exc: otp.OtpRefused) -> tuple[int, dict]:
    """Status and headers for a refused send (429 + Retry-After when waiting helps)."""
    if exc.retry_after:
        return 429, {"Retry-After": str(exc.retry_after)}
    return (503 if exc.reason == "sms_failed" else 400), {}


def _send_first_code(account, phone: str, replace: AuthMethod | None, typed: str):
    try:
        otp.send(_otp_id(account), "phone", phone, account.citizen.id)
    except otp.OtpRefused as exc:
        return _phone_page({"form": refusal_message(exc)}, typed, replace, *_refused(exc))
    _store().put(_state_key(account), {"phone": phone, "replace": replace.id if replace else None},
                 ENROL_TTL)
    audit.record("factor.phone_code_sent", citizen_id=account.citizen.id,
                 phone=mask_phone(phone), change=replace is not None)
    return redirect(url_for("account.phone_verify"), 303)


@bp.route("/phones/verify", methods=["GET", "POST"])
@loa2_required(back="account.index")
def phone_verify():
    """The code sent to the new number. Needs the enrolment started (under a fresh
    authentication) by this session; the confirmation itself proves possession."""
    account = current()
    state = _store().get(_state_key(account))
    if state is None:
        flash(_("Yêu cầu thêm số điện thoại đã hết hạn. Vui lòng thực hiện lại."), "error")
        return redirect(url_for("account.index"), 303)
    errors, status, headers = {}, 200, {}
    if request.method == "POST":
        action = request.form.get("action")
        if action == "cancel":
            _store().delete(_state_key(account))
            return redirect(url_for("account.index"), 303)
        if action == "resend":
            try:
                otp.send(_otp_id(account), "phone", state["phone"], account.citizen.id)
            except otp.OtpRefused as exc:
                errors = {"form": refusal_message(exc)}
                status, headers = _refused(exc)
            else:
                return redirect(url_for("account.phone_verify"), 303)
        else:
            outcome = _verify(account, state)
            if not isinstance(outcome, tuple):
                return outcome
            errors, status = outcome
    return render_template("account_phone_code.html", errors=errors,
                           masked_phone=mask_phone(state["phone"]),
                           resend_in=otp.seconds_until_resend(_otp_id(account)),
                           changing=bool(state.get("replace"))), status, headers


def _verify(account, state):
    """(errors, status) to show the page again, or the response after binding."""
    code = (request.form.get("otp") or "").strip()
    if not code:
        return {"otp": _("Vui lòng nhập mã xác thực.")}, 400
    try:
        ok = otp.verify(_otp_id(account), "phone", code, account.citizen)
    except otp.OtpRefused as exc:
        return {"form": refusal_message(exc)}, 429 if exc.reason == "locked" else 400
    if not ok:
        return {"otp": _("Mã xác thực không đúng.")}, 400
    _store().delete(_state_key(account))
    return _bind(account.citizen, state["phone"], state.get("replace"))


def _bind(citizen: Citizen, phone: str, replace_id: int | None):
    rows = phone_rows(citizen)
    if any(r.phone == phone for r in rows):
        flash(_("Số điện thoại này đã có trong tài khoản."), "info")
        return redirect(url_for("account.index"), 303)
    old_default = citizen.phone
    replaced = _row(citizen, replace_id) if replace_id else None
    if replaced is None and len(rows) >= MAX_PHONES:
        flash(_("Tài khoản đã có tối đa %(num)d số điện thoại.", num=MAX_PHONES), "error")
        return redirect(url_for("account.index"), 303)
    if replaced is not None:
        kind, told, replaced_phone = "phone_changed", [replaced.phone, old_default], replaced.phone
    else:
        kind, told, replaced_phone = "phone_added", [old_default], None
    notices = notify.reserve(citizen.id, told, kind)  # before the change: see notify.py
    replaced = _row(citizen, replace_id) if replace_id else None
    new = AuthMethod(citizen_id=citizen.id, kind="sms", phone=phone, is_default=False)
    db.session.add(new)
    if replaced is not None:
        if replaced.is_default:
            new.is_default = True
            citizen.phone = phone
        db.session.delete(replaced)
    notify.stage(citizen.id, notices, kind)
    db.session.commit()
    if replaced_phone is not None:
        audit.record("factor.phone_changed", citizen_id=citizen.id,
                     old=mask_phone(replaced_phone), new=mask_phone(phone),
                     default=new.is_default)
        flash(_("Đã đổi số điện thoại nhận mã xác thực."), "info")
    else:
        audit.record("factor.phone_added", citizen_id=citizen.id, phone=mask_phone(phone))
        flash(_("Đã thêm số điện thoại mới."), "info")
    return redirect(url_for("account.index"), 303)


# --------------------------------------------------------------------------- default / remove

@bp.post("/phones/<int:method_id>/default")
@fresh_required(back="account.index")
def phone_default(method_id: int):
    citizen = current().citizen
    rows = phone_rows(citizen)
    target = next((r for r in rows if r.id == method_id), None)
    if target is None:
        return redirect(url_for("account.index"), 303)
    if not target.is_default:
        previous, target_id = citizen.phone, target.id
        notices = notify.reserve(citizen.id, [previous], "default_changed")
        rows = phone_rows(citizen)  # reloaded: reserve may have committed the session
        target = next(r for r in rows if r.id == target_id)
        for row in rows:
            row.is_default = row.id == target.id
        citizen.phone = target.phone
        notify.stage(citizen.id, notices, "default_changed")
        db.session.commit()
        audit.record("factor.phone_default", citizen_id=citizen.id,
                     phone=mask_phone(target.phone), previous=mask_phone(previous))
    flash(_("Đã đặt số điện thoại mặc định."), "info")
    return redirect(url_for("account.index"), 303)


@bp.route("/phones/<int:method_id>/remove", methods=["GET", "POST"])
@fresh_required()
def phone_remove(method_id: int):
    citizen = current().citizen
    rows = phone_rows(citizen)
    target = next((r for r in rows if r.id == method_id), None)
    if target is None:
        return redirect(url_for("account.index"), 303)
    if target.is_default or len(rows) < 2:
        flash(_("Không thể xóa số điện thoại mặc định. Hãy đặt một số khác làm mặc định trước, "
                "hoặc dùng “Đổi số”."), "error")
        return redirect(url_for("account.index"), 303)
    if request.method == "GET":
        return render_template(
            "account_confirm.html", title=_("Xóa số điện thoại"),
            message=_("Số %(phone)s sẽ không còn nhận được mã xác thực của tài khoản.",
                      phone=mask_phone(target.phone)),
            button=_("Xóa số điện thoại"))
    phone, target_id = target.phone, target.id
    notices = notify.reserve(citizen.id, [citizen.phone, phone], "phone_removed")
    target = db.session.get(AuthMethod, target_id)
    db.session.delete(target)
    notify.stage(citizen.id, notices, "phone_removed")
    db.session.commit()
    audit.record("factor.phone_removed", citizen_id=citizen.id, phone=mask_phone(phone))
    flash(_("Đã xóa số điện thoại."), "info")
    return redirect(url_for("account.index"), 303)
