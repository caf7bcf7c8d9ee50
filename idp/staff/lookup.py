"""Staff console: "Tra cứu công dân" — find an account by ID number (permission
`citizens.lookup`). The answer is masked (ID number, phones), with the account's status,
how it was verified and when it was made; the details in clear (full ID number, phones,
birth date, e-mail) only after the staff member writes why (e.g. the support ticket), which
is audited `staff.citizen_revealed` with the reason, and shown for that one answer only
(POST, Cache-Control: no-store; nothing to come back to). Both steps are POSTs so the ID
number never appears in a URL or an access log."""
from __future__ import annotations

from typing import Any

from flask import render_template, request

from idp.accounts import citizen_admin, factors
from idp.platform.masking import mask_id_number, mask_phone
from idp.platform.messages import Message, msg
from idp.staff import bp, forms
from idp.staff.access import audit, requires

PERMISSION = "citizens.lookup"
REASON_MAX = 500


def _number(value: str | None) -> str | None:
    number = "".join((value or "").split())
    return number if len(number) in (9, 12) and number.isascii() and number.isdigit() else None


def _page(errors: dict[str, Message] | None = None, status: int = 200, **context: Any) -> Any:
    return render_template("staff/lookup.html", errors=errors or {}, **context), status


@bp.route("/lookup", methods=["GET", "POST"])
@requires(PERMISSION)
def lookup() -> Any:
    if request.method == "GET":
        return _page()
    number = _number(request.form.get("id_number"))
    if number is None:
        return _page({"id_number": msg("staff.id_number_invalid")}, 400)
    citizen = citizen_admin.by_id_number(number)
    audit("staff.citizen_looked_up", citizen_id=citizen.id if citizen else None,
          id_number=mask_id_number(number), found=citizen is not None)
    if citizen is None:
        return _page({"id_number": msg("staff.citizen_not_found")}, 404, id_number=number)
    phones = factors.phones(citizen)
    summary = {**forms.masked_citizen(citizen), "phones": [mask_phone(p) for p in phones]}
    if request.form.get("action") != "reveal":
        return _page(summary=summary, id_number=number)
    reason = " ".join((request.form.get("reason") or "").split())
    error = (msg("staff.reason_missing") if not reason else
             msg("staff.reason_too_long") if len(reason) > REASON_MAX else None)
    if error:
        return _page({"reason": error}, 400, summary=summary, id_number=number)
    audit("staff.citizen_revealed", citizen_id=citizen.id, id_number=mask_id_number(number),
          reason=reason)
    full = {"id_number": citizen.id_number, "full_name": citizen.full_name,
            "birth_date": citizen.birth_date, "gender": citizen.gender,
            "phones": phones, "email": citizen.email or ""}
    return _page(summary=summary, id_number=number, full=full, reason=reason)
