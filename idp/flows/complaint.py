"""The complaint form ("Khiếu nại: tài khoản này không phải của tôi", seed §1 step 4), as a
step of the authorization that registration was part of.

    stateDiagram-v2
      [*] --> form: from registration's "already has an account" page (flows/register.py)
      form --> filing: description (+ optional e-mail), CSRF → claimed (compare-and-set)
      filing --> done: complaints.file (one transaction) → "Đã tiếp nhận khiếu nại" + reference
      filing --> form: database error (nothing recorded)
      form --> [*]: "Quay lại đăng nhập"
      done --> [*]: "Về trang đăng nhập" (the authorization resumes)

Only registration builds this flow's data (register/person.complaint_data), from its
existing-account page, when the flow proved possession of the phone (SMS code) and the
carrier's registration of it to the ID number (KYC); the flow refuses data without that proof
(it depends on registration, never the other way round).
So the form says nothing about accounts that the caller was not already told, and the contact
phone it records is the one the code proved (accounts/complaints.py).
"""
from __future__ import annotations

from flask import current_app, render_template, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict

from idp.accounts import complaints
from idp.accounts.validation import ValidationError, normalize_email
from idp.flows.claim import claim
from idp.flows.register.person import national
from idp.interaction.engine import Fields, Flow, FlowKind, ViewResult, table
from idp.interaction.outcomes import Finish, Goto, Outcome, Stay
from idp.platform import audit
from idp.platform.db import db
from idp.platform.messages import msg


class ComplaintFlow(FlowKind):
    name = "complaint"
    transitions = table(form="filing", filing="done form", done="")

    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        errors, values = errors or {}, values or {}
        person = flow.data.get("person") or {}
        context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors,
                   "phone": national(person.get("phone", "")),
                   "id_number": person.get("id_number", ""),
                   "full_name": person.get("full_name", "")}
        if flow.state == "done":
            return render_template("complaint_done.html", notice=msg("complaint.filed"),
                                   reference=flow.data.get("reference"), **context)
        return render_template(
            "complaint_form.html", values=values, maxlength=complaints.DESCRIPTION_MAX,
            filing=msg("complaint.filing") if flow.state == "filing" else None, **context)

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if not (flow.data.get("proven") and flow.data.get("person")):
            return Stay({"form": msg("complaint.session_invalid")}, status=403)
        if flow.state == "done":
            return Finish({"register_done": True})
        if flow.state == "filing":
            return Stay({"form": msg("complaint.filing")}, status=409)
        if form.get("action") == "cancel":
            return Finish({"register_done": True})
        return self._file(flow, form)

    def _file(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        typed = {"description": (form.get("description") or "")[:complaints.DESCRIPTION_MAX
                                                                 + 200],
                 "email": (form.get("email") or "").strip()[:254]}
        errors: dict[str, str] = {}
        try:
            description = complaints.clean_description(form.get("description"))
        except complaints.ComplaintError as exc:
            errors["description"] = (
                msg("complaint.description_missing") if exc.code == "description_missing"
                else msg("complaint.description_too_long", num=complaints.DESCRIPTION_MAX))
        try:
            email = normalize_email(form.get("email") or "")
        except ValidationError as exc:
            errors["email"] = exc.message
        if errors:
            return Stay(errors, typed, 400)
        # Claim the step (compare-and-set): a double submit files at most one complaint.
        claim(self, flow, "filing")
        person = flow.data["person"]
        try:
            complaint, _created = complaints.file(
                id_number=person["id_number"], phone=person["phone"],
                full_name=person["full_name"], birth_date=person["birth_date"],
                description=description, email=email, client_id=flow.client_id or None)
        except (complaints.ComplaintError, SQLAlchemyError) as exc:
            db.session.rollback()
            claim(self, flow, "form")
            if isinstance(exc, complaints.ComplaintError):  # the account is gone meanwhile
                audit.record("complaint.not_filed", client_id=flow.client_id or None,
                             reason=exc.code, id_number=audit.mask_id_number(
                                 person["id_number"]))
                return Stay({"form": msg("complaint.no_account")}, typed, 409)
            current_app.logger.warning("complaint not recorded: %s", exc.__class__.__name__)
            return Stay({"form": msg("complaint.failed")}, typed, 503)
        flow.data["reference"] = complaint.reference
        return Goto("done")
