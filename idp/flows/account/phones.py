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

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from idp.accounts import otp
from idp.accounts.factors import phone_rows
from idp.accounts.validation import ValidationError, normalize_phone
from idp.flows.account import bp, flash_message, notify
from idp.flows.account.access import current, fresh_required, loa2_required
from idp.methods import registry
from idp.methods.refusal import Refusal, code_required, refused, wrong_code
from idp.platform import audit
from idp.platform.audit import mask_phone
from idp.platform.db import db
from idp.platform.messages import is_known, msg
from idp.platform.models import AuthMethod, Citizen

MAX_PHONES = 3
ENROL_TTL = 600  # the new phone's code must be entered within 10 minutes (NIST: ≤ 10 min)


def _store():
    return current_app.extensions["idp.store"]


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
    if is_known(exc.code):  # the validation catalogue's message, once it has one
        return msg(exc.code)
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
        flash_message(msg("account.phones_full_remove_first", num=MAX_PHONES), "error")
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
                errors["phone"] = msg("account.phone_exists")
            else:
                return _send_first_code(account, phone, replace, value)
    return _phone_page(errors, value, replace, 400 if errors else 200)


def _phone_page(errors: dict, value: str, replace: AuthMethod | None, status: int,
                headers: dict | None = None):
    action = url_for("account.phone_new", replace=replace.id if replace else None)
    return render_template("account_phone.html", action=action, errors=errors, value=value,
                           replace=replace, mask_phone=mask_phone), status, headers or {}


def _headers(refusal: Refusal) -> dict:
    """Retry-After when waiting helps (with the 429 of idp/methods/refusal.py)."""
    return {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else {}


def _send(account, phone: str) -> Refusal | None:
    """A code to the new number (purpose "phone"); the refusal when none was sent."""
    try:
        otp.send(_otp_id(account), "phone", phone, account.citizen.id)
    except otp.OtpRefused as exc:
        return refused(exc)
    return None


def _send_first_code(account, phone: str, replace: AuthMethod | None, typed: str):
    refusal = _send(account, phone)
    if refusal is not None:
        return _phone_page(refusal.errors(), typed, replace, refusal.status, _headers(refusal))
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
        flash_message(msg("account.phone_request_expired"), "error")
        return redirect(url_for("account.index"), 303)
    errors, status, headers = {}, 200, {}
    if request.method == "POST":
        action = request.form.get("action")
        if action == "cancel":
            _store().delete(_state_key(account))
            return redirect(url_for("account.index"), 303)
        if action == "resend":
            refusal = _send(account, state["phone"])
            if refusal is None:
                return redirect(url_for("account.phone_verify"), 303)
            errors, status, headers = refusal.errors(), refusal.status, _headers(refusal)
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
    try:
        if not code:
            raise code_required()
        try:
            ok = otp.verify(_otp_id(account), "phone", code, account.citizen)
        except otp.OtpRefused as exc:
            raise refused(exc) from None
        if not ok:
            raise wrong_code()
    except Refusal as refusal:
        return refusal.errors(), refusal.status
    _store().delete(_state_key(account))
    return _bind(account.citizen, state["phone"], state.get("replace"))


def _bind(citizen: Citizen, phone: str, replace_id: int | None):
    rows = phone_rows(citizen)
    if any(r.phone == phone for r in rows):
        flash_message(msg("account.phone_exists"), "info")
        return redirect(url_for("account.index"), 303)
    old_default = citizen.phone
    replaced = _row(citizen, replace_id) if replace_id else None
    if replaced is None and len(rows) >= MAX_PHONES:
        flash_message(msg("account.phones_full", num=MAX_PHONES), "error")
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
        flash_message(msg("account.phone_changed"))
    else:
        audit.record("factor.phone_added", citizen_id=citizen.id, phone=mask_phone(phone))
        flash_message(msg("account.phone_added"))
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
    flash_message(msg("account.phone_default_set"))
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
        flash_message(msg("account.phone_default_kept"), "error")
        return redirect(url_for("account.index"), 303)
    if request.method == "GET":
        return render_template(
            "account_confirm.html", title=msg("account.phone_remove_title"),
            message=msg("account.phone_remove_text", phone=mask_phone(target.phone)),
            button=msg("account.phone_remove_button"))
    phone, target_id = target.phone, target.id
    notices = notify.reserve(citizen.id, [citizen.phone, phone], "phone_removed")
    if not registry.by_id("sms").remove(citizen, target_id):  # staged; committed below
        return redirect(url_for("account.index"), 303)
    notify.stage(citizen.id, notices, "phone_removed")
    db.session.commit()
    audit.record("factor.phone_removed", citizen_id=citizen.id, phone=mask_phone(phone))
    flash_message(msg("account.phone_removed"))
    return redirect(url_for("account.index"), 303)
