"""Who may do what in the staff console — the interface every screen uses (the counter
screens of issue 17 item 2 too):

  requires(permission, fresh=False)  view decorator: no staff session → the sign-in page
                                     (with `next`); a role without the permission → 403 and
                                     audit `staff.denied`; fresh=True and the authenticator
                                     code older than staff_reauth_window → staff.reauth
  current() -> StaffIdentity          the signed-in staff member of this request
  audit(event, citizen_id=None, commit=True, **detail)
                                     idp.platform.audit.record with the staff identity added
                                     (staff, staff_id, role, counter)

The role is read from the database on every request, so disabling an account or changing a
role takes effect at the staff member's next click."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import g, redirect, render_template, request, url_for

from idp.accounts import staff as accounts
from idp.accounts.staff_roles import allows
from idp.platform import audit as platform_audit
from idp.staff import session

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class StaffIdentity:
    id: int
    username: str
    full_name: str
    role: str
    counter: str | None

    @property
    def operator(self) -> str:
        """How decisions name the staff member (recovery.decided_by, complaints)."""
        return f"{self.full_name} ({self.username})"


def current() -> StaffIdentity:
    identity = g.get("staff_identity")
    if identity is None:
        raise RuntimeError("no staff member signed in (use access.requires)")
    return identity


def signed_in() -> StaffIdentity | None:
    """The staff member of this request, from the staff cookie only (None without one)."""
    if "staff_identity" in g:
        return g.staff_identity
    state, had_cookie = session.load()
    g.staff_expired = state is None and had_cookie
    member = accounts.get(state.staff_id) if state is not None else None
    if member is None or member.status != "active":
        g.staff_identity, g.staff_state = None, None
        return None
    g.staff_identity = StaffIdentity(member.id, member.username, member.full_name,
                                     member.role, member.counter)
    g.staff_state = state
    return g.staff_identity


def audit(event: str, *, citizen_id: int | None = None, commit: bool = True,
          **detail: Any) -> None:
    who = current()
    detail.update(staff=who.username, staff_id=who.id, role=who.role)
    if who.counter:
        detail["counter"] = who.counter
    platform_audit.record(event, citizen_id=citizen_id, commit=commit, **detail)


def safe_next(value: str | None) -> str | None:
    """Only a path inside the console (no open redirect)."""
    if not value or len(value) > 500:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or not value.startswith("/staff"):
        return None
    return value


def here() -> str:
    return request.full_path.rstrip("?") if request.query_string else request.path


def forbidden(permission: str) -> Any:
    audit("staff.denied", permission=permission, endpoint=request.endpoint or "")
    return render_template("staff/forbidden.html"), 403


def requires(permission: str, *, fresh: bool = False) -> Callable[[F], F]:
    """`permission` "": any signed-in staff member (the home page)."""
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if signed_in() is None:
                expired = {"expired": "1"} if g.get("staff_expired") else {}
                return redirect(url_for("staff.login", next=here(), **expired), 303)
            if permission and not allows(current().role, permission):
                return forbidden(permission)
            if fresh and not session.fresh(g.staff_state):
                # A form's POST goes back to its own page (GET), where it is sent again.
                return redirect(url_for("staff.reauth", next=here()), 303)
            return view(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate
