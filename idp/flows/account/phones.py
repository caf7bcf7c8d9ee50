"""Phones that receive SMS codes: add (code to the *new* number, notification to the default
one), change (add + make default + remove the old one, in one guided action), make default,
remove. Binding a phone is binding a new authenticator (NIST 800-63B-4 §3.1.3.3 → §4.1.2):
it needs a fresh full authentication (access.fresh_required) and proof of possession.

Invariants: exactly one phone is the default and it is `Citizen.phone` (the contact number
released as phone_number); the default is never removed (another must become default
first), so an account always keeps a second factor. Accounts created before this page have
no `AuthMethod` rows for their phone (factors.phones falls back to Citizen.phone): the row is
created the first time the account page lists the phones.

Adding or changing a phone is the flow kind `account_phone` (enrolment.py): number → code →
bound. The phone awaiting its code lives in the flow (server-side, never in the page); its
OTP challenge under the id `acct-phone-<sid>`, so the resend cooldown and the per-challenge
send limit hold across cancel-and-restart within the session.
"""
from __future__ import annotations

from typing import ClassVar

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from idp.accounts import otp
from idp.accounts.factors import phone_rows
from idp.accounts.validation import ValidationError, normalize_phone
from idp.flows.account import bp, enrolment, flash_message, notify
from idp.flows.account.access import Account, current, fresh_required, loa2_required
from idp.flows.account.enrolment import AccountFlow
from idp.flows.claim import claim
from idp.interaction.engine import Fields, Flow, FlowKind, ViewResult, table
from idp.interaction.outcomes import Finish, Goto, Outcome, Stay
from idp.methods import registry
from idp.methods.refusal import Refusal, code_required, refused, wrong_code
from idp.platform import audit
from idp.platform.audit import mask_phone
from idp.platform.db import db
from idp.platform.messages import is_known, msg
from idp.platform.models import AuthMethod, Citizen

MAX_PHONES = 3
KIND = "account_phone"


def _row(citizen: Citizen, method_id: int) -> AuthMethod | None:
    return db.session.scalar(select(AuthMethod).where(
        AuthMethod.id == method_id, AuthMethod.citizen_id == citizen.id,
        AuthMethod.kind == "sms"))


def _otp_id(account: Account) -> str:
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

class PhoneEnrolment(AccountFlow):
    """Add a phone, or change one (`replace`: the AuthMethod it replaces): the number, then
    the code sent to it; "bound" is claimed before the phone is bound."""

    name = KIND
    transitions = table(number="code", code="code bound", bound="")
    endpoints: ClassVar[dict[str, str]] = {"code": "account.phone_verify"}  # number: url()

    def url(self, flow: Flow) -> str:
        if flow.state == "number":
            return url_for("account.phone_new", replace=flow.data.get("replace"))
        return super().url(flow)

    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        account = current()
        if flow.state == "number":
            return render_template(
                "account_phone.html", action=self.url(flow), errors=errors or {},
                value=(values or {}).get("phone", ""), mask_phone=mask_phone,
                replace=_row(account.citizen, flow.data.get("replace") or 0))
        return render_template("account_phone_code.html", errors=errors or {},
                               masked_phone=mask_phone(flow.data["phone"]),
                               resend_in=otp.seconds_until_resend(_otp_id(account)),
                               changing=bool(flow.data.get("replace")))

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if flow.state == "number":
            return _number(flow, form)
        action = form.get("action")
        if action == "cancel":
            return Finish()
        if action == "resend":
            refusal = _send(current(), flow.data["phone"])
            return Goto("code") if refusal is None else Stay.refused(refusal)
        return _confirm(self, flow, form)


def _number(flow: Flow, form: MultiDict[str, str]) -> Outcome:
    """The number typed: a valid mobile number not on the account gets a code."""
    account = current()
    value = (form.get("phone") or "").strip()[:30]
    try:
        phone = normalize_phone(value)
    except ValidationError as exc:
        return Stay({"phone": _phone_error(exc)}, {"phone": value}, 400)
    if any(r.phone == phone for r in phone_rows(account.citizen)):
        return Stay({"phone": msg("account.phone_exists")}, {"phone": value}, 400)
    refusal = _send(account, phone)
    if refusal is not None:
        return Stay.refused(refusal, {"phone": value})
    flow.data["phone"] = phone
    audit.record("factor.phone_code_sent", citizen_id=account.citizen.id,
                 phone=mask_phone(phone), change=bool(flow.data.get("replace")))
    return Goto("code")


