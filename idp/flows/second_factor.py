"""The second-factor step (seed §2, second half), shared by the login flow (after the
password) and the step-up flow (a LoA1 session asked for LoA2: only this step runs).

States: `sms` (code sent to one of the account's phones; the first code is sent when the
page is first shown), `totp` (authenticator app), `recovery` (one-time recovery code),
`choose` ("Chọn phương thức xác thực khác": what the account has). Flow data:
`citizen_id`, `method`, `phone` (E.164, for sms), `sms_allowed` (False right after a password
reset proven by SMS, when the account has another factor — ASVS 5.0 6.4.3).

Success ends the flow with a new LoA2 SSO session; amr per RFC 8176: pwd + sms (SMS code),
pwd + otp (authenticator app or recovery code), always with mfa.

Every code page says in one sentence why a code is asked now (`reason`): every login needs
it (the deployment's `login_min_acr`), the service being opened asks more than the session
has (step-up), or the password was just reset by SMS.
"""
from __future__ import annotations

from flask import current_app, g, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from idp.platform import audit
from idp.accounts import device, factors, otp
from idp.interaction import policy, session as sso
from idp.platform.audit import mask_phone
from idp.platform.db import db
from idp.platform.models import Citizen
from idp.flows import base

STATES = ("sms", "totp", "recovery", "choose")
AMR = {"sms": ["pwd", "sms", "mfa"], "totp": ["pwd", "otp", "mfa"],
       "recovery": ["pwd", "otp", "mfa"]}


