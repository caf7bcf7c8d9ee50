"""Staff console: "Đăng ký tại quầy" (issue 17 item 2, "Bưu điện Việt Nam"), for clerks
(permission `counter.register`). The rules are accounts/counter.py's; this module is the
screens, and every step is audited with the clerk's identity (access.audit), ID numbers and
phones masked:

  GET/POST /staff/counter/new               the form ("Đã kiểm tra CCCD/CMND bản gốc", the
                                            not-CBCCVC declaration) → counter.started |
                                            counter.refused (an existing account, budgets)
  GET/POST /staff/counter/<id>/code         the code the citizen reads out (resend) →
                                            counter.phone_code_wrong | counter.code_resent |
                                            counter.issued, whose answer is the slip
  GET      /staff/counter/today             the clerk's own registrations of the day

The slip (printable: static/staff-counter.css @media print) is the answer to the right
code, never a page to come back to: the activation code is in clear only there (and in the
SMS), so it is sent with Cache-Control: no-store. A clerk sees and works only their own
registrations (accounts/counter.find).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import segno
from flask import abort, current_app, redirect, render_template, request, url_for

from idp.accounts import counter
from idp.platform.counter_models import CounterRegistration
from idp.platform.db import now
from idp.platform.humanize import VN_TZ
from idp.platform.masking import mask_id_number, mask_phone
from idp.platform.messages import Message, msg
from idp.staff import bp
from idp.staff.access import audit, current, requires

PERMISSION = "counter.register"


@bp.app_template_filter("id_masked")
def id_masked(value: str | None) -> str:
    return mask_id_number(value)


def _masked(row: CounterRegistration) -> dict[str, Any]:
    return {"registration": row.reference, "id_number": mask_id_number(row.id_number),
            "phone": mask_phone(row.phone)}


def _form_page(errors: dict[str, Message] | None = None, values: dict[str, str] | None = None,
               status: int = 200) -> Any:
    return render_template("staff/counter_new.html", errors=errors or {},
                           values=values or {}, clerk=current(),
                           action=url_for("staff.counter_new")), status


@bp.route("/counter/new", methods=["GET", "POST"])
@requires(PERMISSION)
def counter_new() -> Any:
    if request.method == "GET":
        return _form_page()
    form = request.form
    values = {f: (form.get(f) or "").strip()[:200] for f in counter.FIELDS}
    values.update({box: form.get(box) or "" for box in counter.DECLARATIONS})
    person, errors = counter.validate(form)
    if errors:
        return _form_page(errors, values, 400)
    try:
        row = counter.start(person, current())
    except counter.CounterRefused as exc:
        audit("counter.refused", reason=exc.reason,
              id_number=mask_id_number(person["id_number"]),
              phone=mask_phone(person["phone"]))
        status = {"budget": 429, "sms_failed": 503}.get(exc.reason, 409)
        return _form_page({exc.field or "form": exc.message}, values, status)
    audit("counter.started", **_masked(row))
    return redirect(url_for("staff.counter_code", registration_id=row.id), 303)


def _own(registration_id: int) -> CounterRegistration:
    row = counter.find(registration_id, current())
    if row is None:
        abort(404)
    return row


def _code_page(row: CounterRegistration, errors: dict[str, Message] | None = None,
               notice: Message | None = None, status: int = 200) -> Any:
    return render_template("staff/counter_code.html", row=row, errors=errors or {},
                           notice=notice, resend_in=counter.resend_in(row),
                           action=url_for("staff.counter_code", registration_id=row.id)), status


@bp.route("/counter/<int:registration_id>/code", methods=["GET", "POST"])
@requires(PERMISSION)
def counter_code(registration_id: int) -> Any:
    row = _own(registration_id)
    if row.state != "phone_pending":
        return _code_page(row, {"form": msg("counter.not_pending")}, status=409)
    if request.method == "GET":
        return _code_page(row)
    if request.form.get("action") == "resend":
        try:
            counter.send_phone_code(row, current())
        except counter.CounterRefused as exc:
            audit("counter.code_not_sent", reason=exc.reason, **_masked(row))
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
            return *_code_page(row, {"form": exc.message}, status=429), headers
        audit("counter.code_resent", sends=row.phone_code_sends, **_masked(row))
        return _code_page(row, notice=msg("counter.code_resent"))
    try:
        issued = counter.check_phone_code(row, request.form.get("code") or "")
    except counter.CounterRefused as exc:
        audit("counter.phone_code_wrong", reason=exc.reason, **_masked(row))
        return _code_page(row, {exc.field or "form": exc.message}, status=400)
    audit("counter.issued", expires_at=int(issued.registration.activation_expires_at or 0),
          **_masked(row))
    return _slip(issued)


def activation_url(reference: str) -> str:
    """The slip's link and QR: on the IdP's public address (the issuer), which may not be
    the address the console is reached at."""
    issuer = current_app.config["IDP"]["issuer"]
    return issuer + url_for("register.activate_start", ref=reference)


def _slip(issued: counter.Issued) -> Any:
    row = issued.registration
    url = activation_url(row.reference)
    qr = segno.make(url, error="m").svg_data_uri(scale=4, border=4)
    body = render_template("staff/counter_slip.html", row=row, code=issued.grouped, url=url,
                           qr=qr, notice=msg("counter.slip_once"))
    return body, 200, {"Cache-Control": "no-store"}


@bp.get("/counter/today")
@requires(PERMISSION)
def counter_today() -> Any:
    midnight = dt.datetime.fromtimestamp(now(), VN_TZ).replace(hour=0, minute=0, second=0,
                                                               microsecond=0)
    rows = counter.of_clerk_since(current(), midnight.timestamp())
    return render_template("staff/counter_today.html", rows=rows, now=now())
