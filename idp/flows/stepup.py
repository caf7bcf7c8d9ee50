"""Step-up: the browser has a LoA1 session and the request needs LoA2 — only the second-factor
step runs, for the session's own account (DESIGN.md §2)."""
from __future__ import annotations

from idp.flows import base, second_factor


class StepUpFlow(base.FlowKind):
    name = "stepup"
    initial_state = "sms"

    def initial_data(self, session) -> dict:
        return {"citizen_id": session.citizen_id}

    def begin(self, flow, citizen) -> None:
        flow.state = second_factor.start(flow, citizen)

    def render(self, flow, errors=None, values=None):
        return second_factor.render(flow, errors)

    def handle(self, flow, form):
        return second_factor.handle(flow, form, {"login_done": True})
