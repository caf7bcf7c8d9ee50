"""What the console's decision forms share: the staff member's note (required, one line of
whitespace, at most NOTE_MAX characters), the documents an in-person check may rest on, and
the masked view of a citizen's account, and the case page that is gone or audited."""
from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l

from idp.platform.masking import mask_id_number, mask_phone
from idp.platform.messages import Message, msg
from idp.staff.access import audit

NOTE_MAX = 2000
DOCUMENTS = {
    "cccd_chip": _l("CCCD gắn chip"),
    "cccd": _l("CCCD (mã vạch)"),
    "cmnd": _l("CMND 9 số"),
    "passport": _l("Hộ chiếu"),
}


def note(form: Any, name: str = "note") -> tuple[str, Message | None]:
    text = " ".join((form.get(name) or "").split())
    if not text:
        return "", msg("staff.note_missing")
    if len(text) > NOTE_MAX:
        return "", msg("staff.note_too_long")
    return text, None


def document(form: Any) -> str | None:
    value = form.get("document") or ""
    return value if value in DOCUMENTS else None


def masked_citizen(citizen: Any) -> dict[str, Any]:
    """An account as a staff screen shows it by default (no ID number or phone in clear)."""
    return {"full_name": citizen.full_name, "id_number": mask_id_number(citizen.id_number),
            "phone": mask_phone(citizen.phone), "status": citizen.status,
            "birth_year": (citizen.birth_date or "")[:4], "created_at": citizen.created_at,
            "ial": citizen.ial or "", "verified_by": citizen.verified_by or ""}


def viewed(case: Any, page: Any, event: str, **detail: Any) -> Any:
    """A case's page (lost-phone request, complaint) for GET: "not found" when the case is
    gone or already decided, else `page(case)`, audited as viewed (`event`)."""
    if case is None:
        return render_template("staff/not_found.html"), 404
    audit(event, citizen_id=case.citizen_id, **detail)
    return page(case)
