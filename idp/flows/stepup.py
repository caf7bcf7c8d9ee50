"""Step-up: the browser has a LoA1 session and the request needs LoA2 (policy check
`level_below`) — only the second-factor step runs, for the session's own account
(DESIGN.md §2). Its states and transitions are those of flows/second_factor.py."""
from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from idp.flows import second_factor
from idp.interaction.engine import Flow, FlowKind, Outcome
from idp.platform.models import Citizen, SsoSession


class StepUpFlow(FlowKind):
    name = "stepup"
    initial_state = "sms"
    transitions = second_factor.TRANSITIONS

    def initial_data(self, session: SsoSession | None) -> dict[str, Any]:
        return {"citizen_id": session.citizen_id} if session is not None else {}

    def begin(self, flow: Flow, citizen: Citizen) -> None:
        flow.state = second_factor.start(flow, citizen)

    def render(self, flow: Flow, errors: dict[str, Any] | None = None,
               values: dict[str, Any] | None = None) -> Any:
        return second_factor.render(flow, errors)

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        return second_factor.handle(flow, form, {"login_done": True})
