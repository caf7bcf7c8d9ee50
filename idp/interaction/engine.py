"""The flow engine: one anatomy for every interactive step (Kratos's flows), and the one place
an outcome becomes HTTP. Reading order of one login: protocol/authorize.py →
interaction/policy.py → interaction/pending.py → **this module** → flows/login.py →
flows/second_factor.py → protocol/authorize.resume.

A *flow* is a small server-side state machine bound to a pending authorization and to the
browser (DESIGN.md §2). It lives in the ephemeral store under `flow:<id>` with a TTL, so any
node serves the next step; the browser holds only the opaque id (in the URL) and the signed
browser-binding cookie. Every POST is CSRF-checked (Flask-WTF) and dispatched by the flow's
*current* state; the state is saved with compare-and-set on the record's revision, so a step
can be neither skipped nor replayed, even by two parallel requests.

A *flow kind* (`FlowKind`, registered at start-up by idp.flows.init_app with `register`: this
module never imports idp.flows) declares its states and transitions
(`transitions[state]` = the states a submit may go to), renders its current state (GET) and
handles a submit (POST) by returning an *outcome*:
  - `Stay(errors)`: show the same step again with field errors (message ids), status,
    Retry-After (`Stay.refused(refusal)` from a sign-in method's refusal);
  - `Goto(state)`: 303 to the flow's page in `state` — only a declared transition; any other
    is logged and refused with the conflict page, never applied;
  - `Finish(result, login=Login(...))`: done. The session starts here (one place), `result`
    is merged into the pending authorization (pending.finish), and the browser goes to the
    resume URL (`authorize.resume`, by endpoint name) or an internal `return_to`;
  - `HandOver(kind, data)`: the same pending authorization goes on in a flow of another kind;
  - `Refuse(message, status)`: an error page with that message.
`respond` maps each outcome to HTTP; FlowGone / FlowConflict become the 410 / 409 pages.
"""
from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from idp.interaction import pending as pendings
from idp.interaction import session as sso
from idp.interaction import upstream_session
from idp.interaction.outcomes import Finish as Finish  # the outcomes, re-exported for the flows
from idp.interaction.outcomes import Goto as Goto
from idp.interaction.outcomes import HandOver as HandOver
from idp.interaction.outcomes import Login as Login
from idp.interaction.outcomes import Outcome as Outcome
from idp.interaction.outcomes import RefusalLike as RefusalLike
from idp.interaction.outcomes import Refuse as Refuse
from idp.interaction.outcomes import Stay as Stay
from idp.interaction.pending import Handover, Pending
from idp.interaction.policy import Needed
from idp.platform.crypto import random_token
from idp.platform.db import db, now
from idp.platform.messages import msg
from idp.platform.models import Citizen, SsoSession

log = logging.getLogger("idp.flows")
bp = Blueprint("flows", __name__)
FLOW_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ViewResult = Any  # what a Flask view returns: a Response, or (body, status[, headers])
Fields = dict[str, Any] | None  # a page's field errors or typed values, by field name


class FlowGone(Exception):
    """Unknown, expired, finished, or bound to another browser."""


class FlowConflict(Exception):
    """The flow changed under us (a parallel request won)."""


@dataclass
class Flow:
    """One running flow. `client_id` is the RP's ("" for an internal pending request);
    `needed` is what the policy asked of it (the login reads `needed.level`)."""
    id: str
    kind: str
    state: str
    pending: str  # uid of the pending authorization it resumes
    client_id: str
    data: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    rev: int = 0
    needed: Needed | None = None

    @property
    def url(self) -> str:
        """The page of the flow's current state (its kind's `url`)."""
        return KINDS[self.kind].url(self)

    @property
    def internal(self) -> bool:
        """Started by the IdP's own pages (account page, /recover), not by a portal."""
        return not self.client_id

    def to_record(self) -> dict[str, Any]:
        return {"kind": self.kind, "state": self.state, "pending": self.pending,
                "client_id": self.client_id, "data": self.data, "created": self.created,
                "bid": sso.browser_binding(),
                "needed": self.needed.to_record() if self.needed else None}


# --------------------------------------------------------------------------- kinds

