"""Step-up: the browser has a session below what the request needs (policy check
`level_below`) — only the missing step runs, for the session's own account (DESIGN.md §2):
the second factor for LoA2 (the states of flows/second_factor.py), a certificate for LoA3
(flows/certificate_step.py, state `certificate`: the certificate must name the session's
account; a password or a code never reaches LoA3)."""
from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from werkzeug.datastructures import MultiDict

from idp.flows import certificate_step, second_factor
from idp.interaction.engine import Finish, Flow, FlowGone, FlowKind, Outcome, Stay
from idp.interaction.policy import LEVELS
from idp.platform.db import db
from idp.platform.messages import msg
from idp.platform.models import Citizen, SsoSession

CERTIFICATE = "certificate"


class StepUpFlow(FlowKind):
    name = "stepup"
    initial_state = "sms"
    transitions = {**second_factor.TRANSITIONS, CERTIFICATE: frozenset()}

    def initial_data(self, session: SsoSession | None) -> dict[str, Any]:
        return {"citizen_id": session.citizen_id} if session is not None else {}

    def begin(self, flow: Flow, citizen: Citizen) -> None:
        if flow.needed is not None and LEVELS[flow.needed.level] >= 3:
            flow.state = CERTIFICATE
        else:
            flow.state = second_factor.start(flow, citizen)

    def render(self, flow: Flow, errors: dict[str, Any] | None = None,
               values: dict[str, Any] | None = None) -> Any:
        if flow.state != CERTIFICATE:
            return second_factor.render(flow, errors)
        values = values or {}
        carriers = certificate_step.carriers()
        carrier = (certificate_step.carrier(values.get("tab") or request.args.get("tab"))
                   or next(iter(carriers), None))
        return render_template(
            "stepup_certificate.html", action=url_for("flows.submit", flow_id=flow.id),
            errors=errors or {}, tab=carrier.id if carrier else "",
            tabs={m.id: f"{flow.url}?tab={m.id}" for m in carriers},
            signer=certificate_step.panel(flow, carrier) if carrier else None,
            unavailable=msg("certificate.unavailable"))

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if flow.state != CERTIFICATE:
            return second_factor.handle(flow, form, {"login_done": True})
        carrier = certificate_step.carrier(form.get("method"))
        if carrier is None:
            return Stay({"form": msg("certificate.unavailable")}, {}, 400)
        citizen = db.session.get(Citizen, flow.data.get("citizen_id"))
        if citizen is None or citizen.status != "active":
            raise FlowGone()
        outcome = certificate_step.answer(flow, carrier, form, citizen)
        if isinstance(outcome, Stay):
            return outcome
        return Finish({"login_done": True}, login=outcome)
