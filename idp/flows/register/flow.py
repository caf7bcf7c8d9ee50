"""The registration flow kind: one handler per state, each returning an engine outcome
(Stay / Goto / Finish / HandOver) within the declared `transitions`. The rules it follows
(enumeration, captcha credit, atomic creation) are in the package docstring."""
from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from werkzeug.datastructures import MultiDict

from idp.accounts import kyc, otp, passwords
from idp.flows.claim import claim
from idp.flows.register import bhxh, certificate, limits
from idp.flows.register import person as people
from idp.flows.register.choice import choice_errors, current
from idp.flows.register.limits import SEND_WORDS, challenge_id, settings, store
from idp.flows.upstream_buttons import buttons
from idp.interaction.engine import Fields, Flow, FlowKind, ViewResult, table
from idp.interaction.outcomes import Finish, Goto, HandOver, Login, Outcome, Stay
from idp.methods import refusal as refusals
from idp.methods import registry
from idp.platform import audit, captcha, clients, sms
from idp.platform.crypto import hash_password, sha256_hex
from idp.platform.messages import msg

DAY = 24 * 3600
NOTICES = {"unavailable": "register.kyc_unavailable", "mismatch": "register.kyc_mismatch",
           "creating": "register.creating"}


def _phone_fail_key(phone: str) -> str:
    return "otp-fail-phone:" + sha256_hex(phone or "-")  # otp.record_failure(None, ...)


def _client_name(flow: Flow) -> str:
    client = clients.query_client(flow.client_id) if flow.client_id else None
    return str(client.client_name) if client else ""


