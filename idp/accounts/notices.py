"""SMS notices to a citizen's phones ("your password was changed", "a complaint was filed"...),
in two steps because of the SMS budget: `reserve` takes the "notify" budget for each number
*before* the change is added to the session (with the SQL ephemeral store a budget counter
commits the session), `stage` adds the texts to the outbox (idp/platform/outbox.py) in the
caller's transaction, so a notice is sent if and only if the change it tells of is committed.
"""
from __future__ import annotations

from idp.accounts import sms_budget
from idp.platform import audit, metrics, outbox
from idp.platform.audit import mask_phone


def stage(phones, text: str, notice: str, citizen_id: int | None = None) -> list[str]:
    """Add the notice `text` for each number `reserve` allowed to the session's
    transaction (purpose `notify:<notice>`); the caller commits it with its change. Returns
    the message ids, in the order of `phones`."""
    return [outbox.enqueue_sms(phone, text, f"notify:{notice}", citizen_id) for phone in phones]


def reserve(phones, citizen_id: int | None, notice: str) -> list[str]:
    """Take the "notify" SMS budget for each distinct number (idp/sms_budget.py) and return
    the numbers that may be texted. A refused one is skipped and audited: a notice is never
    the reason a change fails. Call it *before* the change is added to the session: with the
    SQL ephemeral store a budget counter commits the session."""
    allowed = []
    for phone in dict.fromkeys(p for p in phones if p):
        try:
            taken = sms_budget.take("notify", phone, citizen_id)
        except sms_budget.BudgetRefused as exc:
            audit.record("notify.skipped", citizen_id=citizen_id, phone=mask_phone(phone),
                         notice=notice, budget=getattr(exc, "budget", None), commit=False)
            continue
        metrics.sms_budget_used(taken)
        allowed.append(phone)
    return allowed