def refusal_message(exc: otp.OtpRefused) -> str:
    minutes = max(1, (exc.retry_after + 59) // 60)
    messages = {
        "not_mobile": _("Số điện thoại không phải số di động Việt Nam nên không thể nhận mã."),
        "cooldown": ngettext("Vui lòng chờ %(num)d giây trước khi gửi lại mã.",
                             "Vui lòng chờ %(num)d giây trước khi gửi lại mã.",
                             exc.retry_after),
        "flow_budget": _("Bạn đã yêu cầu gửi lại mã quá nhiều lần. Vui lòng đăng nhập lại từ "
                         "đầu."),
        "budget": _("Đã gửi quá nhiều mã trong thời gian ngắn. Vui lòng thử lại sau."),
        "sms_failed": _("Không gửi được mã xác thực lúc này. Vui lòng thử lại sau ít phút."),
        "expired": _("Mã xác thực đã hết hạn hoặc không còn hiệu lực. Vui lòng bấm “Gửi lại "
                     "OTP” để nhận mã mới."),
        "burned": _("Bạn đã nhập sai quá số lần cho phép với mã này. Vui lòng bấm “Gửi lại "
                    "OTP” để nhận mã mới."),
        "locked": ngettext("Xác thực tạm thời bị khóa do nhập sai nhiều lần. Vui lòng thử lại "
                           "sau %(num)d phút.",
                           "Xác thực tạm thời bị khóa do nhập sai nhiều lần. Vui lòng thử lại "
                           "sau %(num)d phút.", minutes) if minutes < 60 else
        ngettext("Xác thực tạm thời bị khóa do nhập sai nhiều lần. Vui lòng thử lại sau "
                 "%(num)d giờ, hoặc dùng mã khôi phục nếu bạn có.",
                 "Xác thực tạm thời bị khóa do nhập sai nhiều lần. Vui lòng thử lại sau "
                 "%(num)d giờ, hoặc dùng mã khôi phục nếu bạn có.", (minutes + 59) // 60),
    }
    return messages.get(exc.reason, messages["sms_failed"])


def _citizen(flow) -> Citizen:
    citizen = db.session.get(Citizen, flow.data["citizen_id"])
    if citizen is None or citizen.status != "active":
        raise base.FlowGone()
    return citizen


def start(flow, citizen: Citizen) -> str:
    """Choose the first method for this account; returns the state to go to."""
    flow.data["citizen_id"] = citizen.id
    flow.data["sms_allowed"] = not (citizen.sms_reset_pending
                                    and factors.has_non_sms_factor(citizen))
    if flow.data["sms_allowed"]:
        flow.data.update(method="sms", phone=factors.phones(citizen)[0])
        return "sms"
    method = "totp" if factors.has_totp(citizen) else "recovery"
    flow.data["method"] = method
    return method


def options(flow, citizen: Citizen) -> list[dict]:
    out = []
    if flow.data.get("sms_allowed", True):
        for i, phone in enumerate(factors.phones(citizen)):
            out.append({"value": f"sms:{i}", "label": _("Mã OTP qua SMS đến số %(phone)s",
                                                       phone=mask_phone(phone))})
    if factors.has_totp(citizen):
        out.append({"value": "totp", "label": _("Ứng dụng xác thực (mã 6 số)")})
    if factors.recovery_codes_left(citizen):
        out.append({"value": "recovery", "label": _("Mã khôi phục dự phòng")})
    return out


def reason(flow) -> str:
    """One sentence: why a second factor is asked now (module docstring)."""
    sms = flow.state == "sms"
    if not flow.data.get("sms_allowed", True):
        return _("Mật khẩu của bạn vừa được đặt lại bằng mã SMS, nên lần đăng nhập này cần "
                 "ứng dụng xác thực hoặc mã khôi phục dự phòng.")
    if flow.kind == "login" and policy.LEVELS[_floor(flow)] >= 2:
        return (_("Để bảo vệ tài khoản, mỗi lần đăng nhập đều cần thêm mã OTP gửi đến số điện "
                  "thoại đã đăng ký.") if sms else
                _("Để bảo vệ tài khoản, mỗi lần đăng nhập đều cần thêm một bước xác thực thứ "
                  "hai."))
    if not flow.client_id:  # the IdP's own account page (account/access.py)
        return (_("Trang quản lý tài khoản yêu cầu xác thực thêm bằng mã OTP gửi đến số điện "
                  "thoại đã đăng ký.") if sms else
                _("Trang quản lý tài khoản yêu cầu xác thực thêm bằng phương thức xác thực thứ "
                  "hai của bạn."))
    return (_("Dịch vụ bạn đang truy cập yêu cầu xác thực thêm bằng mã OTP gửi đến số điện "
              "thoại đã đăng ký.") if sms else
            _("Dịch vụ bạn đang truy cập yêu cầu xác thực thêm bằng phương thức xác thực thứ "
              "hai của bạn."))


def _floor(flow) -> str:
    from idp.protocol.oauth2 import query_client
    client = query_client(flow.client_id) if flow.client_id else None
    return policy.login_floor(client, current_app.config["IDP"])


def render(flow, errors=None, notice=None):
    citizen = _citizen(flow)
    state = flow.state
    context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors or {},
               "notice": notice, "lost_phone_url": _lost_phone_url(flow),
               "register_url": None, "reason": reason(flow)}
    if state == "sms":
        phone = flow.data["phone"]
        if otp.challenge(flow.id) is None and not errors:
            try:
                otp.check_not_locked(citizen)  # no SMS for an account that cannot use it
                otp.send(flow.id, "login", phone, citizen.id)
            except otp.OtpRefused as exc:
                context["errors"] = {"form": refusal_message(exc)}
        return render_template("otp.html", masked_phone=mask_phone(phone),
                               resend_in=otp.seconds_until_resend(flow.id),
                               has_other=len(options(flow, citizen)) > 1, **context)
    if state in ("totp", "recovery"):
        return render_template("factor_code.html", method=state,
                               has_other=len(options(flow, citizen)) > 1, **context)
    return render_template("choose_method.html", options=options(flow, citizen), **context)


def _lost_phone_url(flow):
    endpoint = current_app.view_functions.get("recovery.lost_phone")
    return url_for("recovery.lost_phone", flow=flow.id) if endpoint else None


def handle(flow, form, finish_updates: dict):
    """Returns Stay/Goto/Finish for the second-factor states."""
    citizen = _citizen(flow)
    action = form.get("action")
    if action == "choose":
        return base.Goto("choose")
    if flow.state == "choose":
        return _chosen(flow, citizen, form.get("method", ""))
    if flow.state == "sms" and action == "resend":
        try:
            otp.send(flow.id, "login", flow.data["phone"], citizen.id)
        except otp.OtpRefused as exc:
            return base.Stay({"form": refusal_message(exc)}, status=429 if exc.retry_after
                             else 503 if exc.reason == "sms_failed" else 400,
                             retry_after=exc.retry_after)
        return base.Goto("sms")
    code = (form.get("otp") or form.get("code") or "").strip()
    if not code:
        return base.Stay({"otp": _("Vui lòng nhập mã xác thực.")}, status=400)
    try:
        if flow.state == "sms":
            ok = otp.verify(flow.id, "login", code, citizen)
        elif flow.state == "totp":
            ok = factors.verify_totp(citizen, code)
        else:
            ok = factors.verify_recovery_code(citizen, code)
    except otp.OtpRefused as exc:
        return base.Stay({"form": refusal_message(exc)},
                         status=429 if exc.reason == "locked" else 400,
                         retry_after=exc.retry_after if exc.reason == "locked" else 0)
    if not ok:
        return base.Stay({"otp": _("Mã xác thực không đúng.")}, status=400)
    return _succeed(flow, citizen, finish_updates)


def _chosen(flow, citizen: Citizen, choice: str):
    allowed = {o["value"] for o in options(flow, citizen)}
    if choice not in allowed:
        return base.Stay({"form": _("Vui lòng chọn một phương thức xác thực.")}, status=400)
    if choice.startswith("sms:"):
        flow.data.update(method="sms", phone=factors.phones(citizen)[int(choice[4:])])
        otp_state = otp.challenge(flow.id)
        if otp_state is not None and otp_state.phone != flow.data["phone"]:
            # Another phone: its own code (cooldown and budgets still apply).
            try:
                otp.send(flow.id, "login", flow.data["phone"], citizen.id)
            except otp.OtpRefused as exc:
                flow.state = "sms"
                base.save(flow)
                return base.Stay({"form": refusal_message(exc)}, status=429)
        return base.Goto("sms")
    flow.data["method"] = choice
    return base.Goto(choice)


def _succeed(flow, citizen: Citizen, finish_updates: dict):
    session = sso.current()
    if flow.kind == "stepup" and (session is None or session.citizen_id != citizen.id):
        raise base.FlowConflict()  # the browser's login changed meanwhile
    method = flow.state
    if citizen.sms_reset_pending and (method != "sms" or not factors.has_non_sms_factor(citizen)):
        citizen.sms_reset_pending = False
        db.session.commit()
    g.sso_remember = bool(flow.data.get("remember"))  # "Ghi nhớ đăng nhập" (flows/login.py)
    sso.start(citizen, "LoA2", AMR[method])
    device.remember(citizen)  # a known device of this citizen from now on (idp/device.py)
    audit.record("login.second_factor_ok", citizen_id=citizen.id, client_id=flow.client_id,
                 method=method)
    return base.Finish(dict(finish_updates))
