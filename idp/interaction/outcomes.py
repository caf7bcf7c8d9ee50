"""What a flow's submit returns (the engine's module docstring lists them): each outcome is a
small value; idp/interaction/engine.respond is the one place they become HTTP."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from idp.platform.messages import Message
from idp.platform.models import Citizen


class RefusalLike(Protocol):
    """What a sign-in method's refusal offers (idp.methods.Refusal)."""
    message: Message
    status: int
    retry_after: int


@dataclass
class Stay:
    """Show the current step again with `errors` ({field or "form": Message}) and the typed
    `values`; `retry_after` seconds go out as Retry-After (with a 429)."""
    errors: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    retry_after: int = 0

    @classmethod
    def refused(cls, refusal: RefusalLike, values: dict[str, Any] | None = None) -> Stay:
        """The Stay for a sign-in method's refusal (its field, message, status, wait)."""
        where = str(getattr(refusal, "field", "form"))
        return cls({where: refusal.message}, values or {}, refusal.status, refusal.retry_after)


@dataclass
class Login:
    """A login this flow finished: the engine starts the SSO session (session.sign_in)."""
    citizen: Citizen
    acr: str
    amr: list[str]
    remember: bool = False
    # The upstream login it came from ("Đăng nhập bằng VNeID"), kept for logout
    # (interaction/upstream_session.py); None for a login at this IdP.
    federated: dict[str, Any] | None = None


@dataclass
class Goto:
    """Go to `state`: must be in `transitions[flow.state]` of the kind. With `login`, the
    citizen is logged in first and the flow goes on under the renewed browser binding
    (registration's "Đăng ký thành công" page, shown logged in)."""
    state: str
    login: Login | None = None


@dataclass
class Finish:
    """The flow is done; `result` (e.g. {"login_done": True}) is merged into the pending
    authorization before it resumes. `show`: a page to answer with
    instead of going on, sent `no-store` — what must be shown exactly once (new recovery
    codes); the browser then goes on from that page's own link."""
    result: dict[str, bool] = field(default_factory=dict)
    login: Login | None = None
    show: str | None = None


@dataclass
class HandOver:
    """The same pending authorization goes on in a flow of `kind` (e.g. registration →
    "Quên mật khẩu?"); `result` is merged first; what was bound to this flow is dropped.
    `begin_for`: the citizen the new flow is for (its kind's `begin` runs, as in
    engine.start: a VNeID login that goes on to the account's second factor)."""
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    result: dict[str, bool] = field(default_factory=dict)
    begin_for: Citizen | None = None


@dataclass
class Refuse:
    """End the flow on an error page with `message` (a catalogue Message)."""
    message: Message
    status: int = 400
    title: Message | None = None


Outcome = Stay | Goto | Finish | HandOver | Refuse