class RegisterFlow(FlowKind):
    name = "register"
    # The signing page and the waiting state of a remote carrier (flows/smartca_callback.py
    # sends SmartCA's answer to the flow at the first, on to the second).
    certificate_states = ("sign", certificate.WAIT)
    certificate_purpose = "register"  # what a challenge signed in this flow is for
    # "Bộ Công An": the page with the "Đăng nhập bằng VNeID" button (flows/federated/).
    upstream_state = "bca"
    transitions = table(
        choose="form bhxh sign bca vnpost", bca="choose", vnpost="choose",
        form="choose code",  # the mobile path (register/person.py)
        bhxh="choose code",  # "Bảo hiểm xã hội" (register/bhxh.py)
        # the certificate path (register/certificate.py): sign (USB), wait (SIM, SmartCA)
        sign="choose sign sign_wait details exists", sign_wait="sign sign_wait details exists",
        details="choose details code",
        # both paths: the phone's code, the carrier check (mobile path), the password
        code="form bhxh details code unavailable mismatch exists password creating",
        unavailable="form unavailable mismatch exists password", mismatch="form", exists="",
        password="creating", creating="done exists password code", done="",
    )

    # ----------------------------------------------------------------------- pages
    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        errors, values = errors or {}, values or {}
        context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors}
        state = flow.state
        if state == "choose":
            # What was chosen stays checked if it can be chosen; otherwise the default does.
            atype = str(values.get("account_type") or flow.data.get("account_type") or "")
            key = str(values.get("method") or flow.data.get("method") or "")
            types, methods = current()
            return render_template(
                "register_choose.html", account_types=list(types.values()),
                methods=list(methods.values()),
                organisations=any(t.available for t in types.values() if t.by_certificate),
                account_type=atype if getattr(types.get(atype), "available", False)
                else "citizen",
                method=key if getattr(methods.get(key), "available", False) else "mobile",
                **context)
        if state in certificate.STATES:
            return certificate.render(flow, context, errors, values)
        if state == "bca":
            return render_template("register_bca.html", upstream_buttons=buttons(flow),
                                   **context)
        if state == "vnpost":  # "Bưu điện Việt Nam": the counter, then register/activate.py
            return render_template("register_vnpost.html", **context)
        if state in ("form", bhxh.STATE):
            shown = dict(flow.data.get("typed") or {}, **values)
            credit = limits.captcha_credit(flow.id)
            return render_template(
                "register_form.html", values=shown, account_type=flow.data.get("account_type"),
                method=flow.data.get("method"), captcha_credit=credit,
                credit_notice=msg("captcha.credit") if credit else None,
                captcha_id=None if credit else captcha.issue(
                    store(), settings()["captcha_ttl"], bound_to=flow.id, purpose="register"),
                refresh_captcha_url=flow.url, bhxh=state == bhxh.STATE, **context)
        if state == "code":
            ch = otp.challenge(challenge_id(flow))
            resent = (ch.sends if ch else 0) > 1
            return render_template(
                "register_code.html", phone=people.national(flow.data["person"]["phone"]),
                bhxh=bool(flow.data.get("bhxh")),
                resend_in=otp.seconds_until_resend(challenge_id(flow)), resent=resent,
                resent_notice=msg("register.code_resent") if resent else None, **context)
        if state == "done":
            return render_template("register_done.html", done=flow.data.get("done") or {},
                                   client_name=_client_name(flow),
                                   notice=msg("register.done"), **context)
        if state == "password":
            return render_template("register_password.html", hint=passwords.HINT,
                                   strength=values.get("strength"),
                                   by_certificate=bool(flow.data.get("cert")), **context)
        reason = flow.data.get("reason")
        cert = flow.data.get("cert")
        notice_id = NOTICES.get(state) or (
            certificate.exists_notice(flow) if cert and state == "exists"
            else "register.phone_taken" if reason == "phone" else "register.account_exists")
        return render_template("register_result.html", state=state, reason=reason,
                               by_certificate=bool(cert),
                               organisation=bool(cert) and cert.get("kind") != "citizen",
                               notice=msg(notice_id), **context)

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        steps = {"choose": self._choose, "form": self._form, "code": self._code,
                 "unavailable": self._unavailable, "mismatch": self._mismatch,
                 "exists": self._exists, "password": self._password, "done": self._done,
                 "creating": self._creating, "bca": lambda f, form: Goto("choose"),
                 bhxh.STATE: lambda f, form: bhxh.submit(self, f, form),
                 "vnpost": lambda f, form: HandOver("activate") if form.get("action")
                 == "activate" else Goto("choose"),
                 "sign": lambda f, form: certificate.sign(self, f, form),
                 certificate.WAIT: lambda f, form: certificate.check(self, f, form),
                 "details": lambda f, form: certificate.details(self, f, form)}
        return steps[flow.state](flow, form)

    # ----------------------------------------------------------------------- choose
    def _choose(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        account_type = form.get("account_type") or ""
        key = form.get("method") or ""
        keep = {"account_type": account_type[:20], "method": key[:20]}
        types, methods = current()
        method = methods.get(key)
        errors = choice_errors(types.get(account_type), method, methods)
        if errors or method is None or method.first_state is None:
            return Stay(errors, keep, 400)
        # A new choice starts over: nothing proven under an earlier one carries over (what
        # was typed does, to refill the form).
        for stale in ("cert", "possession", "ownership", "reason", "bhxh", "decoy"):
            flow.data.pop(stale, None)
        flow.data.update(account_type=account_type, method=key)
        return Goto(method.first_state)

    # ----------------------------------------------------------------------- form
    def _form(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if form.get("action") == "back":
            return Goto("choose")
        typed: dict[str, Any] = {f: (form.get(f) or "").strip()[:200]
                                 for f in people.FORM_FIELDS}
        typed["consent"] = form.get("consent") in people.CONSENT_VALUES
        # Captcha first: a solved one covers CAPTCHA_SUBMISSIONS submissions of this flow,
        # so a refused send or a correction does not need a new one (package docstring).
        if not limits.pass_captcha(flow, form):
            return Stay({"captcha": msg("captcha.invalid")}, typed, 400)
        person, errors = people.validate_form(form)
        if errors:
            return Stay(errors, typed, 400)
        if limits.kyc_queries(flow.id) >= limits.KYC_MAX_PER_FLOW:
            return Stay({"form": msg("register.kyc_budget")}, typed, 429)
        cid = limits.challenge_for(flow, person["phone"])
        if cid is None:
            return Stay({"phone": msg("register.too_many_phones")}, typed, 429)
        flow.data.update(person=person, typed=typed, possession=False, ownership=False,
                         reason=None, challenge=cid)
        try:
            otp.send(cid, "register", person["phone"])
        except otp.OtpRefused as exc:
            audit.record("register.code_not_sent", client_id=flow.client_id or None,
                         phone=audit.mask_phone(person["phone"]), reason=exc.reason)
            return Stay.refused(refusals.refused(exc, SEND_WORDS), typed)
        audit.record("register.started", client_id=flow.client_id or None,
                     phone=audit.mask_phone(person["phone"]),
                     id_number=audit.mask_id_number(person["id_number"]))
        return Goto("code")

    # ----------------------------------------------------------------------- code
    def _code(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        person = flow.data["person"]
        if form.get("action") == "edit":
            return Goto("details" if flow.data.get("cert") else
                        bhxh.STATE if flow.data.get("bhxh") else "form")
        if form.get("action") == "resend" and flow.data.get("bhxh"):
            return bhxh.resend(flow)
        if form.get("action") == "resend":
            try:
                otp.send(challenge_id(flow), "register", person["phone"])
            except otp.OtpRefused as exc:
                return Stay.refused(refusals.refused(exc, SEND_WORDS))
            return Goto("code")
        failures = store().incr(_phone_fail_key(person["phone"]), DAY, 0)
        if failures >= settings()["otp_account_cap"]:
            return Stay.refused(refusals.refused(otp.OtpRefused("locked", DAY)))
        code = (form.get("otp") or "").strip()
        if not code:
            return Stay.refused(refusals.code_required())
        try:
            ok = otp.verify(challenge_id(flow), "register", code)
        except otp.OtpRefused as exc:
            return Stay.refused(refusals.refused(exc))
        if not ok:
            return Stay.refused(refusals.wrong_code())
        store().delete(_phone_fail_key(person["phone"]))
        flow.data["possession"] = True
        audit.record("register.possession_ok", client_id=flow.client_id or None,
                     phone=audit.mask_phone(person["phone"]))
        return self._after_possession(flow)

    def _after_possession(self, flow: Flow) -> Outcome:
        """Ownership (carrier KYC), then the existing-account check (package docstring); in
        the certificate path the certificate proved the identity (register/certificate.py)."""
        if flow.data.get("cert"):
            return certificate.after_code(self, flow)
        if flow.data.get("bhxh"):  # the social-insurance record named the phone
            return bhxh.after_code(self, flow)
        person = flow.data["person"]
        try:
            matched = kyc.match(person["phone"], person["id_number"], person["full_name"],
                                person["birth_date"])
        except kyc.KycError as exc:
            audit.record("register.kyc_unavailable", client_id=flow.client_id or None,
                         error=str(exc))
            return Goto("unavailable")
        limits.count_kyc_query(flow.id)  # an answered query
        if not matched:
            audit.record("register.ownership_mismatch", client_id=flow.client_id or None,
                         phone=audit.mask_phone(person["phone"]),
                         id_number=audit.mask_id_number(person["id_number"]))
            return Goto("mismatch")
        flow.data["ownership"] = True
        audit.record("register.ownership_ok", client_id=flow.client_id or None,
                     phone=audit.mask_phone(person["phone"]),
                     id_number=audit.mask_id_number(person["id_number"]))
        reason = people.existing(person)
        if reason:
            return self.to_exists(flow, reason)
        return Goto("password")

    def to_exists(self, flow: Flow, reason: str) -> Outcome:
        """"This already has an account" (package docstring, "Enumeration"): the alert SMS
        to a citizen's existing account, once per flow."""
        flow.data["reason"] = reason
        person = flow.data["person"]
        citizen = flow.data.get("account_type", "citizen") == "citizen"
        if reason == "id_number" and citizen and not flow.data.get("alerted"):
            flow.data["alerted"] = True
            owner = people.owner_of(person["id_number"])
            if owner is not None:
                # Through the outbox (platform/outbox.py), committed with the audit row below.
                from idp.accounts import notices
                from idp.accounts.factors import phones
                notices.stage(
                    notices.reserve(phones(owner)[:1], owner.id, "register_alert"),
                    msg("sms.register_alert", service=sms.SERVICE_NAME), "register_alert",
                    owner.id)
        audit.record("register.exists", client_id=flow.client_id or None, reason=reason,
                     id_number=audit.mask_id_number(person["id_number"]))
        return Goto("exists")

    # ----------------------------------------------------------------------- outcomes
    def _unavailable(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if not flow.data.get("possession"):
            return Goto("form")
        return self._after_possession(flow)  # "Thử lại": no new code needed

    def _mismatch(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        return Goto("form")  # "Sửa thông tin": a new captcha and a new code

    def _exists(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        organisation = (flow.data.get("cert") or {}).get("kind", "citizen") != "citizen"
        if form.get("action") == "forgot" and not organisation:  # no password to recover
            return HandOver("recover", {}, {"register_done": True})
        if form.get("action") == "complain":
            # "Khiếu nại: tài khoản này không phải của tôi" (flows/complaint.py): offered only
            # here, after possession and ownership; complaint_data refuses anything else.
            data = people.complaint_data(flow.data)
            if data is None:
                return Stay({"form": msg("register.session_invalid")}, status=403)
            return HandOver("complaint", data, {"register_done": True})
        return Finish({"register_done": True})  # "Đăng nhập"

    def _done(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        """"Tiếp tục" on "Đăng ký thành công": the login happened at the password step
        (pending already re-bound), so the authorization resumes. Any other POST (a late
        duplicate of the password form) just shows the page again."""
        if form.get("action") != "continue":
            return Stay({})
        return Finish({"login_done": True, "register_done": True})

    def _creating(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        return Stay({"form": msg("register.creating")}, status=409)

    # ----------------------------------------------------------------------- password
    def _password(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        person = flow.data.get("person") or {}
        if not (flow.data.get("possession") and flow.data.get("ownership")):
            return Stay({"form": msg("register.session_invalid")}, status=403)
        password = form.get("password") or ""
        context = passwords.Context(person["id_number"], (person["phone"],),
                                    person["birth_date"], person["full_name"])
        errors = passwords.check(password, form.get("password_confirm") or "", context)
        if errors:
            strength = None
            if "password" not in errors:
                strength = passwords.strength_label(password)
            return Stay(errors, {"strength": strength}, 400)
        return self.create_account(flow, hash_password(password), back="password")

    def create_account(self, flow: Flow, password_hash: str, back: str) -> Outcome:
        """Create the account (person.create, one transaction) and go on logged in to "done";
        `back`: the state to return to when nothing could be created."""
        person = flow.data["person"]
        claim(self, flow, "creating")  # a double submit creates at most one account
        outcome = people.create(flow, person, password_hash)
        if not isinstance(outcome, str):
            # Logged in with what registration proved: password + SMS code to the phone, or
            # the certificate (register/certificate.py); the engine starts the session and
            # the flow goes on to "done" under it.
            if flow.data.get("cert"):
                login = certificate.login_for(flow, outcome)
            else:
                code = registry.by_id("sms")
                login = Login(outcome, code.level, registry.login_amr(code))
            flow.data = {"done": certificate.done_record(flow.data)}
            return Goto("done", login=login)
        if outcome in ("id_number", "phone"):
            return self.to_exists(flow, outcome)
        claim(self, flow, back)  # nothing was created: the citizen may try again
        if outcome == "busy":
            return Stay({"form": msg("register.phone_busy")}, status=409)
        return Stay({"form": msg("register.create_failed")}, status=503)
