"""The second-factor step (seed §2, second half), shared by the login flow (after the
password) and the step-up flow (a LoA1 session asked for LoA2: only this step runs).

It names no method: the states, the options of "Chọn phương thức xác thực khác", the check
of a response and the `amr` all come from the sign-in method registry
(idp/methods/registry.py). States: one per second-factor method (`sms`, `totp`, `recovery`
today) and `choose`. Flow data: `citizen_id`, `method`, `option` (the chosen option's value,
`sms:1`), `phone` (E.164, the SMS target), `excluded` (methods not allowed in this login:
the SMS code right after a password reset proven by SMS, when the account has another factor
— ASVS 5.0 6.4.3).

Success finishes the flow with a login at the method's level (LoA2) and amr per RFC 8176
(registry.login_amr: pwd + sms + mfa, pwd + otp + mfa); the engine starts the SSO session
(engine.Finish(login=...), session.sign_in).

Every code page says in one sentence why a code is asked now (`reason`): every login needs
it (the deployment's `login_min_acr`), the service being opened asks more than the session
has (step-up), or the password was just reset by SMS.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, render_template, url_for
from werkzeug.datastructures import MultiDict

from idp.accounts import factors, otp
from idp.interaction import policy
from idp.interaction import session as sso
from idp.interaction.engine import Finish, Flow, FlowConflict, FlowGone, Goto, Login, Stay, save
from idp.methods import refusal as refusals
from idp.methods import registry
from idp.methods.base import Method, Option
from idp.methods.refusal import Refusal
from idp.platform import audit
from idp.platform.db import db
from idp.platform.masking import mask_phone
from idp.platform.messages import Message, msg
from idp.platform.models import Citizen

CHOOSE = "choose"
METHOD_STATES: tuple[str, ...] = tuple(m.id for m in registry.second_factors())
STATES: tuple[str, ...] = METHOD_STATES + (CHOOSE,)
# Declared transitions (CORE.md): a method's page may stay on itself (a resend) or go to the
# choice page; the choice page goes to any method. The login and step-up kinds include this.
TRANSITIONS: dict[str, frozenset[str]] = {
    **{state: frozenset({state, CHOOSE}) for state in METHOD_STATES},
    CHOOSE: frozenset(METHOD_STATES),
}
# The method a password reset was proven with: not enough for the next login when the
# account has another second factor (module docstring).
RESET_PROVEN_BY = "sms"


def _citizen(flow: Flow) -> Citizen:
    citizen = db.session.get(Citizen, flow.data["citizen_id"])
    if citizen is None or citizen.status != "active":
        raise FlowGone()
    return citizen


def _excluded(citizen: Citizen) -> list[str]:
    if citizen.sms_reset_pending and factors.has_non_sms_factor(citizen):
        return [RESET_PROVEN_BY]
    return []


def _excluded_in(flow: Flow) -> list[str]:
    """`excluded`, or from a flow saved before issue 13, its `sms_allowed` flag."""
    if "excluded" in flow.data:
        return list(flow.data["excluded"])
    return [] if flow.data.get("sms_allowed", True) else [RESET_PROVEN_BY]


def options(flow: Flow, citizen: Citizen) -> list[Option]:
    """What this account may use in this login, in registry order."""
    excluded = set(_excluded_in(flow))
    return [o for m in registry.second_factors() if m.id not in excluded
            for o in m.options(citizen)]


def _use(flow: Flow, option: Option) -> None:
    flow.data.update(method=option.method, option=option.value)
    if option.target:
        flow.data["phone"] = option.target


def start(flow: Flow, citizen: Citizen) -> str:
    """Choose the first usable method for this account; returns the state to go to."""
    flow.data["citizen_id"] = citizen.id
    flow.data["excluded"] = _excluded(citizen)
    usable = options(flow, citizen)
    if not usable:  # cannot happen: the default phone always remains (accounts/factors.py)
        raise FlowGone()
    _use(flow, usable[0])
    return usable[0].method


def _current_option(flow: Flow, citizen: Citizen) -> Option:
    method = registry.by_id(flow.state)
    found = [o for o in method.options(citizen) if o.value == flow.data.get("option")]
    if found:
        return found[0]
    # A flow record from before this module named options: the SMS target is the phone.
    return Option(method.id, flow.data.get("option", method.id), "", flow.data.get("phone", ""))


def reason(flow: Flow) -> Message:
    """One sentence: why a second factor is asked now (module docstring)."""
    by = "sms" if flow.state == "sms" else "other"
    if _excluded_in(flow):
        return msg("second_factor.reason_sms_reset")
    if flow.data.get("first") == "federated":  # a VNeID login below the level asked
        return msg("second_factor.reason_federated_" + by)
    if flow.kind == "login" and policy.LEVELS[_floor(flow)] >= 2:
        return msg("second_factor.reason_login_" + by)
    if not flow.client_id:  # the IdP's own account page (account/access.py)
        return msg("second_factor.reason_account_" + by)
    return msg("second_factor.reason_service_" + by)


def _floor(flow: Flow) -> str:
    """The login floor the policy recorded (`flow.needed.floor`, interaction/policy.Needed)."""
    return flow.needed.floor if flow.needed is not None else "LoA2"


def render(flow: Flow, errors: dict[str, Any] | None = None,
           notice: str | None = None) -> Any:
    citizen = _citizen(flow)
    state = flow.state
    usable = options(flow, citizen)
    context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors or {},
               "notice": notice, "lost_phone_url": _lost_phone_url(flow),
               "register_url": None, "reason": reason(flow), "has_other": len(usable) > 1}
    if state == CHOOSE:
        return render_template("choose_method.html", options=usable, **context)
    method = registry.by_id(state)
    if state == "sms":
        phone = flow.data["phone"]
        if otp.challenge(flow.id) is None and not errors:
            try:
                method.start(flow.id, citizen, _current_option(flow, citizen))
            except Refusal as refused:
                context["errors"] = refused.errors()
        return render_template("otp.html", masked_phone=mask_phone(phone),
                               resend_in=otp.seconds_until_resend(flow.id), **context)
    return render_template("factor_code.html", method=state, **context)


def _lost_phone_url(flow: Flow) -> str | None:
    endpoint = current_app.view_functions.get("recovery.lost_phone")
    return url_for("recovery.lost_phone", flow=flow.id) if endpoint else None


def handle(flow: Flow, form: MultiDict[str, str],
           finish_updates: dict[str, bool]) -> Stay | Goto | Finish:
    """Returns Stay/Goto/Finish for the second-factor states."""
    citizen = _citizen(flow)
    action = form.get("action")
    if action == "choose":
        return Goto(CHOOSE)
    if flow.state == CHOOSE:
        return _chosen(flow, citizen, form.get("method", ""))
    method = registry.by_id(flow.state)
    try:
        if action == "resend":  # "Gửi lại OTP"
            method.start(flow.id, citizen, _current_option(flow, citizen), requested=True)
            return Goto(flow.state)
        code = (form.get("otp") or form.get("code") or "").strip()
        if not code:
            raise refusals.code_required()
        method.verify(flow.id, citizen, code)
    except Refusal as refused:
        return Stay.refused(refused)
    return _succeed(flow, citizen, method, finish_updates)


def _chosen(flow: Flow, citizen: Citizen, choice: str) -> Stay | Goto:
    chosen = next((o for o in options(flow, citizen) if o.value == choice), None)
    if chosen is None:
        return Stay({"form": msg("second_factor.choose_required")}, status=400)
    _use(flow, chosen)
    challenge = otp.challenge(flow.id)
    if chosen.target and challenge is not None and challenge.phone != chosen.target:
        # Another phone: its own code (cooldown and budgets still apply).
        try:
            registry.by_id(chosen.method).start(flow.id, citizen, chosen, requested=True)
        except Refusal as refused:
            flow.state = chosen.method
            save(flow)
            return Stay.refused(refused)
    return Goto(chosen.method)


def _succeed(flow: Flow, citizen: Citizen, method: Method,
             finish_updates: dict[str, bool]) -> Finish:
    session = sso.current()
    if flow.kind == "stepup" and (session is None or session.citizen_id != citizen.id):
        raise FlowConflict()  # the browser's login changed meanwhile
    if citizen.sms_reset_pending and (method.id != RESET_PROVEN_BY
                                      or not factors.has_non_sms_factor(citizen)):
        citizen.sms_reset_pending = False
        db.session.commit()
    audit.record("login.second_factor_ok", citizen_id=citizen.id, client_id=flow.client_id,
                 method=method.id)
    # "Ghi nhớ đăng nhập" was carried in the flow from the login page (flows/login.py).
    # The first step: the password, unless the flow says (`first`: "federated", a VNeID
    # login below the level asked, flows/federated/flow.py).
    first = registry.by_id(flow.data["first"]) if flow.data.get("first") else None
    return Finish(dict(finish_updates),
                  login=Login(citizen, method.level, registry.login_amr(method, first),
                              bool(flow.data.get("remember")), flow.data.get("upstream")))