def _send(account: Account, phone: str) -> Refusal | None:
    """A code to the new number (purpose "phone"); the refusal when none was sent."""
    try:
        otp.send(_otp_id(account), "phone", phone, account.citizen.id)
    except otp.OtpRefused as exc:
        return refused(exc)
    return None


def _confirm(kind: FlowKind, flow: Flow, form: MultiDict[str, str]) -> Outcome:
    """The code sent to the new number: it proves possession; then the phone is bound."""
    account = current()
    code = (form.get("otp") or "").strip()
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
        return Stay.refused(refusal)
    claim(kind, flow, "bound")
    _bind(account.citizen, flow.data["phone"], flow.data.get("replace"))
    return Finish()


@bp.route("/phones/new", methods=["GET", "POST"])
@fresh_required()
def phone_new() -> ViewResult:
    """Start (GET) or submit (POST) the number step of this session's phone enrolment."""
    account = current()
    replace = _row(account.citizen, request.args.get("replace", type=int) or 0)
    if replace is None and len(phone_rows(account.citizen)) >= MAX_PHONES:
        flash_message(msg("account.phones_full_remove_first", num=MAX_PHONES), "error")
        return redirect(url_for("account.index"), 303)
    replace_id = replace.id if replace else None
    flow = enrolment.find(KIND, account, "number") if request.method == "POST" else None
    if flow is None or flow.data.get("replace") != replace_id:
        flow = enrolment.start(KIND, account, {"replace": replace_id})
    return enrolment.answer(flow, request.form if request.method == "POST" else None)


@bp.route("/phones/verify", methods=["GET", "POST"])
@loa2_required(back="account.index")
def phone_verify() -> ViewResult:
    """The code sent to the new number. Needs the enrolment started (under a fresh
    authentication) by this session; the confirmation itself proves possession."""
    flow = enrolment.find(KIND, current(), "code")
    if flow is None:
        flash_message(msg("account.phone_request_expired"), "error")
        return redirect(url_for("account.index"), 303)
    return enrolment.answer(flow, request.form if request.method == "POST" else None)


def _bind(citizen: Citizen, phone: str, replace_id: int | None) -> None:
    """Bind the proven phone (replacing `replace_id`), its notices in the same transaction;
    the account page says what happened."""
    rows = phone_rows(citizen)
    if any(r.phone == phone for r in rows):
        flash_message(msg("account.phone_exists"), "info")
        return
    old_default = citizen.phone
    replaced = _row(citizen, replace_id) if replace_id else None
    if replaced is None and len(rows) >= MAX_PHONES:
        flash_message(msg("account.phones_full", num=MAX_PHONES), "error")
        return
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


# --------------------------------------------------------------------------- default / remove

@bp.post("/phones/<int:method_id>/default")
@fresh_required(back="account.index")
def phone_default(method_id: int) -> ViewResult:
    citizen = current().citizen
    chosen = _row(citizen, method_id)
    if chosen is None:
        return redirect(url_for("account.index"), 303)
    if not chosen.is_default:
        previous = citizen.phone
        notices = notify.reserve(citizen.id, [previous], "default_changed")
        for row in phone_rows(citizen):  # reloaded: reserve may have committed the session
            row.is_default = row.id == method_id
            if row.is_default:
                citizen.phone = row.phone
        notify.stage(citizen.id, notices, "default_changed")
        db.session.commit()
        audit.record("factor.phone_default", citizen_id=citizen.id,
                     phone=mask_phone(citizen.phone), previous=mask_phone(previous))
    flash_message(msg("account.phone_default_set"))
    return redirect(url_for("account.index"), 303)


@bp.route("/phones/<int:method_id>/remove", methods=["GET", "POST"])
@fresh_required()
def phone_remove(method_id: int) -> ViewResult:
    citizen = current().citizen
    target = _row(citizen, method_id)
    if target is None:
        return redirect(url_for("account.index"), 303)
    if target.is_default or len(phone_rows(citizen)) < 2:
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
