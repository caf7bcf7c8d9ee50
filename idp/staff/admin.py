"""Staff console, administrators only: "Quản lý cán bộ" (permission `staff.manage`): the
staff accounts, disable / enable and change of role — sensitive actions (fresh code), never
on one's own account (an administrator cannot lock the last door behind them); and
"Nhật ký hoạt động" (permission `audit.view`): the latest audit events, masked, optionally
only one staff member's. Creating staff accounts and resetting authenticators stay with the
operators' CLI (`idp staff`): a secret is shown there once, never on a web page."""
from __future__ import annotations

import json
from typing import Any

from flask import redirect, render_template, request, url_for
from sqlalchemy import select

from idp.accounts import staff as accounts
from idp.accounts.staff_roles import ROLE_LABELS, ROLES
from idp.platform.db import db
from idp.platform.logs import mask_text
from idp.platform.messages import msg
from idp.platform.models import AuditEvent
from idp.staff import bp
from idp.staff.access import audit, current, requires

AUDIT_LIMITS = (50, 100, 200)


def _members_page(error: Any = None, status: int = 200) -> Any:
    rows = [{"id": m.id, "username": m.username, "full_name": m.full_name, "role": m.role,
             "counter": m.counter or "", "status": m.status,
             "locked": accounts.locked(m), "last_login_at": m.last_login_at}
            for m in accounts.listing()]
    notice = msg("staff.member_updated") if request.args.get("done") and not error else None
    return render_template("staff/members.html", rows=rows, roles=ROLE_LABELS, error=error,
                           notice=notice, me=current().id), status


@bp.get("/members")
@requires("staff.manage")
def members() -> Any:
    return _members_page()


@bp.post("/members")
@requires("staff.manage", fresh=True)
def members_change() -> Any:
    form = request.form
    member_id = form.get("member_id") or ""
    member = accounts.get(int(member_id)) if member_id.isdigit() and len(member_id) < 10 \
        else None
    if member is None:
        return _members_page(msg("staff.not_found"), 404)
    if member.id == current().id:
        audit("staff.denied", permission="staff.manage", reason="self", target=member.username)
        return _members_page(msg("staff.self_change"), 403)
    action = form.get("action") or ""
    if action in ("disable", "enable"):
        accounts.set_status(member, "disabled" if action == "disable" else "active")
        audit(f"staff.member_{action}d", target=member.username, target_id=member.id,
              commit=False)
    elif action == "role" and (form.get("role") or "") in ROLES:
        old, member.role = member.role, form["role"]
        audit("staff.member_role_changed", target=member.username, target_id=member.id,
              old_role=old, new_role=member.role, commit=False)
    else:
        return _members_page(msg("staff.role_invalid"), 400)
    db.session.commit()
    return redirect(url_for("staff.members", done="1"), 303)


def _detail(raw: str) -> str:
    try:
        detail = json.loads(raw)
    except ValueError:
        detail = {}
    text = ", ".join(f"{k}={v}" for k, v in sorted(detail.items())) if \
        isinstance(detail, dict) else str(detail)
    return mask_text(text)[:500]


@bp.get("/audit")
@requires("audit.view")
def audit_view() -> Any:
    who = (request.args.get("staff") or "").strip().lower()[:64]
    limit = request.args.get("limit", "")
    limit_n = int(limit) if limit.isdigit() and int(limit) in AUDIT_LIMITS else AUDIT_LIMITS[0]
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit_n)
    if who:
        query = query.where(AuditEvent.detail_json.contains(f'"staff": {json.dumps(who)}'))
    rows = [{"at": e.at, "event": e.event, "citizen_id": e.citizen_id or "",
             "detail": _detail(e.detail_json)} for e in db.session.scalars(query)]
    audit("staff.audit_viewed", filter_staff=who, limit=limit_n)
    return render_template("staff/audit.html", rows=rows, who=who, limit=limit_n,
                           limits=AUDIT_LIMITS)
