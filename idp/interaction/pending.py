"""The pending authorization (node-oidc-provider's `Interaction`): what the browser asked for
while a flow runs, bound to that browser. Reading order of one login: protocol/authorize.py
→ interaction/policy.py → **this module** → interaction/engine.py → flows/login.py →
flows/second_factor.py → back to protocol/authorize.resume.

This module is the only one that knows the store keys `pending:<uid>` (the record) and
`flow-done:<flow id>` (a completion record); everything else holds a `Pending`.

Kinds: "authorization" (a relying party's request: `client_id` and `params` are the RP's,
the browser resumes at /authorize/resume/<uid>) and internal kinds ("account": the account
page's re-authentication, "recovery": "Quên mật khẩu?" started outside any portal, ...):
`client_id` None, and the browser goes back to `return_to`, a path on this site.

Security properties (those of the former flows/views.py; see interaction/session.py):
- A pending authorization is bound to the browser binding (`bid`) it was created in; `find`
  returns it only to that browser.
- A login renews the binding (session.start). `finish` re-binds *only the pending
  authorization of the flow that ran the login* to the new binding; everything else of the
  browser stays bound to the old binding and is gone.
- `record_completion`: when the flow finishes a login, `flow-done:<flow id>` says which
  session and citizen it logged in (read once with `completion`, account/access.py).
- `hand_over` (login page → "Quên mật khẩu?" / "Đăng ký", or Finish → HandOver): the keys
  listed in `handover.drop` are deleted, an internal `return_to` is replaced by
  `handover.return_to`, and `record_completion` is dropped: nothing bound to the first flow
  survives.
- `consume` takes the record: exactly one caller gets True (one code per authorization).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from idp.interaction import session as sso
from idp.interaction.policy import Needed
from idp.platform.crypto import random_token
from idp.platform.db import now

AUTHORIZATION = "authorization"
ACCOUNT = "account"
RECOVERY = "recovery"
PREFIX = "pending:"
DONE_PREFIX = "flow-done:"


@dataclass
class Handover:
    """What to undo when the pending authorization goes to another flow kind."""
    return_to: str | None = None
    drop: tuple[str, ...] = ()


@dataclass
class Pending:
    """One pending authorization. `results` holds what the flows established so far
    (`login_done`, `consent_done`, `consent_denied`, `register_done`), read by the policy."""
    uid: str
    kind: str
    params: dict[str, str]
    client_id: str | None
    bid: str
    created: float
    needed: Needed | None = None
    results: dict[str, bool] = field(default_factory=dict)
    return_to: str | None = None
    record_completion: bool = False
    handover: Handover | None = None

    @property
    def internal(self) -> bool:
        """Started by the IdP's own pages, not by a relying party."""
        return self.kind != AUTHORIZATION

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"kind": self.kind, "params": self.params,
                                  "client_id": self.client_id, "bid": self.bid,
                                  "created": self.created, "results": self.results}
        if self.needed is not None:
            record["needed"] = self.needed.to_record()
        if self.return_to:
            record["return_to"] = self.return_to
        if self.record_completion:
            record["record_completion"] = True
        if self.handover is not None:
            record["handover"] = {"return_to": self.handover.return_to,
                                  "drop": list(self.handover.drop)}
        return record

    @classmethod
    def from_record(cls, uid: str, record: dict[str, Any]) -> Pending:
        spec = record.get("handover")
        needed = record.get("needed")
        return cls(uid=uid, kind=record.get("kind") or AUTHORIZATION,
                   params=dict(record.get("params") or {}), client_id=record.get("client_id"),
                   bid=str(record.get("bid", "")), created=float(record.get("created", 0.0)),
                   needed=Needed.from_record(needed) if needed else None,
                   results=dict(record.get("results") or {}),
                   return_to=record.get("return_to"),
                   record_completion=bool(record.get("record_completion")),
                   handover=Handover(spec.get("return_to"), tuple(spec.get("drop") or ()))
                   if spec else None)


def _store() -> Any:
    return current_app.extensions["idp.store"]


def _ttl() -> int:
    return int(current_app.config["IDP"]["flow_ttl"])


def create(params: dict[str, str], client_id: str, needed: Needed | None = None) -> Pending:
    """A relying party's request that needs a flow, bound to this browser, stored."""
    p = Pending(uid=random_token(24), kind=AUTHORIZATION, params=params, client_id=client_id,
                bid=sso.browser_binding(), created=now(), needed=needed)
    save(p)
    return p


