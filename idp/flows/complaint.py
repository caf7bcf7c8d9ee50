"""The complaint form ("Khiếu nại: tài khoản này không phải của tôi", seed §1 step 4), as a
step of the authorization that registration was part of.

    stateDiagram-v2
      [*] --> form: from registration's "already has an account" page (flows/register.py)
      form --> filing: description (+ optional e-mail), CSRF → claimed (compare-and-set)
      filing --> done: complaints.file (one transaction) → "Đã tiếp nhận khiếu nại" + reference
      filing --> form: database error (nothing recorded)
      form --> [*]: "Quay lại đăng nhập"
      done --> [*]: "Về trang đăng nhập" (the authorization resumes)

Only `start_data` builds this flow's data, and only registration calls it, from its
existing-account page, when the flow proved possession of the phone (SMS code) and the
carrier's registration of it to the ID number (KYC); the flow refuses data without that proof.
So the form says nothing about accounts that the caller was not already told, and the contact
phone it records is the one the code proved (idp/complaints.py).
"""
from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from idp.platform import audit
from idp.accounts import complaints
from idp.platform.db import db
from idp.accounts.validation import ValidationError, normalize_email
from idp.flows import base

PERSON_FIELDS = ("id_number", "full_name", "birth_date", "phone")


def start_data(flow_data: dict) -> dict | None:
    """The complaint flow's data, from a registration flow's data; None unless that flow
    proved possession and ownership and ended on an existing account of its ID number."""
    person = flow_data.get("person") or {}
    if not (flow_data.get("possession") and flow_data.get("ownership")
            and flow_data.get("reason") == "id_number"
            and all(person.get(f) for f in PERSON_FIELDS)):
        return None
    return {"person": {f: person[f] for f in PERSON_FIELDS}, "proven": True}


def _national(phone: str) -> str:
    return "0" + phone[3:] if phone.startswith("+84") else phone


class ComplaintFlow(base.FlowKind):
    name = "complaint"
    initial_state = "form"

    def render(self, flow, errors=None, values=None):
        errors, values = errors or {}, values or {}
        person = flow.data.get("person") or {}
        context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors,
                   "phone": _national(person.get("phone", "")),
                   "id_number": person.get("id_number", ""),
                   "full_name": person.get("full_name", "")}
        if flow.state == "done":
            return render_template("complaint_done.html",
                                   reference=flow.data.get("reference"), **context)
        return render_template("complaint_form.html", values=values,
                               maxlength=complaints.DESCRIPTION_MAX,
                               filing=flow.state == "filing", **context)

    def handle(self, flow, form):
        if not (flow.data.get("proven") and flow.data.get("person")):
            return base.Stay({"form": _("Phiên khiếu nại không hợp lệ. Vui lòng bắt đầu lại "
                                        "từ bước đăng ký.")}, status=403)
        if flow.state == "done":
            return base.Finish({"register_done": True})
        if flow.state == "filing":
            return base.Stay({"form": _("Khiếu nại đang được ghi nhận. Vui lòng tải lại trang "
                                        "sau giây lát.")}, status=409)
        if form.get("action") == "cancel":
            return base.Finish({"register_done": True})
        return self._file(flow, form)

    def _file(self, flow, form):
        typed = {"description": (form.get("description") or "")[:complaints.DESCRIPTION_MAX
                                                                 + 200],
                 "email": (form.get("email") or "").strip()[:254]}
        errors = {}
        try:
            description = complaints.clean_description(form.get("description"))
        except complaints.ComplaintError as exc:
            errors["description"] = (
                _("Vui lòng mô tả ngắn gọn vì sao tài khoản này không phải của bạn.")
                if exc.code == "description_missing" else
                _("Nội dung khiếu nại tối đa %(num)d ký tự.", num=complaints.DESCRIPTION_MAX))
        try:
            email = normalize_email(form.get("email") or "")
        except ValidationError as exc:
            errors["email"] = exc.message
        if errors:
            return base.Stay(errors, typed, 400)
        # Claim the step (compare-and-set): a double submit files at most one complaint.
        flow.state = "filing"
        base.save(flow)
        person = flow.data["person"]
        try:
            complaint, _created = complaints.file(
                id_number=person["id_number"], phone=person["phone"],
                full_name=person["full_name"], birth_date=person["birth_date"],
                description=description, email=email, client_id=flow.client_id or None)
        except (complaints.ComplaintError, SQLAlchemyError) as exc:
            db.session.rollback()
            flow.state = "form"
            base.save(flow)
            if isinstance(exc, complaints.ComplaintError):  # the account is gone meanwhile
                audit.record("complaint.not_filed", client_id=flow.client_id or None,
                             reason=exc.code, id_number=audit.mask_id_number(
                                 person["id_number"]))
                return base.Stay({"form": _("Số CMND/CCCD này hiện không còn tài khoản nào. "
                                            "Bạn có thể đăng ký lại.")}, typed, 409)
            current_app.logger.warning("complaint not recorded: %s", exc.__class__.__name__)
            return base.Stay({"form": _("Chưa ghi nhận được khiếu nại do lỗi hệ thống. Chưa "
                                        "có gì được lưu; vui lòng thử lại sau ít phút.")},
                             typed, 503)
        flow.data["reference"] = complaint.reference
        return base.Goto("done")
