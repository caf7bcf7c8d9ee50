"""Citizen registration by mobile subscription (seed §1, issue 5), as an authorization step:
started from the login page ("Chưa có tài khoản? Đăng ký", register_views.from_login) or by an
RP with `prompt=create` (policy.decide); when it finishes the citizen is logged in at LoA2 and
the pending authorization resumes, so the RP gets its code.

    stateDiagram-v2
      [*] --> choose
      choose --> form: Công dân + Thuê bao di động (other options: disabled, "chưa hỗ trợ")
      form --> code: captcha, every field valid, consent → OTP sent to the phone
      code --> code: resend (otp.py cooldown per phone, ≤ 5 codes per phone)
      code --> password: possession (OTP) → ownership (carrier KYC) → no account yet
      code --> unavailable: KYC port down (retry without a new code)
      code --> mismatch: KYC says the subscription is not in this ID number's name
      code --> exists: this ID number (or this phone) already has an account
      mismatch --> form: correct the data (captcha credit, a new code to the corrected phone)
      password --> done: account created atomically, logged in LoA2 ("Đăng ký thành công")
      done --> [*]: "Tiếp tục": the authorization resumes

Possession and ownership are separate steps with their own audit events:
`register.possession_ok` (the OTP to the entered phone was typed back) and
`register.ownership_ok` / `register.ownership_mismatch` (kyc.match: the carrier has this
subscription registered to this ID number, and to this name and birth date when it knows
them — see idp/kyc.py for the comparison).

Enumeration (issue 5 item 5, security-requirements §6.3). Until the OTP has proven possession
of the phone, every well-formed submission gets the same answer: "a code was sent to <the phone
you typed>"; nothing about accounts or the carrier's records is looked up before that, so
neither the answer, nor its status, nor its timing depends on them. The refusals the form can
give before the code (captcha, field rules, cooldown, per-phone/per-IP/global SMS budgets, the
SMS gateway failing) depend only on what the caller typed and on the phone, never on an
account. Only after possession:
  1. the carrier KYC check. A mismatch is reported ("this subscription is not registered in
     the name of this ID number / these details") — the caller holds this phone, so they
     learn only about their own subscription, something the carrier would tell them too, and
     each further try costs a form submission under the captcha credit below and a new SMS
     code typed back (≤ KYC_MAX_PER_FLOW carrier queries per flow, per-phone budget an hour);
  2. only when the subscription is registered to the ID number entered: whether that ID number
     already has an account. If it has, the page says so and offers "Quên mật khẩu" (seed §1)
     and "Khiếu nại: tài khoản này không phải của tôi" (flows/complaint.py, reachable only
     from here), and an alert SMS goes to the phone registered on the existing account ("someone tried to
     register with your ID number; call 1800 1096 if it was not you"). So an existing account
     is revealed only to the holder of a phone the carrier registered to that ID number — the
     citizen themselves (or someone holding their phone, who could reset the password
     anyway).
A phone already used by another account is told the same way, after possession and
ownership (the carrier registered it to this ID number, so the number was probably recycled).

Refused sends and corrected phones (issue 12 item 3). A citizen who typed someone else's
phone (a KYC mismatch), a landline, or a number over its SMS budget corrects the phone and
submits again; that must not cost a new captcha nor a wait earned by another number:
  - Captcha credit: a solved captcha covers CAPTCHA_SUBMISSIONS form submissions of this flow
    (the first and up to three corrections), counted atomically (CAS on
    `register-captcha:<flow id>`); when it is spent, the form shows a new captcha. A captcha
    therefore still buys a bounded number of tries: at most CAPTCHA_SUBMISSIONS sends, and
    each carrier query also needs the code typed back from a phone the caller holds. The
    credit is bound to the flow, which is bound to the browser, so it cannot be relayed.
  - Carrier queries: the KYC check costs the carrier a query, so a flow makes at most
    KYC_MAX_PER_FLOW of them (answered ones, `register-kyc:<flow id>`); past that the form
    refuses before sending any code. The check still runs only after possession, so the
    enumeration discipline above is unchanged: every refusal before the code depends on what
    was typed, the phone and this flow's own history, never on an account.
  - Cooldown per phone: each phone number the flow sends to has its own OTP challenge (the
    first under the flow id, later ones under `<flow id>.<n>`), so the resend cooldown and
    the ≤ 5 codes apply per number, and a corrected phone that never received a code starts
    with no wait. A flow may send to at most MAX_PHONES_PER_FLOW numbers, which bounds the
    SMS one flow causes (the per-phone, per-address and global hourly budgets apply on top).

Success (issue 12 item 3): after the password the citizen is logged in (the browser binding
is renewed, session.start) and the pending authorization is re-bound to the new binding at
once (as views.complete does), so the flow's final state "done" can show "Đăng ký thành
công" with the masked ID number and phone; its "Tiếp tục" finishes the flow and the
authorization resumes (or an internal flow returns to its page).

Atomicity (item 7): nothing is written to the database before the password step; then the
Citizen and its default SMS AuthMethod (and the audit row) are inserted in one transaction.
The unique index on citizens.id_number decides between parallel registrations of one ID
number (IntegrityError → the "already has an account" page). The same phone for two accounts
is prevented by a short per-phone lock in the ephemeral store plus a check inside the
transaction — not by a database constraint (citizens.phone is not unique in the schema);
with the registry KYC a phone maps to one ID number, so parallel registrations of one phone
are also registrations of one ID number and the unique index settles them. The SMS and KYC
ports failing leave the flow where it was (nothing created) with a clean message. An
abandoned flow leaves only its ephemeral record, which expires after flow_ttl.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from idp.platform import audit, captcha, sms
from idp.accounts import kyc, otp, passwords
from idp.interaction import session as sso
from idp.platform.crypto import hash_password, sha256_hex
from idp.platform.db import db, now
from idp.platform.models import AuthMethod, Citizen
from idp.accounts.validation import ValidationError, check_cccd_consistency, normalize_email, normalize_name, normalize_phone, parse_birth_date, parse_gender, parse_id_number
from idp.flows import base, second_factor

DAY = 24 * 3600
# Form submissions one solved captcha covers in a flow: the first and up to three corrections
# (a refused send, a field error, a KYC mismatch); module docstring.
CAPTCHA_SUBMISSIONS = 4
# Carrier (KYC) queries one flow may cause, and phone numbers it may send codes to.
KYC_MAX_PER_FLOW = 3
MAX_PHONES_PER_FLOW = 3
FORM_FIELDS = ("full_name", "id_number", "birth_date", "gender", "phone", "email")
ALERT_SMS = (f"{sms.SERVICE_NAME}: Co nguoi vua dang ky tai khoan moi bang so CCCD/CMND cua "
             "ban. Tai khoan cua ban khong thay doi. Neu khong phai ban, goi 1800 1096.")


# --------------------------------------------------------------------------- methods

@dataclass(frozen=True)
class AccountType:
    key: str
    label: str
    available: bool = False


@dataclass(frozen=True)
class VerificationMethod:
    """One way of proving identity at registration. `first_state` is the flow state the
    method starts in; a method that is not `available` is shown as such and cannot be
    chosen. Later issues register theirs with `register_method` (same key replaces)."""
    key: str
    label: str
    level: str  # IAL2 | IAL3
    available: bool = False
    first_state: str | None = None
    account_types: tuple[str, ...] = ("citizen",)
    note: str | None = None


ACCOUNT_TYPES: dict[str, AccountType] = {a.key: a for a in (
    AccountType("citizen", _l("Công dân"), True),
    AccountType("business", _l("Doanh nghiệp")),
    AccountType("agency", _l("Cơ quan nhà nước")),
)}

METHODS: dict[str, VerificationMethod] = {}


def register_method(method: VerificationMethod) -> None:
    METHODS[method.key] = method


for _m in (
    VerificationMethod("mobile", _l("Thuê bao di động"), "IAL2", True, "form"),
    VerificationMethod("vssid", _l("Bảo hiểm xã hội"), "IAL2"),
    VerificationMethod("bca", _l("Bộ Công An"), "IAL2"),
    VerificationMethod("vnpost", _l("Bưu điện Việt Nam"), "IAL2",
                       note=_l("Tài khoản cung cấp từ “Bưu điện Việt Nam” không dành cho "
                               "CBCCVC cơ quan nhà nước.")),
    VerificationMethod("usb_token", _l("USB ký số"), "IAL3"),
    VerificationMethod("sim_pki", _l("SIM ký số"), "IAL3"),
    VerificationMethod("smartca", _l("VNPT SmartCA"), "IAL3"),
):
    register_method(_m)


def usable_methods(account_type: str) -> list[VerificationMethod]:
    return [m for m in METHODS.values() if m.available and account_type in m.account_types]


def _quoted(methods) -> str:
    return ", ".join(f"“{m.label}”" for m in methods)


def choice_errors(atype: AccountType | None, method: VerificationMethod | None) -> dict:
    """Field errors for a choice the page does not offer (the radios of unavailable options
    are disabled, so only a hand-made POST gets here). Each message names only what is
    really possible, so no combination reads as a contradiction: an unavailable account type
    is reported on its own (the method is not judged against it), an unavailable method
    names the methods that work for the chosen type, and an available method that does not
    fit the type says so."""
    errors = {}
    if atype is None:
        errors["account_type"] = _("Vui lòng chọn loại tài khoản.")
    elif not atype.available:
        errors["account_type"] = _(
            "Hệ thống chưa hỗ trợ đăng ký tài khoản %(type)s. Trong thời gian này, vui lòng "
            "liên hệ Bộ phận Một cửa của UBND cấp xã nơi làm thủ tục để được hướng dẫn.",
            type=atype.label)
    if method is None:
        errors["method"] = _("Vui lòng chọn phương thức đăng ký.")
    elif atype is None or not atype.available:
        pass  # the account type is the problem: judge the method once a type works
    elif not method.available:
        usable = usable_methods(atype.key)
        if usable:
            errors["method"] = _("Phương thức “%(method)s” chưa được hỗ trợ. Vui lòng chọn "
                                 "%(usable)s.", method=method.label, usable=_quoted(usable))
        else:
            errors["method"] = _("Phương thức “%(method)s” chưa được hỗ trợ.",
                                 method=method.label)
    elif atype.key not in method.account_types:
        errors["method"] = _("Phương thức “%(method)s” không dùng để đăng ký tài khoản "
                             "%(type)s.", method=method.label, type=atype.label)
    return errors


# --------------------------------------------------------------------------- helpers

def _settings():
    return current_app.config["IDP"]


def _store():
    return current_app.extensions["idp.store"]


def _phone_fail_key(phone: str) -> str:
    return "otp-fail-phone:" + sha256_hex(phone or "-")  # otp.record_failure(None, ...)


def _national(phone: str) -> str:
    return "0" + phone[3:] if phone.startswith("+84") else phone


def _refusal(exc: otp.OtpRefused) -> str:
    """A refused send, in the words of registration (no "đăng nhập lại" here)."""
    if exc.reason == "flow_budget":
        return _("Số điện thoại này đã nhận đủ số mã cho phép trong một lần đăng ký. Vui lòng "
                 "kiểm tra lại số điện thoại, hoặc bắt đầu đăng ký lại sau ít phút.")
    return second_factor.refusal_message(exc)


def _credit_key(flow_id: str) -> str:
    return "register-captcha:" + flow_id


def captcha_credit(flow_id: str) -> int:
    """Form submissions the flow's last solved captcha still covers (module docstring)."""
    record = _store().get(_credit_key(flow_id))
    return max(0, int(record.get("left", 0))) if record else 0


