"""Notifications of account changes by SMS (NIST 800-63B-4 §4.1.2: binding or removing an
authenticator notifies the subscriber; ASVS 5.0 6.3.7). Texts follow sms.py: Vietnamese
without diacritics, no personal data (no number, no name), the hotline to call.

A notification is never the reason a change fails. It is written to the outbox
(idp/outbox.py) and delivered by `idp worker`, retried while the gateway refuses, and a dead
letter is audited (`outbox.dead`). At most NOTIFY_PER_HOUR per account, so the account page
cannot be turned into an SMS pump, and each number's "notify" SMS budget (idp/sms_budget.py)
applies; a refused notice is skipped and audited.

The notice is written in the transaction of the change it reports (DESIGN.md §4b): a caller
first `reserve`s the notices (the per-account cap and the SMS budgets: with the SQL ephemeral
store those counters commit the session, so this runs *before* the change is staged), then
stages its change, then `stage`s the notices, then commits once — the change and its notices
land together or not at all.
"""
from __future__ import annotations

from flask import current_app

from idp.accounts import notices
from idp.platform import audit, sms
from idp.platform.audit import mask_phone

NOTIFY_PER_HOUR = 20
TEXTS = {
    "phone_added": "Tai khoan cua ban vua duoc them mot so dien thoai nhan ma xac thuc.",
    "phone_changed": "So dien thoai nhan ma xac thuc cua tai khoan vua duoc doi sang so khac.",
    "phone_removed": "Mot so dien thoai nhan ma xac thuc vua bi go khoi tai khoan cua ban.",
    "default_changed": "So dien thoai mac dinh cua tai khoan vua duoc thay doi.",
    "totp_added": "Tai khoan cua ban vua duoc gan mot ung dung xac thuc.",
    "totp_removed": "Ung dung xac thuc vua bi go khoi tai khoan cua ban.",
    "recovery_codes": "Bo ma khoi phuc moi vua duoc tao; cac ma cu khong con dung duoc.",
    "password_changed": "Mat khau tai khoan cua ban vua duoc thay doi.",
    "certificate_removed": "Mot chung thu so vua bi go khoi tai khoan cua ban.",
}


def text(kind: str) -> str:
    return (f"{sms.SERVICE_NAME}: {TEXTS[kind]} Neu khong phai ban thuc hien, hay goi ngay "
            f"1800 1096.")


def reserve(citizen_id: int, phones: list[str], kind: str) -> list[str]:
    """The numbers among `phones` (E.164, duplicates ignored) that may be sent the notice
    `kind` (per-account cap, SMS budgets). Call before staging the change."""
    store = current_app.extensions["idp.store"]
    allowed = []
    for phone in dict.fromkeys(p for p in phones if p):
        if store.incr(f"acct-notify:{citizen_id}", 3600) > NOTIFY_PER_HOUR:
            audit.record("account.notify_skipped", citizen_id=citizen_id,
                         phone=mask_phone(phone), kind=kind)
            continue
        allowed.append(phone)
    return notices.reserve(allowed, citizen_id, kind)


def stage(citizen_id: int, reserved: list[str], kind: str) -> None:
    """Add the notices to the session's transaction (the caller commits with its change)."""
    message_ids = notices.stage(reserved, text(kind), kind, citizen_id)
    for phone, message_id in zip(reserved, message_ids):
        audit.record("account.notified", citizen_id=citizen_id, phone=mask_phone(phone),
                     kind=kind, message_id=message_id, commit=False)