def create_internal(kind: str, return_to: str, params: dict[str, str] | None = None, *,
                    needed: Needed | None = None, record_completion: bool = False,
                    handover: Handover | None = None) -> Pending:
    """A pending request of the IdP's own pages (`kind` "account", "recovery", ...): when its
    flow finishes, the browser goes to `return_to` (a path on this site). `needed` is what
    the creator asks for (the account page: Needed("login", "LoA2", ...))."""
    if kind == AUTHORIZATION:
        raise ValueError("an internal pending request needs an internal kind")
    if not return_to.startswith("/") or return_to.startswith("//"):
        raise ValueError("return_to must be a path on this site")
    p = Pending(uid=random_token(24), kind=kind, params=dict(params or {}), client_id=None,
                bid=sso.browser_binding(), created=now(), needed=needed, return_to=return_to,
                record_completion=record_completion, handover=handover)
    save(p)
    return p


def load(uid: str) -> Pending | None:
    """The record, whichever browser it is bound to: for a flow that is itself bound to this
    browser and reads its request's parameters (engine.load checked the binding)."""
    record = _store().get(PREFIX + uid)
    return Pending.from_record(uid, record) if record is not None else None


def find(uid: str) -> Pending | None:
    """The pending authorization `uid` if it is bound to this browser."""
    p = load(uid)
    return p if p is not None and p.bid == sso.browser_binding() else None


def save(p: Pending) -> None:
    _store().put(PREFIX + p.uid, p.to_record(), _ttl())


def consume(uid: str) -> bool:
    """Take the record: True for exactly one caller."""
    return bool(_store().take(PREFIX + uid) is not None)


def discard(uid: str) -> None:
    _store().delete(PREFIX + uid)


def _continued(uid: str) -> Pending | None:
    """The pending authorization of a flow finishing in this request: bound to the binding
    the browser had before a login in this request renewed it, then re-bound to the new one
    (module docstring: only this flow's pending authorization follows the login)."""
    p = load(uid)
    if p is None or p.bid != sso.binding_before_login():
        return None
    p.bid = sso.browser_binding()
    return p


def finish(uid: str, results: dict[str, bool], *, flow_id: str,
           flow_kind: str) -> Pending | None:
    """A flow finished: merge `results`, re-bind after a login, leave the completion record
    when asked. An internal request is then over (deleted: the caller goes to `return_to`);
    an authorization is saved for its resume. None: gone (expired, another browser)."""
    p = _continued(uid)
    if p is None:
        return None
    p.results.update(results)
    if p.record_completion:
        _record_completion(flow_id, flow_kind)
    if p.return_to:
        discard(uid)
    else:
        save(p)
    return p


def hand_over(uid: str, results: dict[str, bool] | None = None) -> Pending | None:
    """The pending authorization goes to a flow of another kind: apply `handover` (drop the
    keys bound to the first flow, replace an internal `return_to`, forget
    `record_completion`), store it with a fresh lifetime. None: gone."""
    p = _continued(uid)
    if p is None:
        return None
    p.results.update(results or {})
    spec, p.handover, p.record_completion = p.handover, None, False
    if spec is not None:
        for key in spec.drop:
            _store().delete(key)
        if spec.return_to and p.return_to:
            p.return_to = spec.return_to
    save(p)
    return p


def follow_login(uid: str) -> None:
    """A flow that goes on after logging the citizen in (registration's "done" page): its
    pending authorization follows the renewed binding now, atomically (compare-and-set)."""
    found = _store().get_rev(PREFIX + uid)
    if found is None:
        return
    record, rev = found
    if record.get("bid") == sso.binding_before_login():
        _store().cas(PREFIX + uid, rev, dict(record, bid=sso.browser_binding()))


def _record_completion(flow_id: str, flow_kind: str) -> None:
    """`flow-done:<flow id>`: this flow finished a login of that citizen into that session."""
    started = sso.started_in_request()
    if started is None:
        return
    _store().put(DONE_PREFIX + flow_id,
                 {"kind": flow_kind, "citizen_id": started.citizen_id, "sid": started.sid,
                  "auth_time": started.auth_time, "bid_before": sso.binding_before_login(),
                  "bid": sso.browser_binding()}, _ttl())


def completion(flow_id: str) -> dict[str, Any] | None:
    """Take (once) the completion record of a `record_completion` flow that finished a login:
    {"kind", "citizen_id", "sid", "auth_time", "bid_before", "bid"}."""
    record = _store().take(DONE_PREFIX + flow_id)
    return dict(record) if record is not None else None
