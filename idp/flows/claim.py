"""Claiming a step before a side effect (compare-and-set on the flow's revision): a flow that
creates an account, changes a password or files a complaint first moves to a transient state
("creating", "filing", …) and saves, so of a double submit exactly one request does the work.
The move is checked against the kind's declared transitions like any `Goto`."""
from __future__ import annotations

from idp.interaction import engine
from idp.interaction.engine import Flow, FlowConflict, FlowKind


def claim(kind: FlowKind, flow: Flow, state: str) -> None:
    """Move `flow` to `state` now (a declared transition), saved with compare-and-set;
    FlowConflict when the move is undeclared or another request changed the flow."""
    if not engine.allowed(kind, flow.state, state):
        raise FlowConflict(f"{flow.kind}: undeclared claim {flow.state} -> {state}")
    flow.state = state
    engine.save(flow)
