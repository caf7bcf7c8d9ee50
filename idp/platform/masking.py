"""The project's masking rules for personal data (Decree 13/2023 treats the ID number and the
phone number as basic personal data: neither appears in clear in logs, audit records or on a
screen that does not need it).

Pure functions with no imports of their own, so that any module (the audit trail, the display
helpers in idp.platform.humanize, the log formatter) can use the one rule without an import
cycle. idp.platform.audit re-exports both for its callers.
"""
from __future__ import annotations


def mask_id_number(value: str | None) -> str:
    """066xxxxxx947-style: first 3 (province) and last 3 digits."""
    if not value:
        return ""
    if len(value) <= 6:
        return "x" * len(value)
    return value[:3] + "x" * (len(value) - 6) + value[-3:]


def mask_phone(value: str | None) -> str:
    """0941xxx947: first 4 and last 3 digits of the national form (domain.md §2.4)."""
    if not value:
        return ""
    national = "0" + value[3:] if value.startswith("+84") else value
    if len(national) < 8:
        return "x" * len(national)
    return national[:4] + "x" * (len(national) - 7) + national[-3:]
