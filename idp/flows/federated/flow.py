"""The "federated" flow kind: what follows a VNeID login when it cannot finish at once
(flows/federated/upstream_step.arrived hands the pending authorization over to it).

    stateDiagram-v2
      [*] --> no_account: no account has this personal identification number
      [*] --> sms/totp/recovery: an account was found, VNeID level below what the portal
                                 asked: the account's own second factor (begin)
      no_account --> create: "Tạo tài khoản mới"
      no_account --> former: "Tôi đã có tài khoản đăng ký bằng số CMND 9 số"
      no_account --> [*]: "Quay lại": back to the login page (the same authorization)
      create --> create_code: consent to the purpose (Decree 13/2023) and a phone → SMS code
      create_code --> created: the code typed back → the account is created from VNeID's
                               verified name and birth date, linked, logged in
      former --> sms/totp/recovery: the old account's ID number, password and captcha
      sms/totp/recovery --> moved: its second factor → the account moves to the 12-digit
                                   number and is linked, logged in
      created, moved --> [*]: "Tiếp tục": the authorization resumes

Flow data: `asserted` (accounts/federation.Asserted.record), `upstream` (for logout:
interaction/upstream_session.py), `first` ("federated"; "password" in the CMND path), `from`
(the kind the citizen came from: "login" or "register"), `remember`, `person` (the create
path), `former` (the CMND path), and the second-factor step's own keys.

Levels: a login through here is LoA2 — fed + the SMS code to a phone just proven (create),
fed + password + second factor (CMND), or the account's second factor after a VNeID level-1
login (second_factor.py; its `amr` starts with `fed`).
"""
from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from werkzeug.datastructures import MultiDict

from idp.accounts import federation, organisations, otp
from idp.accounts.federation import Asserted, LinkRefused
from idp.accounts.validation import ValidationError, normalize_phone
from idp.flows import second_factor
from idp.flows.claim import claim
from idp.flows.federated import former
from idp.flows.register import person as people
from idp.flows.register.limits import SEND_WORDS
from idp.interaction.engine import Fields, Flow, FlowKind, ViewResult, table
from idp.interaction.outcomes import Finish, Goto, HandOver, Login, Outcome, Refuse, Stay
from idp.methods import refusal as refusals
from idp.platform import audit
from idp.platform.masking import mask_id_number
from idp.platform.messages import msg
from idp.platform.models import Citizen

DONE_STATES = ("created", "moved")


def _asserted(flow: Flow) -> Asserted:
    return Asserted.from_record(flow.data["asserted"])


def _code_id(flow: Flow) -> str:
    return flow.id + ":new"  # the new account's phone (the CMND path's code is the flow's)


def _transitions() -> dict[str, frozenset[str]]:
    own = table(no_account="create former", create="no_account create create_code",
                create_code="create create_code created creating", creating="created create",
                former="no_account former " + " ".join(second_factor.METHOD_STATES),
                created="", moved="")
    # the second factor may end in "moved" (the CMND path) as well as in a login
    steps = {state: targets | {"moved"} for state, targets in second_factor.TRANSITIONS.items()}
    return {**own, **steps}


