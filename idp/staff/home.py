"""The console's home page: a menu of what the signed-in role may do (accounts/staff_roles),
built from MENU and limited to the screens this application has (app.view_functions), and
the template context every staff page shares (who is signed in, their role's label)."""
from __future__ import annotations

from typing import Any

from flask import current_app, g, render_template
from flask_babel import lazy_gettext as _l

from idp.accounts.staff_roles import allows, label
from idp.staff import bp
from idp.staff.access import current, requires

# (permission, endpoint, label): the order is the menu's.
MENU: list[tuple[str, str, Any]] = [
    ("counter.register", "staff.counter_new", _l("Đăng ký tại quầy")),
    ("counter.register", "staff.counter_today", _l("Đăng ký trong ngày")),
    ("recovery.decide", "staff.recovery_list", _l("Yêu cầu đổi số điện thoại")),
    ("complaints.resolve", "staff.complaints_list", _l("Khiếu nại tài khoản")),
    ("citizens.lookup", "staff.lookup", _l("Tra cứu công dân")),
    ("staff.manage", "staff.members", _l("Quản lý cán bộ")),
    ("audit.view", "staff.audit_view", _l("Nhật ký hoạt động")),
]


def menu(role: str) -> list[tuple[str, Any]]:
    return [(endpoint, text) for permission, endpoint, text in MENU
            if allows(role, permission) and endpoint in current_app.view_functions]


@bp.context_processor
def _staff_context() -> dict[str, Any]:
    who = g.get("staff_identity")
    return {"staff_user": who, "staff_role_label": label(who.role) if who else "",
            "staff_menu": lambda: menu(who.role) if who else []}


@bp.route("/")
@requires("")
def index() -> Any:
    return render_template("staff/index.html", items=menu(current().role))
