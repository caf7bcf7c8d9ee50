"""Staff console: "Khiếu nại tài khoản" — complaints that an account was registered under
someone else's ID number (flows/complaint.py files them), resolved after an in-person check
with one of accounts/complaints.OUTCOMES and a note; the same rules as `idp complaints
resolve`. Permission `complaints.resolve`; resolving is a sensitive action (fresh code).

  GET  /staff/complaints          open complaints (ID numbers and phones masked)
  GET  /staff/complaints/<id>     one complaint (masked) and the resolution form
  POST /staff/complaints/<id>     resolve: outcome, the document checked, a note
"""
from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from idp.accounts import citizen_admin
from idp.accounts import complaints as ops
from idp.platform.db import db
from idp.platform.masking import mask_id_number, mask_phone
from idp.platform.messages import Message, msg
from idp.platform.models import Complaint
from idp.staff import bp, forms
from idp.staff.access import audit, current, requires

PERMISSION = "complaints.resolve"
OUTCOMES = {
    "owner_confirmed": _l("Chủ tài khoản đúng là chủ số CMND/CCCD: giữ nguyên tài khoản"),
    "rejected": _l("Khiếu nại không có căn cứ: giữ nguyên tài khoản"),
    "account_disabled": _l("Khóa tài khoản và đăng xuất khỏi mọi nơi"),
    "transferred": _l("Chuyển tài khoản cho người khiếu nại (số điện thoại của họ; họ đặt lại "
                      "mật khẩu bằng \"Quên mật khẩu\")"),
}


@bp.get("/complaints")
@requires(PERMISSION)
def complaints_list() -> Any:
    rows = [{"id": c.id, "reference": c.reference, "created_at": c.created_at,
             "id_number": mask_id_number(c.id_number), "phone": mask_phone(c.phone)}
            for c in db.session.scalars(select(Complaint).where(
                Complaint.status == "open").order_by(Complaint.id))]
    audit("staff.complaints_listed", count=len(rows))
    notice = msg("staff.complaint_resolved") if request.args.get("done") else None
    return render_template("staff/complaints_list.html", rows=rows, notice=notice)


def _open(complaint_id: int) -> Complaint | None:
    row = db.session.get(Complaint, complaint_id)
    return row if row is not None and row.status == "open" else None


def _page(c: Complaint, errors: dict[str, Message] | None = None, status: int = 200) -> Any:
    owner = citizen_admin.get(c.citizen_id) if c.citizen_id else None
    values = {k: request.form.get(k, "") for k in ("outcome", "document", "note")}
    complaint = {"id": c.id, "reference": c.reference, "created_at": c.created_at,
                 "id_number": mask_id_number(c.id_number), "phone": mask_phone(c.phone),
                 "description": " ".join(c.description.split())}
    return render_template("staff/complaint_detail.html", c=complaint,
                           owner=forms.masked_citizen(owner) if owner else None,
                           outcomes=OUTCOMES, documents=forms.DOCUMENTS, errors=errors or {},
                           values=values), status


@bp.get("/complaints/<int:complaint_id>")
@requires(PERMISSION)
def complaint_show(complaint_id: int) -> Any:
    c = _open(complaint_id)
    return forms.viewed(c, _page, "staff.complaint_viewed", reference=c.reference if c else "")


@bp.post("/complaints/<int:complaint_id>")
@requires(PERMISSION, fresh=True)
def complaint_resolve(complaint_id: int) -> Any:
    c = _open(complaint_id)
    if c is None:
        return render_template("staff/not_found.html"), 404
    errors: dict[str, Message] = {}
    outcome = request.form.get("outcome") or ""
    if outcome not in OUTCOMES:
        errors["outcome"] = msg("staff.decision_missing")
    document = forms.document(request.form)
    if document is None:
        errors["document"] = msg("staff.document_missing")
    note, error = forms.note(request.form)
    if error:
        errors["note"] = error
    if errors:
        return _page(c, errors, 400)
    reference, citizen_id = c.reference, c.citizen_id
    try:
        ops.resolve(str(c.id), outcome, f"[{document}] {note}", current().operator)
    except ops.ComplaintError as exc:
        db.session.rollback()
        audit("staff.complaint_failed", citizen_id=citizen_id, reference=reference,
              reason=exc.code)
        return _page(c, {"outcome": msg("staff.complaint_failed")}, 409)
    audit("staff.complaint_resolved", citizen_id=citizen_id, reference=reference,
          outcome=outcome, document=document)
    return redirect(url_for("staff.complaints_list", done="1"), 303)
