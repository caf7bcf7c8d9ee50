"""The bounds of one registration flow (package docstring, "Refused sends and corrected
phones"): the captcha credit (one solved captcha covers CAPTCHA_SUBMISSIONS form
submissions), the carrier queries (KYC_MAX_PER_FLOW), and one OTP challenge per phone number
(at most MAX_PHONES_PER_FLOW numbers). Each counter lives in the ephemeral store under the
flow's id, so it expires with the flow."""
from __future__ import annotations

from typing import Any

from flask import current_app
from werkzeug.datastructures import MultiDict

from idp.interaction.engine import Flow
from idp.platform import captcha
from idp.platform.crypto import sha256_hex

# Form submissions one solved captcha covers in a flow: the first and up to three corrections
# (a refused send, a field error, a KYC mismatch).
CAPTCHA_SUBMISSIONS = 4
# Carrier (KYC) queries one flow may cause, and phone numbers it may send codes to.
KYC_MAX_PER_FLOW = 3
MAX_PHONES_PER_FLOW = 3
# registration's own words for a refused send (methods.refusal.refused overrides)
SEND_WORDS = {"flow_budget": "register.flow_budget"}


def settings() -> dict[str, Any]:
    return current_app.config["IDP"]  # type: ignore[no-any-return]


def store() -> Any:
    return current_app.extensions["idp.store"]


def _credit_key(flow_id: str) -> str:
    return "register-captcha:" + flow_id


def captcha_credit(flow_id: str) -> int:
    """Form submissions the flow's last solved captcha still covers."""
    record = store().get(_credit_key(flow_id))
    return max(0, int(record.get("left", 0))) if record else 0


def _spend_credit(flow_id: str) -> bool:
    """Take one submission from the credit, atomically (CAS): of two parallel submissions
    with one submission left, exactly one passes."""
    found = store().get_rev(_credit_key(flow_id))
    if found is None or int(found[0].get("left", 0)) <= 0:
        return False
    record, rev = found
    return bool(store().cas(_credit_key(flow_id), rev, {"left": int(record["left"]) - 1}))


def pass_captcha(flow: Flow, form: MultiDict[str, str]) -> bool:
    """The form's captcha gate: one submission of the credit if some is left (an answer sent
    anyway is discarded), otherwise a right answer to a captcha bound to this browser, flow
    and purpose, which opens a new credit."""
    if _spend_credit(flow.id):
        captcha.discard(store(), form.get("captcha_id"))
        return True
    if not captcha.verify(store(), form.get("captcha_id") or "", form.get("captcha") or "",
                          bound_to=flow.id, purpose="register"):
        return False
    store().put(_credit_key(flow.id), {"left": CAPTCHA_SUBMISSIONS - 1},
                settings()["flow_ttl"])
    return True


def _kyc_key(flow_id: str) -> str:
    return "register-kyc:" + flow_id


def kyc_queries(flow_id: str) -> int:
    """Carrier queries this flow has had answered."""
    return int(store().incr(_kyc_key(flow_id), settings()["flow_ttl"], 0))


def count_kyc_query(flow_id: str) -> None:
    store().incr(_kyc_key(flow_id), settings()["flow_ttl"])


def challenge_id(flow: Flow) -> str:
    """The OTP challenge of the phone the flow last sent a code to."""
    return str(flow.data.get("challenge") or flow.id)


def challenge_for(flow: Flow, phone: str) -> str | None:
    """The challenge id of `phone` in this flow (a new one for a new number), or None when
    the flow has already sent codes to MAX_PHONES_PER_FLOW other numbers."""
    phones = flow.data.get("phones") or []
    mark = sha256_hex(phone)[:16]
    if mark not in phones:
        if len(phones) >= MAX_PHONES_PER_FLOW:
            return None
        phones = phones + [mark]
    index = phones.index(mark)
    flow.data["phones"] = phones  # saved with the flow only when the code is sent (Goto)
    return flow.id if index == 0 else f"{flow.id}.{index}"