class FlowKind(ABC):
    """A kind of flow. `transitions[state]` = the states a submit in `state` may go to
    (itself included if it may Goto itself); every state is a key, and a flow starts in
    `initial_state`: the table's first state unless declared. A kind with `routed` set is
    served at URLs of its own (`url`, e.g. the account page's enrolments), never at
    /flows/<id>."""
    name: ClassVar[str] = ""
    initial_state: ClassVar[str] = ""
    transitions: ClassVar[dict[str, frozenset[str]]] = {}
    routed: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "initial_state" not in cls.__dict__ and cls.transitions:
            cls.initial_state = next(iter(cls.transitions))

    def url(self, flow: Flow) -> str:
        """The page of `flow` in its current state."""
        return url_for("flows.show", flow_id=flow.id)

    def initial_data(self, session: SsoSession | None) -> dict[str, Any]:
        """Flow data at creation, from the browser's SSO session (None when logged out)."""
        return {}

    def begin(self, flow: Flow, citizen: Citizen) -> None:
        """Called once after creation when the flow starts for a known citizen."""
        return None  # most kinds need nothing

    @abstractmethod
    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        """The page of the flow's current state (GET, or a POST that stays)."""

    @abstractmethod
    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        """A POST to the flow's current state."""


def table(**targets: str) -> dict[str, frozenset[str]]:
    """A transition table written as `state="target other"` (space-separated targets; "" for
    a final state): `table(form="filing", filing="done form", done="")`."""
    return {state: frozenset(names.split()) for state, names in targets.items()}


KINDS: dict[str, FlowKind] = {}


def register(kind: FlowKind) -> None:
    """Add a kind, checking its declared transitions: the initial state and every target are
    declared states. A kind without transitions is refused."""
    states = set(kind.transitions)
    if not kind.name or kind.initial_state not in states:
        raise ValueError(f"flow kind {kind.name!r}: initial state not declared")
    for source, targets in kind.transitions.items():
        unknown = set(targets) - states
        if unknown:
            raise ValueError(f"flow kind {kind.name!r}: {source} -> undeclared {unknown}")
    KINDS[kind.name] = kind


def available() -> frozenset[str]:
    """The kinds registered (the policy refuses a flow that is not)."""
    return frozenset(KINDS)


def allowed(kind: FlowKind, source: str, target: str) -> bool:
    """Whether a submit in `source` may go to `target` (a declared transition)."""
    return target in kind.transitions.get(source, frozenset())


# --------------------------------------------------------------------------- storage

def _store() -> Any:
    return current_app.extensions["idp.store"]


def _ttl() -> int:
    return int(current_app.config["IDP"]["flow_ttl"])


def create(kind: FlowKind | str, p: Pending, data: dict[str, Any] | None = None,
           flow_id: str | None = None) -> Flow:
    """A new flow of `kind` for the pending authorization `p`, bound to this browser.
    `flow_id`: a routed kind's own id (one flow per session, e.g. the account page's
    enrolments); a flow already there under that id is replaced, and a request still
    holding the old one fails its next save (the store's revision moved on)."""
    k = KINDS[kind] if isinstance(kind, str) else kind
    flow = Flow(id=flow_id or random_token(24), kind=k.name, state=k.initial_state,
                pending=p.uid, client_id=p.client_id or "", data=data or {}, created=now(),
                needed=p.needed)
    _store().put("flow:" + flow.id, flow.to_record(), _ttl())
    if flow_id is not None:
        found = _store().get_rev("flow:" + flow.id)
        flow.rev = found[1] if found is not None else 0
    return flow


def start(kind: str, p: Pending, session: SsoSession | None = None,
          data: dict[str, Any] | None = None, begin_for: Citizen | None = None,
          flow_id: str | None = None) -> Flow:
    """Create a flow of `kind` for `p` with its initial data and, for a known citizen (the
    session's, or `begin_for`), its `begin` step."""
    k = KINDS[kind]
    flow = create(k, p, k.initial_data(session) if data is None else data, flow_id)
    citizen = begin_for
    if citizen is None and session is not None:
        citizen = db.session.get(Citizen, session.citizen_id)
    if citizen is not None and type(k).begin is not FlowKind.begin:
        k.begin(flow, citizen)
        save(flow)
    return flow


def start_internal(kind: str, pending_kind: str, return_to: str, needed: Needed | None = None,
                   params: dict[str, str] | None = None, data: dict[str, Any] | None = None,
                   begin_for: Citizen | None = None, *, record_completion: bool = False,
                   handover: Handover | None = None, flow_id: str | None = None) -> Flow:
    """A flow for the IdP's own pages, on an internal pending request (pending.create_internal)
    that sends the browser to `return_to` when the flow finishes."""
    p = pendings.create_internal(pending_kind, return_to, params, needed=needed,
                                 record_completion=record_completion, handover=handover)
    return start(kind, p, None, data or {}, begin_for, flow_id)


def load(flow_id: str) -> Flow:
    if not FLOW_ID.fullmatch(flow_id or ""):
        raise FlowGone()
    found = _store().get_rev("flow:" + flow_id)
    if found is None:
        raise FlowGone()
    record, rev = found
    if record.get("bid") != sso.browser_binding():
        raise FlowGone()
    needed = record.get("needed")
    return Flow(id=flow_id, kind=record["kind"], state=record["state"],
                pending=record["pending"], client_id=record["client_id"],
                data=record.get("data", {}), created=record.get("created", 0.0), rev=rev,
                needed=Needed.from_record(needed) if needed else None)


