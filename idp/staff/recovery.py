"""Staff console: "Yêu cầu đổi số điện thoại" — lost-phone requests (flows/recover.py records
them online), approved or rejected after the citizen's identity was checked in person at the
counter; the same rules as `idp recovery approve|reject` (accounts/recovery.py). Permission
`recovery.decide`; deciding is a sensitive action (fresh authenticator code). Approving also
asks the clerk to type the ID number printed on the document: it must be the account's
(compared in constant time), so the decision rests on the card, not on the screen.

  GET  /staff/recovery          pending requests (ID numbers and phones masked)
  GET  /staff/recovery/<id>     one request (masked) and the decision form
  POST /staff/recovery/<id>     decide: approve | reject, the document checked, a note
"""
from __future__ import annotations

import hmac
from typing import Any

from flask import redirect, render_template, request, url_for

from idp.accounts import citizen_admin
from idp.accounts import recovery as ops
from idp.platform.db import db
from idp.platform.masking import mask_id_number, mask_phone
from idp.platform.messages import Message, msg
from idp.platform.models import RecoveryRequest
from idp.staff import bp, forms
from idp.staff.access import audit, current, requires

PERMISSION = "recovery.decide"
DONE = {"approve": "staff.recovery_approved", "reject": "staff.recovery_rejected"}  # event = id


@bp.get("/recovery")
@requires(PERMISSION)
def recovery_list() -> Any:
    rows = [{"id": r.id, "created_at": r.created_at, "id_number": mask_id_number(number),
             "new_phone": mask_phone(r.new_phone)}
            for r, number in citizen_admin.recovery_requests("pending", None)]
    audit("staff.recovery_listed", count=len(rows))
    done = request.args.get("done")
    notice = msg(DONE[done]) if done in DONE else None
    return render_template("staff/recovery_list.html", rows=rows, notice=notice)


def _page(request_row: RecoveryRequest, errors: dict[str, Message] | None = None,
          status: int = 200) -> Any:
    citizen = citizen_admin.get(request_row.citizen_id)
    values = {k: request.form.get(k, "") for k in ("decision", "document", "note")}
    return render_template("staff/recovery_detail.html", row=request_row,
                           new_phone=mask_phone(request_row.new_phone),
                           citizen=forms.masked_citizen(citizen) if citizen else None,
                           documents=forms.DOCUMENTS, errors=errors or {}, values=values), status


def _pending(request_id: int) -> RecoveryRequest | None:
    row = db.session.get(RecoveryRequest, request_id)
    return row if row is not None and row.status == "pending" else None


@bp.get("/recovery/<int:request_id>")
@requires(PERMISSION)
def recovery_show(request_id: int) -> Any:
    return forms.viewed(_pending(request_id), _page, "staff.recovery_viewed",
                        request_id=request_id)


def _checks(row: RecoveryRequest) -> tuple[dict[str, Message], str, str]:
    form, errors = request.form, {}
    decision = form.get("decision") or ""
    if decision not in ("approve", "reject"):
        errors["decision"] = msg("staff.decision_missing")
    document = forms.document(form)
    if document is None:
        errors["document"] = msg("staff.document_missing")
    note, error = forms.note(form)
    if error:
        errors["note"] = error
    if decision == "approve":
        typed = "".join((form.get("id_number") or "").split())
        citizen = citizen_admin.get(row.citizen_id)
        if not (citizen and typed.isascii() and
                hmac.compare_digest(typed.encode(), citizen.id_number.encode())):
            errors["id_number"] = msg("staff.id_number_mismatch")
    return errors, decision, f"[{document}] {note}"


@bp.post("/recovery/<int:request_id>")
@requires(PERMISSION, fresh=True)
def recovery_decide(request_id: int) -> Any:
    row = _pending(request_id)
    if row is None:
        return render_template("staff/not_found.html"), 404
    errors, decision, note = _checks(row)
    if errors:
        if "id_number" in errors:
            audit("staff.recovery_id_mismatch", citizen_id=row.citizen_id, request_id=row.id)
        return _page(row, errors, 400)
    citizen_id, who = row.citizen_id, current().operator
    try:
        if decision == "approve":
            ops.approve(request_id, who, note)
        else:
            ops.reject(request_id, who, note)
    except ops.RecoveryError:
        db.session.rollback()
        audit("staff.recovery_failed", citizen_id=citizen_id, request_id=request_id)
        return render_template("staff/not_found.html", message=msg("staff.recovery_failed")), 409
    audit(DONE[decision], citizen_id=citizen_id, request_id=request_id,
          document=request.form.get("document"))
    return redirect(url_for("staff.recovery_list", done=decision), 303)
