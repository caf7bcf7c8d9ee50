"""The account page's enrolments as flow kinds (one flow anatomy, idp/interaction/engine.py):
adding or changing a phone (phones.py), the authenticator app (authenticator.py), a new set
of recovery codes (recovery_codes.py).

Each enrolment is a flow with a declared transition table, run on an internal pending
request of kind "account" that returns to the account page; a submit returns an outcome
(`Stay` with message ids, `Goto` a declared state, `Finish`) and the engine turns it into
HTTP, as for a login. The step that binds the factor first *claims* its final state
(flows/claim.py, compare-and-set), so of two parallel submits exactly one binds.

What differs from a login flow: the kinds are `routed`. Each state has the account page's
own address (`endpoints`: /account/phones/new, /account/phones/verify …), which stay as they
were, and the engine never serves them at /flows/<id>. There is one flow per kind and SSO
session: its id is derived from the session id (`flow_id`), so the fixed address finds it,
a new start replaces an older one, and another session (another browser, another login)
finds nothing. Like every flow it is bound to the browser and expires (`flow_ttl`).
"""
from __future__ import annotations

import base64
import hashlib
from typing import Any, ClassVar

from flask import url_for
from werkzeug.datastructures import MultiDict

from idp.flows.account.access import Account
from idp.interaction import engine, pending
from idp.interaction.engine import Flow, FlowGone, FlowKind, ViewResult


class AccountFlow(FlowKind):
    """An enrolment of the account page: `endpoints[state]` is the page of each state a
    browser is sent to; a final state (claimed, then finished) has the account page."""

    routed = True
    endpoints: ClassVar[dict[str, str]] = {}

    def url(self, flow: Flow) -> str:
        return url_for(self.endpoints.get(flow.state, "account.index"))


def flow_id(kind: str, account: Account) -> str:
    """The id of this session's flow of `kind` (a digest: the session id never shows)."""
    digest = hashlib.sha256(f"{kind}:{account.session.sid}".encode()).digest()
    return "acct-" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def start(kind: str, account: Account, data: dict[str, Any]) -> Flow:
    """A new flow of `kind` for this session (replacing any earlier one)."""
    return engine.start_internal(kind, pending.ACCOUNT, url_for("account.index"), data=data,
                                 flow_id=flow_id(kind, account))


def find(kind: str, account: Account, state: str | None = None) -> Flow | None:
    """This session's flow of `kind` (in `state`, when given), or None."""
    try:
        flow = engine.load(flow_id(kind, account))
    except FlowGone:
        return None
    if flow.kind != kind or (state is not None and flow.state != state):
        return None
    return flow


def answer(flow: Flow, form: MultiDict[str, str] | None) -> ViewResult:
    """The flow's page (GET: `form` None) or the outcome of a submit, through the engine."""
    return engine.answer(flow.id, form, routed=True)