def save(flow: Flow) -> None:
    """Compare-and-set: fails if another request changed the flow since it was loaded."""
    remaining = max(1.0, flow.created + _ttl() - now())
    if not _store().cas("flow:" + flow.id, flow.rev, flow.to_record(), remaining):
        raise FlowConflict()
    flow.rev += 1


def finish(flow: Flow) -> bool:
    """Remove the flow; True for exactly one caller."""
    return bool(_store().take("flow:" + flow.id) is not None)


# --------------------------------------------------------------------------- HTTP

def gone_page() -> ViewResult:
    return render_template("error.html", title=msg("flow.gone_title"),
                           message=msg("flow.gone")), 410


def conflict_page() -> ViewResult:
    return render_template("error.html", title=msg("flow.conflict_title"),
                           message=msg("flow.conflict")), 409


def respond(kind: FlowKind, flow: Flow, outcome: Outcome) -> ViewResult:
    """The one place an outcome becomes HTTP (module docstring)."""
    if isinstance(outcome, Stay):
        headers = {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else {}
        return kind.render(flow, outcome.errors, outcome.values), outcome.status, headers
    if isinstance(outcome, Goto):
        if not allowed(kind, flow.state, outcome.state):
            log.error("flow %s: undeclared transition %s -> %s refused", flow.kind, flow.state,
                      outcome.state)
            return conflict_page()
        if outcome.login is not None:  # the flow goes on logged in: its pending follows
            _sign_in(outcome.login)
            pendings.follow_login(flow.pending)
        flow.state = outcome.state
        save(flow)
        return redirect(flow.url, 303)
    if isinstance(outcome, Refuse):
        finish(flow)
        return render_template("error.html", title=outcome.title or msg("flow.refused_title"),
                               message=outcome.message), outcome.status
    if isinstance(outcome, HandOver):
        return _hand_over(flow, outcome)
    return _finish(flow, outcome)


def _finish(flow: Flow, outcome: Finish) -> ViewResult:
    if not finish(flow):
        return conflict_page()
    if outcome.login is not None:
        _sign_in(outcome.login)
    p = pendings.finish(flow.pending, outcome.result, flow_id=flow.id, flow_kind=flow.kind)
    if p is None:
        return gone_page()
    if outcome.show is not None:
        return outcome.show, 200, {"Cache-Control": "no-store"}
    if p.return_to:
        return redirect(p.return_to, 303)  # an internal request: back to our own page
    return redirect(url_for("authorize.resume", uid=p.uid), 303)


def _sign_in(who: Login) -> None:
    """The one place a flow's login starts the SSO session."""
    row = sso.sign_in(who.citizen, who.acr, who.amr, who.remember)
    if who.federated is not None:
        upstream_session.remember(row, who.federated)


def _hand_over(flow: Flow, outcome: HandOver) -> ViewResult:
    if not finish(flow):
        return conflict_page()
    p = pendings.hand_over(flow.pending, outcome.result)
    if p is None:
        return gone_page()
    return redirect(start(outcome.kind, p, None, outcome.data, outcome.begin_for).url, 303)


def answer(flow_id: str, form: MultiDict[str, str] | None = None, *,
           routed: bool = False) -> ViewResult:
    """GET (no `form`): the page of the flow's current state; POST: its kind handles the
    form and `respond` maps the outcome. A routed kind answers only at its own URLs
    (`routed=True`), a /flows/<id> kind only there."""
    try:
        flow = load(flow_id)
        kind = KINDS[flow.kind]
        if kind.routed != routed:
            return gone_page()
        if form is None:
            return kind.render(flow)
        return respond(kind, flow, kind.handle(flow, form))
    except FlowConflict:
        return conflict_page()
    except FlowGone:
        return gone_page()


@bp.get("/flows/<flow_id>")
def show(flow_id: str) -> ViewResult:
    return answer(flow_id)


@bp.post("/flows/<flow_id>")
def submit(flow_id: str) -> ViewResult:
    return answer(flow_id, request.form)


def hand_over_login(flow_id: str, kind: str) -> ViewResult:
    """From the login page to another step of the same authorization ("Quên mật khẩu?",
    "Chưa có tài khoản? Đăng ký"): end the login flow and start `kind` on its pending
    authorization, with a fresh lifetime. Only before the password was accepted."""
    try:
        old = load(flow_id)
    except FlowGone:
        return gone_page()
    if old.kind != "login":
        return gone_page()
    if old.state != KINDS["login"].initial_state:
        return redirect(old.url, 303)  # the password was right: nothing to hand over
    return _hand_over(old, HandOver(kind))