def _spend_credit(flow_id: str) -> bool:
    """Take one submission from the credit, atomically (CAS): of two parallel submissions
    with one submission left, exactly one passes."""
    found = _store().get_rev(_credit_key(flow_id))
    if found is None or int(found[0].get("left", 0)) <= 0:
        return False
    record, rev = found
    return _store().cas(_credit_key(flow_id), rev, {"left": int(record["left"]) - 1})


def pass_captcha(flow, form) -> bool:
    """The form's captcha gate: one submission of the credit if some is left (an answer sent
    anyway is discarded), otherwise a right answer to a captcha bound to this browser, flow
    and purpose, which opens a new credit."""
    if _spend_credit(flow.id):
        captcha.discard(_store(), form.get("captcha_id"))
        return True
    if not captcha.verify(_store(), form.get("captcha_id") or "", form.get("captcha") or "",
                          bound_to=flow.id, purpose="register"):
        return False
    _store().put(_credit_key(flow.id), {"left": CAPTCHA_SUBMISSIONS - 1},
                 _settings()["flow_ttl"])
    return True


def _kyc_key(flow_id: str) -> str:
    return "register-kyc:" + flow_id


def kyc_queries(flow_id: str) -> int:
    return _store().incr(_kyc_key(flow_id), _settings()["flow_ttl"], 0)


