"""Citizen-facing wording of what the portals receive from the IdP: assurance levels, login
methods, times, dates, phones, genders and yes/no, in Vietnamese and without protocol terms.

Pure functions, registered as Jinja filters by `register(app)`. The portals talk to the IdP
only over HTTP and import nothing from `idp`; idp/humanize.py holds the IdP's own (translated)
counterpart, so the few labels below are deliberately duplicated there.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from flask import Flask

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    VN_TZ: dt.tzinfo = ZoneInfo("Asia/Ho_Chi_Minh")
except (ImportError, ZoneInfoNotFoundError):  # pragma: no cover - no tzdata on the host
    VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")  # Vietnam has no daylight saving

UNKNOWN = "Không xác định"

ACR_LABELS = {"LoA1": "Mức 1 (mật khẩu)", "LoA2": "Mức 2 (mật khẩu + mã OTP)",
              "LoA3": "Mức 3 (chữ ký số)"}
# RFC 8176 method references. "mfa" only says that several factors were used: the others
# already say which, so it is not shown on its own.
AMR_LABELS = {"pwd": "mật khẩu", "sms": "mã OTP qua SMS", "otp": "mã OTP từ ứng dụng xác thực",
              "hwk": "khóa phần cứng", "swk": "chữ ký số", "sc": "thẻ thông minh",
              "face": "nhận diện khuôn mặt", "fpt": "vân tay",
              "fed": "tài khoản định danh điện tử VNeID"}
GENDER_LABELS = {"male": "Nam", "female": "Nữ", "1": "Nam", "2": "Nữ"}


def acr_label(acr: Any) -> str:
    """'LoA2' -> 'Mức 2 (mật khẩu + mã OTP)'."""
    return ACR_LABELS.get(acr if isinstance(acr, str) else "", UNKNOWN)


def amr_label(amr: Any) -> str:
    """['pwd', 'sms', 'mfa'] -> 'mật khẩu + mã OTP qua SMS'."""
    if isinstance(amr, str):
        amr = amr.split()
    words = [AMR_LABELS[m] for m in (amr or []) if m in AMR_LABELS]
    return " + ".join(dict.fromkeys(words)) or UNKNOWN


def datetime_vn(value: Any) -> str:
    """An epoch (seconds) or an aware datetime -> 'dd/mm/yyyy HH:mm' in Vietnam time."""
    if isinstance(value, bool) or value is None or value == "":
        return ""
    try:
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        else:
            moment = dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")


_ISO_DATE = re.compile(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})", re.ASCII)


def date_vn(value: Any) -> str:
    """'1985-03-14' or '19850314' (the dvcqg form) -> '14/03/1985'; anything else as given."""
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    text = str(value or "").strip()
    m = _ISO_DATE.fullmatch(text)
    if not m:
        return text
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])).strftime("%d/%m/%Y")
    except ValueError:
        return text


def phone_national(value: Any) -> str:
    """'+84941234947' or '0941234947' -> '0941 234 947' (national form, 4-3-3 groups)."""
    digits = re.sub(r"[^0-9+]", "", str(value or ""))
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0[0-9]{9}", digits):
        return str(value or "")
    return f"{digits[:4]} {digits[4:7]} {digits[7:]}"


def yes_no(value: Any) -> str:
    if isinstance(value, str):
        value = value.strip().lower() in ("1", "true", "yes", "có")
    return "Có" if value else "Không"


def gender_label(value: Any) -> str:
    return GENDER_LABELS.get(str(value if value is not None else "").strip().lower(), UNKNOWN)


FILTERS: dict[str, Callable[[Any], str]] = {
    "acr_label": acr_label, "amr_label": amr_label, "datetime_vn": datetime_vn,
    "date_vn": date_vn, "phone_national": phone_national, "yes_no": yes_no,
    "gender_label": gender_label}


def register(app: Flask) -> None:
    """Claim values come from the IdP's JSON, of any shape: every filter accepts anything and
    falls back to a neutral text rather than failing the page."""
    app.jinja_env.filters.update(FILTERS)