class FederatedFlow(FlowKind):
    name = "federated"
    initial_state = "no_account"
    transitions = _transitions()

    def begin(self, flow: Flow, citizen: Citizen) -> None:
        """An account was found at a VNeID level below the portal's: its second factor."""
        flow.state = second_factor.start(flow, citizen)

    # ----------------------------------------------------------------------- pages
    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        errors, values = errors or {}, values or {}
        if flow.state in second_factor.STATES:
            return second_factor.render(flow, errors)
        asserted = _asserted(flow)
        context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors,
                   "asserted": asserted, "masked_pid": mask_id_number(asserted.pid)}
        if flow.state == "former":
            return former.render(flow, context, values)
        if flow.state == "create":
            return render_template("federated_create.html", values=values, **context)
        if flow.state == "create_code":
            return render_template(
                "register_code.html", phone=people.national(flow.data["person"]["phone"]),
                resend_in=otp.seconds_until_resend(_code_id(flow)), resent=False,
                resent_notice=None, **context)
        if flow.state in DONE_STATES:
            return render_template("federated_done.html", state=flow.state,
                                   former_id=mask_id_number(flow.data.get("former_id", "")),
                                   **context)
        return render_template("federated_choose.html", **context)

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if flow.state in second_factor.STATES:
            outcome = second_factor.handle(flow, form, {"login_done": True})
            if flow.data.get("former") and isinstance(outcome, Finish):
                return self._move(flow, outcome.login)
            return outcome
        steps = {"no_account": self._choose, "create": self._create,
                 "create_code": self._create_code, "former": former.handle,
                 "creating": lambda f, form: Stay({"form": msg("register.creating")}, {}, 409),
                 "created": self._done, "moved": self._done}
        return steps[flow.state](flow, form)

    @staticmethod
    def _choose(flow: Flow, form: MultiDict[str, str]) -> Outcome:
        action = form.get("action")
        if action in ("create", "former"):
            return Goto(str(action))
        return HandOver(str(flow.data.get("from") or "login"))  # "Quay lại"

    # ----------------------------------------------------------------------- create
    @staticmethod
    def _create(flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if form.get("action") == "back":
            return Goto("no_account")
        typed = (form.get("phone") or "").strip()[:20]
        errors: dict[str, Any] = {}
        if (form.get("consent") or "").lower() not in people.CONSENT_VALUES:
            errors["consent"] = msg("register.consent_required")
        try:
            phone = normalize_phone(typed)
        except ValidationError as exc:
            errors["phone"] = exc.message
        if errors:
            return Stay(errors, {"phone": typed}, 400)
        if people.phone_in_use(phone):
            return Stay({"phone": msg("federation.phone_taken")}, {"phone": typed}, 400)
        try:
            otp.send(_code_id(flow), "register", phone)
        except otp.OtpRefused as exc:
            return Stay.refused(refusals.refused(exc, SEND_WORDS), {"phone": typed})
        asserted = _asserted(flow)
        flow.data["person"] = {"id_number": asserted.pid, "full_name": asserted.full_name,
                               "birth_date": asserted.birth_date, "gender": "",
                               "phone": phone, "email": None}
        flow.data["method"] = "bca"
        return Goto("create_code")

    def _create_code(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        phone = flow.data["person"]["phone"]
        if form.get("action") == "edit":
            return Goto("create")
        try:
            if form.get("action") == "resend":
                otp.send(_code_id(flow), "register", phone)
                return Goto("create_code")
            code = (form.get("otp") or "").strip()
            if not code:
                return Stay.refused(refusals.code_required())
            if not otp.verify(_code_id(flow), "register", code):
                return Stay.refused(refusals.wrong_code())
        except otp.OtpRefused as exc:
            return Stay.refused(refusals.refused(exc, SEND_WORDS))
        claim(self, flow, "creating")  # a double submit creates at most one account
        created = people.create(flow, flow.data["person"], organisations.NO_PASSWORD)
        if isinstance(created, str):
            claim(self, flow, "create")
            audit.record("federation.create_failed", client_id=flow.client_id or None,
                         reason=created)
            if created == "phone":
                return Stay({"phone": msg("federation.phone_taken")}, {}, 409)
            if created == "id_number":
                return Refuse(msg("federation.exists"), 409)
            return Stay({"form": msg("register.create_failed")}, {}, 503)
        audit.record("federation.created", citizen_id=created.id,
                     client_id=flow.client_id or None, provider=_asserted(flow).provider)
        return Goto("created", login=Login(created, "LoA2", ["fed", "sms", "mfa"],
                                           bool(flow.data.get("remember")),
                                           flow.data.get("upstream")))

    # ----------------------------------------------------------------------- the CMND path
    @staticmethod
    def _move(flow: Flow, proven: Login | None) -> Outcome:
        """The old account's password and second factor were right: move it (one
        transaction, accounts/federation.move_former) and log in."""
        if proven is None:
            return Refuse(msg("flow.gone"))
        citizen = proven.citizen
        old = citizen.id_number
        try:
            federation.move_former(citizen, _asserted(flow))
        except LinkRefused as exc:
            return Refuse(msg("federation." + exc.reason), 409)
        flow.data["former_id"] = old
        amr = ["fed"] + [a for a in proven.amr if a != "fed"]
        return Goto("moved", login=Login(citizen, proven.acr, amr, proven.remember,
                                         flow.data.get("upstream")))

    @staticmethod
    def _done(flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if form.get("action") != "continue":
            return Stay({})
        result = {"login_done": True}
        if flow.data.get("from") == "register":
            result["register_done"] = True
        return Finish(result)
