"""Citizen-facing wording on the IdP's pages: assurance levels, login methods, times and dates
in Vietnam time, phones in national form, yes/no, gender and devices ("Chrome trên Android",
from the maintained `ua-parser` rules). Registered as Jinja filters by `register(app)`.

Every function is pure apart from gettext (which falls back to the Vietnamese source outside
a request) and never raises on odd input: a page must not fail because a stored value is
strange. The portals keep their own small copy (portals/humanize.py): they do not import idp.
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from flask_babel import gettext as _

from idp.platform.masking import mask_phone

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    VN_TZ: dt.tzinfo = ZoneInfo("Asia/Ho_Chi_Minh")
except (ImportError, ZoneInfoNotFoundError):  # pragma: no cover - no tzdata on the host
    VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")  # Vietnam has no daylight saving

MAX_UA = 512  # longer User-Agent strings are cut before parsing (cost, cache size)


def acr_label(acr) -> str:
    labels = {"LoA1": _("Mức 1 (mật khẩu)"), "LoA2": _("Mức 2 (mật khẩu + mã OTP)"),
              "LoA3": _("Mức 3 (chữ ký số)")}
    return labels.get(acr if isinstance(acr, str) else "", _("Không xác định"))


def amr_label(amr) -> str:
    """RFC 8176 values -> 'mật khẩu + mã OTP qua SMS'; "mfa" alone says nothing more."""
    labels = {"pwd": _("mật khẩu"), "sms": _("mã OTP qua SMS"),
              "otp": _("mã OTP từ ứng dụng xác thực"), "hwk": _("khóa phần cứng"),
              "swk": _("chữ ký số"), "fed": _("tài khoản định danh điện tử VNeID")}
    if isinstance(amr, str):
        amr = amr.split()
    words = [labels[m] for m in (amr or []) if isinstance(m, str) and m in labels]
    return " + ".join(dict.fromkeys(words)) or _("Không xác định")


def _moment(value) -> dt.datetime | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def datetime_vn(value) -> str:
    """An epoch in seconds (or a datetime, naive = UTC) -> 'dd/mm/yyyy HH:mm', Vietnam time."""
    moment = _moment(value)
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if moment else ""


def date_vn(value) -> str:
    """A date, a 'YYYY-MM-DD' string or an epoch -> 'dd/mm/yyyy' (Vietnam time)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).strftime("%d/%m/%Y")
        except ValueError:
            return value
    moment = _moment(value)
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y") if moment else ""


def phone_national(value) -> str:
    """'+84941234947' -> '0941 234 947'; anything that is not a 10-digit number as given."""
    text = re.sub(r"[\s.-]", "", str(value or ""))
    national = "0" + text[3:] if text.startswith("+84") else text
    if not re.fullmatch(r"0[0-9]{9}", national, re.ASCII):
        return str(value or "")
    return f"{national[:4]} {national[4:7]} {national[7:]}"


def phone_masked(value) -> str:
    """'+84941234947' -> '0941xxx947' (the project's one masking rule, idp.platform.masking)."""
    return mask_phone(value if isinstance(value, str) else None)


def yes_no(value) -> str:
    if isinstance(value, str):
        value = value.strip().lower() in ("1", "true", "yes", "có")
    return _("Có") if value else _("Không")


def gender_label(value) -> str:
    key = str(value if value is not None else "").strip().lower()
    if key in ("male", "1"):
        return _("Nam")
    if key in ("female", "2"):
        return _("Nữ")
    return _("Không xác định")


# ua-parser family names -> what a citizen calls the browser / the system.
_BROWSERS = {"Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome",
             "Chrome Mobile WebView": "Chrome", "HeadlessChrome": "Chrome",
             "Mobile Safari": "Safari", "Mobile Safari UI/WKWebView": "Safari",
             "Firefox Mobile": "Firefox", "Firefox iOS": "Firefox", "Edge Mobile": "Edge",
             "Opera Mobile": "Opera", "Coc Coc": "Cốc Cốc", "Samsung Internet": "Samsung Internet"}
_SYSTEMS = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS", "Ubuntu": "Linux",
            "Fedora": "Linux", "Debian": "Linux"}


@lru_cache(maxsize=512)
def _families(ua: str) -> tuple[str | None, str | None]:
    try:
        import ua_parser
        result = ua_parser.parse(ua)
    except Exception:  # noqa: BLE001 - a parser problem must not break the page
        return None, None
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    browser = None if browser in (None, "", "Other") else _BROWSERS.get(browser, browser)
    system = None if system in (None, "", "Other") else _SYSTEMS.get(system, system)
    return browser, system


def device_label(user_agent) -> str:
    """'Mozilla/5.0 (Linux; Android 14; …) Chrome/124…' -> 'Chrome trên Android'."""
    ua = user_agent[:MAX_UA].strip() if isinstance(user_agent, str) else ""
    browser, system = _families(ua) if ua else (None, None)
    if not browser:
        return _("Trình duyệt không xác định")
    if not system:
        return browser
    return _("%(browser)s trên %(system)s", browser=browser, system=system)


FILTERS = {"acr_label": acr_label, "amr_label": amr_label, "datetime_vn": datetime_vn,
           "date_vn": date_vn, "phone_national": phone_national, "phone_masked": phone_masked,
           "yes_no": yes_no, "gender_label": gender_label, "device_label": device_label}


def register(app) -> None:
    app.jinja_env.filters.update(FILTERS)
