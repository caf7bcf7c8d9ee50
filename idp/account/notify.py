"""Notifications of account changes by SMS (NIST 800-63B-4 §4.1.2: binding or removing an
authenticator notifies the subscriber; ASVS 5.0 6.3.7). Texts follow sms.py: Vietnamese
without diacritics, no personal data (no number, no name), the hotline to call.

A notification is never the reason a change fails: if the gateway refuses, the change stays
and the failure is audited. At most NOTIFY_PER_HOUR per account, so the account page cannot
be turned into an SMS pump.
"""
from __future__ import annotations

from flask import current_app

from .. import audit, sms
from ..audit import mask_phone

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
}


def text(kind: str) -> str:
    return (f"{sms.SERVICE_NAME}: {TEXTS[kind]} Neu khong phai ban thuc hien, hay goi ngay "
            f"1800 1096.")


def notify(citizen_id: int, phones: list[str], kind: str) -> None:
    """Send the notification `kind` to each of `phones` (E.164, duplicates ignored)."""
    store = current_app.extensions["idp.store"]
    for phone in dict.fromkeys(p for p in phones if p):
        if store.incr(f"acct-notify:{citizen_id}", 3600) > NOTIFY_PER_HOUR:
            audit.record("account.notify_skipped", citizen_id=citizen_id,
                         phone=mask_phone(phone), kind=kind)
            continue
        try:
            sms.send(phone, text(kind))
        except sms.SmsError as exc:
            audit.record("account.notify_failed", citizen_id=citizen_id,
                         phone=mask_phone(phone), kind=kind, error=str(exc))
            continue
        audit.record("account.notified", citizen_id=citizen_id, phone=mask_phone(phone),
                     kind=kind)
