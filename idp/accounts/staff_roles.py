"""The staff console's roles and what each may do (issue 17 item 3): the ONE table. Least
privilege: a clerk registers citizens at the counter and decides lost-phone requests after
the in-person check; support staff handle the citizens' cases but register nobody; an
administrator manages staff and reads the audit trail, and handles cases too, but does not
register citizens at a counter (that act names a counter and a clerk)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

PERMISSIONS = ("counter.register", "recovery.decide", "complaints.resolve", "citizens.lookup",
               "staff.manage", "audit.view")

ROLES: dict[str, frozenset[str]] = {
    "clerk": frozenset({"counter.register", "recovery.decide"}),
    "support": frozenset({"recovery.decide", "complaints.resolve", "citizens.lookup"}),
    "admin": frozenset({"staff.manage", "audit.view", "recovery.decide", "complaints.resolve",
                        "citizens.lookup"}),
}

ROLE_LABELS = {
    "clerk": _l("Nhân viên quầy"),
    "support": _l("Nhân viên hỗ trợ"),
    "admin": _l("Quản trị viên"),
}


def allows(role: str, permission: str) -> bool:
    return permission in ROLES.get(role, frozenset())


def label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))