def challenge_id(flow) -> str:
    """The OTP challenge of the phone the flow last sent a code to (module docstring)."""
    return flow.data.get("challenge") or flow.id


def _challenge_for(flow, phone: str) -> str | None:
    """The challenge id of `phone` in this flow (a new one for a new number), or None when
    the flow has already sent codes to MAX_PHONES_PER_FLOW other numbers."""
    phones = flow.data.get("phones") or []
    mark = sha256_hex(phone)[:16]
    if mark not in phones:
        if len(phones) >= MAX_PHONES_PER_FLOW:
            return None
        phones = phones + [mark]
    index = phones.index(mark)
    flow.data["phones"] = phones  # saved with the flow only when the code is sent (Goto)
    return flow.id if index == 0 else f"{flow.id}.{index}"


def validate_form(form) -> tuple[dict, dict]:
    """(normalised person, field errors). Each field is checked on its own so that every
    invalid field gets its own message; the CCCD consistency check runs when the ID number,
    birth date and gender are each valid."""
    person, errors = {}, {}

    def run(field, fn, *args):
        try:
            person[field] = fn(*args)
        except ValidationError as exc:
            errors[field] = exc.message

    run("full_name", normalize_name, form.get("full_name") or "")
    run("id_number", parse_id_number, form.get("id_number") or "")
    if not (form.get("birth_date") or "").strip():
        errors["birth_date"] = _("Vui lòng nhập ngày sinh.")
    else:
        run("birth_date", parse_birth_date, form.get("birth_date") or "")
    if not form.get("gender"):
        errors["gender"] = _("Vui lòng chọn giới tính.")
    else:
        run("gender", parse_gender, form.get("gender"))
    if {"id_number", "birth_date", "gender"} <= set(person):
        try:
            check_cccd_consistency(person["id_number"], person["birth_date"], person["gender"])
        except ValidationError as exc:
            errors["id_number"] = exc.message
    run("phone", normalize_phone, form.get("phone") or "")
    run("email", normalize_email, form.get("email") or "")
    if form.get("consent") not in ("yes", "on", "1", "true"):
        errors["consent"] = _("Bạn cần đồng ý cho phép xử lý dữ liệu cá nhân để đăng ký tài "
                              "khoản.")
    if "birth_date" in person:
        person["birth_date"] = person["birth_date"].isoformat()
    return person, errors


class RegisterFlow(base.FlowKind):
    name = "register"
    initial_state = "choose"

    # ----------------------------------------------------------------------- pages
    def render(self, flow, errors=None, values=None):
        errors, values = errors or {}, values or {}
        context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors}
        state = flow.state
        if state == "choose":
            # What was chosen stays checked if it can be chosen; otherwise the default does.
            atype = values.get("account_type") or flow.data.get("account_type")
            key = values.get("method") or flow.data.get("method")
            return render_template(
                "register_choose.html", account_types=list(ACCOUNT_TYPES.values()),
                methods=list(METHODS.values()),
                account_type=atype if getattr(ACCOUNT_TYPES.get(atype), "available", False)
                else "citizen",
                method=key if getattr(METHODS.get(key), "available", False) else "mobile",
                **context)
        if state == "form":
            shown = dict(flow.data.get("typed") or {}, **values)
            credit = captcha_credit(flow.id)
            return render_template(
                "register_form.html", values=shown, account_type=flow.data.get("account_type"),
                method=flow.data.get("method"), captcha_credit=credit,
                captcha_id=None if credit else captcha.issue(
                    _store(), _settings()["captcha_ttl"], bound_to=flow.id, purpose="register"),
                refresh_captcha_url=flow.url, **context)
        if state == "code":
            phone = flow.data["person"]["phone"]
            ch = otp.challenge(challenge_id(flow))
            return render_template(
                "register_code.html", phone=_national(phone),
                resend_in=otp.seconds_until_resend(challenge_id(flow)),
                resent=(ch.sends if ch else 0) > 1, **context)
        if state == "done":
            return render_template("register_done.html", done=flow.data.get("done") or {},
                                   client_name=_client_name(flow), **context)
        if state == "password":
            return render_template("register_password.html", hint=passwords.HINT,
                                   strength=values.get("strength"), **context)
        return render_template("register_result.html", state=state,
                               reason=flow.data.get("reason"), **context)

    def handle(self, flow, form):
        steps = {"choose": self._choose, "form": self._form, "code": self._code,
                 "unavailable": self._unavailable, "mismatch": self._mismatch,
                 "exists": self._exists, "password": self._password, "done": self._done,
                 "creating": self._creating}
        return steps[flow.state](flow, form)

    # ----------------------------------------------------------------------- choose
    def _choose(self, flow, form):
        account_type = form.get("account_type") or ""
        key = form.get("method") or ""
        keep = {"account_type": account_type[:20], "method": key[:20]}
        errors = choice_errors(ACCOUNT_TYPES.get(account_type), METHODS.get(key))
        method = METHODS.get(key)
        if errors:
            return base.Stay(errors, keep, 400)
        flow.data.update(account_type=account_type, method=key)
        return base.Goto(method.first_state)

    # ----------------------------------------------------------------------- form
    def _form(self, flow, form):
        if form.get("action") == "back":
            return base.Goto("choose")
        typed = {f: (form.get(f) or "").strip()[:200] for f in FORM_FIELDS}
        typed["consent"] = form.get("consent") in ("yes", "on", "1", "true")
        # Captcha first: a solved one covers CAPTCHA_SUBMISSIONS submissions of this flow,
        # so a refused send or a correction does not need a new one (module docstring).
        if not pass_captcha(flow, form):
            return base.Stay({"captcha": _("Mã xác thực không đúng hoặc đã hết hạn. Vui lòng "
                                           "nhập mã mới.")}, typed, 400)
        person, errors = validate_form(form)
        if errors:
            return base.Stay(errors, typed, 400)
        if kyc_queries(flow.id) >= KYC_MAX_PER_FLOW:
            return base.Stay({"form": _("Bạn đã đối chiếu thông tin với nhà mạng quá số lần "
                                        "cho phép trong một lần đăng ký. Vui lòng quay lại "
                                        "cổng dịch vụ công và bắt đầu đăng ký lại, hoặc gọi "
                                        "tổng đài 1800 1096 để được hỗ trợ.")}, typed, 429)
        cid = _challenge_for(flow, person["phone"])
        if cid is None:
            return base.Stay({"phone": _("Bạn đã dùng quá nhiều số điện thoại khác nhau trong "
                                         "một lần đăng ký. Vui lòng dùng lại một số đã nhập, "
                                         "hoặc bắt đầu đăng ký lại.")}, typed, 429)
        flow.data.update(person=person, typed=typed, possession=False, ownership=False,
                         reason=None, challenge=cid)
        try:
            otp.send(cid, "register", person["phone"])
        except otp.OtpRefused as exc:
            audit.record("register.code_not_sent", client_id=flow.client_id or None,
                         phone=audit.mask_phone(person["phone"]), reason=exc.reason)
            return base.Stay({"form": _refusal(exc)}, typed,
                             503 if exc.reason == "sms_failed" else 429,
                             retry_after=exc.retry_after)
        audit.record("register.started", client_id=flow.client_id or None,
                     phone=audit.mask_phone(person["phone"]),
                     id_number=audit.mask_id_number(person["id_number"]))
        return base.Goto("code")

    # ----------------------------------------------------------------------- code
    def _code(self, flow, form):
        person = flow.data["person"]
        if form.get("action") == "edit":
            return base.Goto("form")
        if form.get("action") == "resend":
            try:
                otp.send(challenge_id(flow), "register", person["phone"])
            except otp.OtpRefused as exc:
                return base.Stay({"form": _refusal(exc)},
                                 status=503 if exc.reason == "sms_failed" else 429,
                                 retry_after=exc.retry_after)
            return base.Goto("code")
        failures = _store().incr(_phone_fail_key(person["phone"]), DAY, 0)
        if failures >= _settings()["otp_account_cap"]:
            return base.Stay({"form": second_factor.refusal_message(
                otp.OtpRefused("locked", DAY))}, status=429)
        code = (form.get("otp") or "").strip()
        if not code:
            return base.Stay({"otp": _("Vui lòng nhập mã xác thực.")}, status=400)
        try:
            ok = otp.verify(challenge_id(flow), "register", code)
        except otp.OtpRefused as exc:
            return base.Stay({"form": second_factor.refusal_message(exc)}, status=400)
        if not ok:
            return base.Stay({"otp": _("Mã xác thực không đúng.")}, status=400)
        _store().delete(_phone_fail_key(person["phone"]))
        flow.data["possession"] = True
        audit.record("register.possession_ok", client_id=flow.client_id or None,
                     phone=audit.mask_phone(person["phone"]))
        return self._after_possession(flow)

    def _after_possession(self, flow):
        """Ownership (carrier KYC), then the existing-account check (module docstring)."""
        person = flow.data["person"]
        try:
            matched = kyc.match(person["phone"], person["id_number"], person["full_name"],
                                person["birth_date"])
        except kyc.KycError as exc:
            audit.record("register.kyc_unavailable", client_id=flow.client_id or None,
                         error=str(exc))
            return base.Goto("unavailable")
        _store().incr(_kyc_key(flow.id), _settings()["flow_ttl"])  # an answered query
        if not matched:
            audit.record("register.ownership_mismatch", client_id=flow.client_id or None,
                         phone=audit.mask_phone(person["phone"]),
                         id_number=audit.mask_id_number(person["id_number"]))
            return base.Goto("mismatch")
        flow.data["ownership"] = True
        audit.record("register.ownership_ok", client_id=flow.client_id or None,
                     phone=audit.mask_phone(person["phone"]),
                     id_number=audit.mask_id_number(person["id_number"]))
        reason = self._existing(person)
        if reason:
            return self._to_exists(flow, reason)
        return base.Goto("password")

    @staticmethod
    def _existing(person) -> str | None:
        if db.session.scalar(select(Citizen.id).where(
                Citizen.id_number == person["id_number"])) is not None:
            return "id_number"
        if _phone_in_use(person["phone"]):
            return "phone"
        return None

    def _to_exists(self, flow, reason: str):
        flow.data["reason"] = reason
        person = flow.data["person"]
        if reason == "id_number" and not flow.data.get("alerted"):
            flow.data["alerted"] = True
            owner = db.session.scalar(select(Citizen).where(
                Citizen.id_number == person["id_number"]))
            if owner is not None:
                # Through the outbox (idp/outbox.py), committed with the audit row below.
                from idp.platform import outbox
                from idp.accounts.factors import phones
                outbox.stage_notices(
                    outbox.reserve_notices(phones(owner)[:1], owner.id, "register_alert"),
                    ALERT_SMS, "register_alert", owner.id)
        audit.record("register.exists", client_id=flow.client_id or None, reason=reason,
                     id_number=audit.mask_id_number(person["id_number"]))
        return base.Goto("exists")

    # ----------------------------------------------------------------------- outcomes
    def _unavailable(self, flow, form):
        if not flow.data.get("possession"):
            return base.Goto("form")
        return self._after_possession(flow)  # "Thử lại": no new code needed

    def _mismatch(self, flow, form):
        return base.Goto("form")  # "Sửa thông tin": a new captcha and a new code

    def _exists(self, flow, form):
        if form.get("action") == "forgot":
            return base.Finish({"register_done": True}, next_flow=("recover", {}))
        if form.get("action") == "complain":
            # "Khiếu nại: tài khoản này không phải của tôi" (flows/complaint.py): offered only
            # here, after possession and ownership; start_data refuses anything else.
            from idp.flows.complaint import start_data
            data = start_data(flow.data)
            if data is None:
                return base.Stay({"form": _("Phiên đăng ký không hợp lệ. Vui lòng bắt đầu "
                                            "lại.")}, status=403)
            return base.Finish({"register_done": True}, next_flow=("complaint", data))
        return base.Finish({"register_done": True})  # "Đăng nhập"

    def _done(self, flow, form):
        """"Tiếp tục" on "Đăng ký thành công": the login happened at the password step
        (pending already re-bound), so the authorization resumes. Any other POST (a late
        duplicate of the password form) just shows the page again."""
        if form.get("action") != "continue":
            return base.Stay({})
        return base.Finish({"login_done": True, "register_done": True})

    def _creating(self, flow, form):
        return base.Stay({"form": _("Yêu cầu đăng ký đang được xử lý. Vui lòng tải lại trang "
                                    "sau giây lát.")}, status=409)

    # ----------------------------------------------------------------------- password
    def _password(self, flow, form):
        person = flow.data.get("person") or {}
        if not (flow.data.get("possession") and flow.data.get("ownership")):
            return base.Stay({"form": _("Phiên đăng ký không hợp lệ. Vui lòng bắt đầu lại.")},
                             status=403)
        password = form.get("password") or ""
        context = passwords.Context(person["id_number"], (person["phone"],),
                                    person["birth_date"], person["full_name"])
        errors = passwords.check(password, form.get("password_confirm") or "", context)
        if errors:
            strength = None
            if "password" not in errors:
                strength = passwords.strength_label(password)
            return base.Stay(errors, {"strength": strength}, 400)
        password_hash = hash_password(password)
        # Claim the step (compare-and-set): a double submit creates at most one account.
        flow.state = "creating"
        base.save(flow)
        outcome = _create(flow, person, password_hash)
        if isinstance(outcome, Citizen):
            sso.start(outcome, "LoA2", ["pwd", "sms", "mfa"])
            _rebind_pending(flow)
            flow.data = {"done": {"id_number": audit.mask_id_number(person["id_number"]),
                                  "phone": audit.mask_phone(person["phone"]),
                                  "full_name": person["full_name"]}}
            return base.Goto("done")  # saved under the renewed browser binding
        if outcome in ("id_number", "phone"):
            return self._to_exists(flow, outcome)
        flow.state = "password"  # nothing was created: the citizen may try again
        base.save(flow)
        if outcome == "busy":
            return base.Stay({"form": _("Số điện thoại này đang được dùng cho một đăng ký "
                                        "khác. Vui lòng thử lại sau ít phút.")}, status=409)
        return base.Stay({"form": _("Không tạo được tài khoản lúc này do lỗi hệ thống. Chưa "
                                    "có gì được lưu; vui lòng thử lại sau ít phút.")},
                         status=503)


