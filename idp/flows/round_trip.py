"""A round trip through an outside party's own page — VNPT SmartCA's login
(flows/smartca_callback.py), VNeID's (flows/federated/upstream_step.py) — from a flow's page
and back into the same flow. What both need, in one place:

- `leave`: the `state` record, bound to the flow and to this browser, kept in the ephemeral
  store for `ttl` seconds; the flow is remembered in the Flask session (`SESSION_KEY` of the
  caller) to say where a refused return is told;
- `back`: the state taken once (a replayed return finds nothing), compared with this
  browser's binding (a return carried into another browser — login CSRF, a leaked URL — is
  refused), and the flow it was made for, which must still be at its page (`at_entry`);
- `state_refused`: a state this browser cannot use, said on the page of the flow this
  browser last sent out (if still there), else on the error page.

Why the caller says `at_entry`: a flow kind declares the state whose page has the button
(`certificate_states[0]`, `upstream_state`).
"""
from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from flask import current_app, redirect, render_template, request, session

from idp.interaction import engine
from idp.interaction.engine import Flow, FlowGone, FlowKind
from idp.platform.browser import browser_binding
from idp.platform.messages import Message, msg

log = logging.getLogger("idp.flows")
MAX_STATE = 512
AtEntry = Callable[[Flow], FlowKind | None]
Refused = Callable[[FlowKind, Flow, Message], Any]


def _store() -> Any:
    return current_app.extensions["idp.store"]


def leave(prefix: str, session_key: str, flow: Flow, state: str, ttl: int,
          **extra: Any) -> None:
    """Keep `state` for the return (`extra`: what the return needs besides the flow)."""
    _store().put(prefix + state, {"flow_id": flow.id, "bid": browser_binding(), **extra}, ttl)
    session[session_key] = flow.id


def back(prefix: str, at_entry: AtEntry, party: str
         ) -> tuple[dict[str, Any], Flow, FlowKind] | tuple[None, Any, None]:
    """(record, flow, kind) of a good return; else (None, the answer to give, None): a
    state unknown, used or of another browser → None as the answer (the caller says
    `state_refused`); the flow gone or moved on → its page or the gone page."""
    state = request.args.get("state", "")
    record = _store().take(prefix + state) if 0 < len(state) <= MAX_STATE else None
    if record is None or not hmac.compare_digest(str(record.get("bid", "")),
                                                 browser_binding()):
        log.info("%s return: state %s", party, "unknown or used" if record is None
                 else "of another browser")
        return None, None, None
    flow, kind = at_page(str(record["flow_id"]), at_entry)
    if kind is None:
        return None, flow, None
    return record, flow, kind


def at_page(flow_id: str, at_entry: AtEntry) -> tuple[Any, FlowKind | None]:
    """(flow, kind) when the flow is at its page with the button; else (the answer, None):
    the gone page, or the flow's own page when it moved on (another tab of the browser)."""
    try:
        flow = engine.load(flow_id)
    except FlowGone:
        return engine.gone_page(), None
    kind = at_entry(flow)
    if kind is None:
        return redirect(flow.url, 303), None
    return flow, kind


def state_refused(session_key: str, at_entry: AtEntry, message: Message,
                  refused: Refused) -> Any:
    """A state this browser cannot use (module docstring)."""
    try:
        flow: Flow | None = engine.load(str(session.get(session_key) or ""))
    except FlowGone:
        flow = None
    kind = at_entry(flow) if flow is not None else None
    if flow is None or kind is None:
        return render_template("error.html", title=msg("flow.refused_title"),
                               message=message), 400
    return refused(kind, flow, message)
