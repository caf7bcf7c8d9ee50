"""Step-up: the browser has a session below what the request needs (policy check
`level_below`) — only the missing step runs, for the session's own account (DESIGN.md §2):
the second factor for LoA2 (the states of flows/second_factor.py), a certificate for LoA3
(flows/certificate_step.py, state `certificate`: the certificate must name the session's
account; a password or a code never reaches LoA3). A remote carrier (SIM ký số, VNPT
SmartCA) waits in `signer_wait` for the citizen's phone, then finishes or goes back to
`certificate` with the reason."""
from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from werkzeug.datastructures import MultiDict

from idp.flows import certificate_step, second_factor
from idp.interaction.engine import Flow, FlowGone, FlowKind, Goto, Outcome, Stay
from idp.interaction.policy import LEVELS
from idp.platform.db import db
from idp.platform.messages import msg
from idp.platform.models import Citizen, SsoSession

CERTIFICATE = "certificate"
SIGNER_WAIT = "signer_wait"


class StepUpFlow(FlowKind):
    name = "stepup"
    initial_state = "sms"
    transitions = {**second_factor.TRANSITIONS, CERTIFICATE: frozenset({SIGNER_WAIT}),
                   SIGNER_WAIT: frozenset({CERTIFICATE})}
    certificate_states = (CERTIFICATE, SIGNER_WAIT)  # as login.py's (smartca_callback.py)

    def initial_data(self, session: SsoSession | None) -> dict[str, Any]:
        return {"citizen_id": session.citizen_id} if session is not None else {}

    def begin(self, flow: Flow, citizen: Citizen) -> None:
        if flow.needed is not None and LEVELS[flow.needed.level] >= 3:
            flow.state = CERTIFICATE
        else:
            flow.state = second_factor.start(flow, citizen)

    def render(self, flow: Flow, errors: dict[str, Any] | None = None,
               values: dict[str, Any] | None = None) -> Any:
        if flow.state == SIGNER_WAIT:
            return certificate_step.render_wait(flow, errors, values)
        if flow.state != CERTIFICATE:
            return second_factor.render(flow, errors)
        values = values or {}
        shown = None if errors else certificate_step.notice(flow)
        if shown is not None:
            errors, values = shown[0], {**values, **shown[1]}
        carriers = certificate_step.tab_carriers()
        carrier = (certificate_step.tab(values.get("tab") or request.args.get("tab"))
                   or next(iter(carriers), None))
        smartca = certificate_step.redirect_carrier()
        return render_template(
            "stepup_certificate.html", action=url_for("flows.submit", flow_id=flow.id),
            errors=errors or {}, tab=carrier.id if carrier else "",
            tabs={m.id: f"{flow.url}?tab={m.id}" for m in carriers},
            signer=certificate_step.panel(flow, carrier) if carrier else None,
            signer_account=values.get(certificate_step.ACCOUNT_FIELD, ""),
            smartca_action=url_for("smartca_signin.begin", flow_id=flow.id)
            if smartca is not None else None,
            unavailable=msg("certificate.unavailable") if smartca is None else None)

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if flow.state not in (CERTIFICATE, SIGNER_WAIT):
            return second_factor.handle(flow, form, {"login_done": True})
        citizen = db.session.get(Citizen, flow.data.get("citizen_id"))
        if citizen is None or citizen.status != "active":
            raise FlowGone()
        if flow.state == SIGNER_WAIT:
            return certificate_step.outcome(certificate_step.check(flow, form, citizen),
                                            CERTIFICATE)
        carrier = certificate_step.carrier(form.get("method"))
        if carrier is None:
            return Stay({"form": msg("certificate.unavailable")}, {}, 400)
        if certificate_step.is_remote(carrier):  # SIM ký số: the request goes to the phone
            return certificate_step.begin(flow, carrier, form) or Goto(SIGNER_WAIT)
        return certificate_step.outcome(certificate_step.answer(flow, carrier, form, citizen),
                                        CERTIFICATE)