def _rebind_pending(flow) -> None:
    """The password step logged the citizen in and renewed the browser binding; the flow
    goes on to "done" under the new binding, so its pending authorization must follow now
    (views.complete does the same when a flow finishes with the login), atomically (CAS)."""
    key = "pending:" + flow.pending
    found = _store().get_rev(key)
    if found is None:
        return
    pending, rev = found
    if pending.get("bid") == sso.binding_before_login():
        _store().cas(key, rev, dict(pending, bid=sso.browser_binding()))


def _client_name(flow) -> str:
    if not flow.client_id:
        return ""
    from idp.protocol import oauth2
    client = oauth2.query_client(flow.client_id)
    return client.client_name if client else ""


def _phone_in_use(phone: str) -> bool:
    return db.session.scalar(
        select(Citizen.id).outerjoin(AuthMethod, AuthMethod.citizen_id == Citizen.id)
        .where(Citizen.status != "deleted",
               or_(Citizen.phone == phone, AuthMethod.phone == phone)).limit(1)) is not None


def _create(flow, person: dict, password_hash: str):
    """One transaction: the Citizen, its default SMS method, the audit row. Returns the
    Citizen, or why not: "id_number" / "phone" (already used), "busy", "error"."""
    lock = "register-phone:" + sha256_hex(person["phone"])
    if not _store().add(lock, {"flow": flow.id}, 30):
        return "busy"
    try:
        if _phone_in_use(person["phone"]):
            return "phone"
        citizen = Citizen(sub=str(uuid.uuid4()), id_number=person["id_number"],
                          full_name=person["full_name"], birth_date=person["birth_date"],
                          gender=person["gender"], phone=person["phone"],
                          email=person.get("email"), password_hash=password_hash)
        db.session.add(citizen)
        db.session.flush()
        db.session.add(AuthMethod(citizen_id=citizen.id, kind="sms", phone=person["phone"],
                                  is_default=True, created_at=now()))
        audit.record("register.created", citizen_id=citizen.id,
                     client_id=flow.client_id or None, commit=False,
                     method=flow.data.get("method"), ial="IAL2",
                     phone=audit.mask_phone(person["phone"]))
        db.session.commit()
        return citizen
    except IntegrityError:
        db.session.rollback()
        return "id_number"
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("registration failed: %s", exc.__class__.__name__)
        return "error"
    finally:
        try:
            _store().delete(lock)
        except SQLAlchemyError:
            pass
