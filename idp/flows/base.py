"""The flow model: a small server-side state machine bound to a pending authorization request
and to the browser (DESIGN.md §2).

A flow lives in the ephemeral store under `flow:<id>` with a TTL, so any node can serve the
next step. The browser holds only the opaque id (in the URL) plus the signed browser id
cookie it is bound to; every POST is CSRF-checked (Flask-WTF) and dispatched by the flow's
*current* state, and the state is saved with compare-and-set on the record's revision, so a
step can neither be skipped nor replayed, even by two parallel requests. The browser id is
renewed at every login and logout (session.py), so a flow started before a login is gone
after it — except the one that ran the login, whose pending authorization views.complete
re-binds.

A flow kind subclasses `FlowKind`, names its states, and implements `render` (GET) and
`handle` (POST) for each. `handle` returns one of:
  - `Stay(errors)`: show the same step again with field errors (PRG is not used for errors so
    the typed values can be kept without storing them),
  - `Goto(state)`: move to another step (303 to the flow's page),
  - `Finish(outcome)`: the flow is done; the pending authorization resumes.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from flask import current_app, url_for

from idp.interaction import session as sso
from idp.platform.crypto import random_token
from idp.platform.db import now


FLOW_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class FlowGone(Exception):
    """Unknown, expired, finished, or bound to another browser."""


class FlowConflict(Exception):
    """The flow changed under us (a parallel request won)."""


@dataclass
class Flow:
    id: str
    kind: str
    state: str
    pending: str  # uid of the pending authorization it resumes
    client_id: str
    data: dict = field(default_factory=dict)
    created: float = 0.0
    rev: int = 0

    @property
    def url(self) -> str:
        return url_for("flows.show", flow_id=self.id)

    def to_record(self) -> dict:
        return {"kind": self.kind, "state": self.state, "pending": self.pending,
                "client_id": self.client_id, "data": self.data, "created": self.created,
                "bid": sso.browser_binding()}


@dataclass
class Stay:
    errors: dict
    values: dict = field(default_factory=dict)
    status: int = 200
    retry_after: int = 0  # seconds, sent as Retry-After (with a 429)


@dataclass
class Goto:
    state: str


@dataclass
class Finish:
    """The flow is done; `pending_updates` are merged into the pending authorization (e.g.
    {"login_done": true}) before it resumes. `next_flow` = (kind, data) hands the same
    pending authorization to another flow instead of resuming it (e.g. login -> recover)."""
    pending_updates: dict = field(default_factory=dict)
    next_flow: tuple[str, dict] | None = None


class FlowKind(ABC):
    name: str = ""
    initial_state: str = ""

    def initial_data(self, session) -> dict:
        """Flow data at creation, from the browser's SSO session (None when logged out)."""
        return {}

    @abstractmethod
    def render(self, flow: Flow, errors: dict | None = None, values: dict | None = None):
        """The page of the flow's current state (GET, or a POST that stays)."""

    @abstractmethod
    def handle(self, flow: Flow, form) -> Stay | Goto | Finish:
        """A POST to the flow's current state."""


def _store():
    return current_app.extensions["idp.store"]


def _ttl() -> int:
    return current_app.config["IDP"]["flow_ttl"]


def create(kind: FlowKind, pending_uid: str, client_id: str, data: dict | None = None) -> Flow:
    flow = Flow(id=random_token(24), kind=kind.name, state=kind.initial_state,
                pending=pending_uid, client_id=client_id, data=data or {}, created=now())
    _store().put("flow:" + flow.id, flow.to_record(), _ttl())
    return flow


def load(flow_id: str) -> Flow:
    if not FLOW_ID.fullmatch(flow_id or ""):
        raise FlowGone()
    found = _store().get_rev("flow:" + flow_id)
    if found is None:
        raise FlowGone()
    record, rev = found
    if record.get("bid") != sso.browser_binding():
        raise FlowGone()
    return Flow(id=flow_id, kind=record["kind"], state=record["state"],
                pending=record["pending"], client_id=record["client_id"],
                data=record.get("data", {}), created=record.get("created", 0.0), rev=rev)


def save(flow: Flow) -> None:
    """Compare-and-set: fails if another request changed the flow since it was loaded."""
    remaining = max(1.0, flow.created + _ttl() - now())
    if not _store().cas("flow:" + flow.id, flow.rev, flow.to_record(), remaining):
        raise FlowConflict()
    flow.rev += 1


def finish(flow: Flow) -> bool:
    """Remove the flow; True for exactly one caller."""
    return _store().take("flow:" + flow.id) is not None
