"""Validation of citizen data and client metadata: pure functions, no database, no Flask.

Every function either returns the normalised value or raises `ValidationError` carrying a
machine code (for tests and templates), a Vietnamese message for the user, and the field name.
Rules for ID numbers and phones follow reference/domain.md §1-§2.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

import phonenumbers

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


class ValidationError(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _load_provinces() -> dict[str, str]:
    with open(DATA_DIR / "provinces.csv", encoding="utf-8", newline="") as fh:
        return {row["code"]: row["name_2016"] for row in csv.DictReader(fh)}


# Code of the province where the birth was registered -> its name (Thông tư 07/2016/TT-BCA).
# Codes are not contiguous (003, 005, ... are unassigned) and stay valid after the 2025 merger.
PROVINCES: dict[str, str] = _load_provinces()

_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


# --- ID numbers (CCCD 12 digits, old CMND 9 digits) ------------------------------------------

def parse_id_number(text) -> str:
    """A 12-digit CCCD / personal ID number or a 9-digit CMND. There is no check digit: a
    well-formed wrong number can only be caught by an online check (domain.md §1.4)."""
    if not isinstance(text, str):
        raise ValidationError("id_number.type", "Số định danh phải là một chuỗi chữ số.",
                              "id_number")
    value = text.strip()
    if not value:
        raise ValidationError("id_number.required", "Vui lòng nhập số định danh cá nhân.",
                              "id_number")
    if not _ASCII_DIGITS.fullmatch(value):
        raise ValidationError("id_number.digits",
                              "Số định danh chỉ gồm các chữ số 0-9, không có khoảng trắng.",
                              "id_number")
    if len(value) == 9:
        return value  # CMND: no structure to check (domain.md §1.3)
    if len(value) != 12:
        raise ValidationError("id_number.length",
                              "Số định danh phải gồm 12 chữ số (CCCD) hoặc 9 chữ số (CMND).",
                              "id_number")
    if value[:3] not in PROVINCES:
        raise ValidationError("id_number.province",
                              f"Mã tỉnh {value[:3]} trong số định danh không tồn tại.",
                              "id_number")
    _, _, year = cccd_facts(value)
    if year > dt.date.today().year:
        raise ValidationError("id_number.century",
                              "Mã thế kỷ và năm sinh trong số định danh không hợp lệ.",
                              "id_number")
    return value


def cccd_facts(number: str) -> tuple[str, str, int]:
    """(province code, 'male'|'female', birth year) encoded in a 12-digit number `PPP G YY ...`:
    G = 2 × (century − 20) + (1 if female), so 0/1 = 1900s, 2/3 = 2000s, ... (domain.md §1.1)."""
    g = int(number[3])
    gender = "female" if g % 2 else "male"
    year = 1900 + (g // 2) * 100 + int(number[4:6])
    return number[:3], gender, year


def check_cccd_consistency(number: str, birth_date: dt.date, gender: str) -> None:
    """The century/gender digit and the year digits of a 12-digit number must agree with the
    declared birth date and gender. A 9-digit CMND encodes neither."""
    if len(number) != 12:
        return
    _, coded_gender, coded_year = cccd_facts(number)
    if coded_year != birth_date.year:
        raise ValidationError("id_number.birth_year",
                              "Năm sinh không khớp với số định danh cá nhân.", "id_number")
    if coded_gender != gender:
        raise ValidationError("id_number.gender",
                              "Giới tính không khớp với số định danh cá nhân.", "id_number")


# --- Mobile numbers ---------------------------------------------------------------------------

# Mobile prefixes (first two digits of the 9-digit national significant number, i.e. "094" in
# national form) that may receive an SMS OTP. domain.md §2.2; update as carriers get new ranges.
MOBILE_PREFIXES: frozenset[str] = frozenset({
    # Viettel
    "32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98",
    # VinaPhone
    "81", "82", "83", "84", "85", "88", "91", "94",
    # MobiFone (and the MVNOs inside its ranges: Local, VNSKY, FPT Retail)
    "70", "76", "77", "78", "79", "89", "90", "93",
    # Vietnamobile
    "52", "56", "58", "92",
    # Gmobile
    "59", "99",
    # Itelecom
    "87",
    # Wintel
    "55",
})

_PHONE_CHARS = re.compile(r"\+?[0-9 .()-]{1,30}", re.ASCII)


def normalize_phone(text, prefixes: frozenset[str] = MOBILE_PREFIXES) -> str:
    """A Vietnamese mobile number in E.164 form ("+84941234947"). `phonenumbers` parses and
    normalises; the prefix allow-list decides, since the library is both too lenient and too
    strict for VN mobiles (domain.md §2.3)."""
    if not isinstance(text, str):
        raise ValidationError("phone.type", "Số điện thoại phải là một chuỗi.", "phone")
    value = text.strip()
    if not value:
        raise ValidationError("phone.required", "Vui lòng nhập số điện thoại di động.", "phone")
    if not _PHONE_CHARS.fullmatch(value):
        raise ValidationError("phone.format", "Số điện thoại chỉ gồm các chữ số 0-9.", "phone")
    try:
        number = phonenumbers.parse(value, "VN")
    except phonenumbers.NumberParseException:
        raise ValidationError("phone.format", "Số điện thoại không hợp lệ.", "phone") from None
    if number.country_code != 84:
        raise ValidationError("phone.foreign",
                              "Chỉ chấp nhận số điện thoại di động của nhà mạng Việt Nam.",
                              "phone")
    national = str(number.national_number)
    if national.startswith("2") and len(national) == 10:
        raise ValidationError("phone.landline",
                              "Số máy cố định không nhận được mã OTP; vui lòng nhập số di động.",
                              "phone")
    if len(national) != 9 or national[:2] not in prefixes:
        raise ValidationError("phone.prefix",
                              "Số điện thoại di động không hợp lệ (cần 10 chữ số, đầu số của "
                              "nhà mạng Việt Nam, ví dụ 0941234947).", "phone")
    return "+84" + national


# --- Personal data ----------------------------------------------------------------------------

_NAME_PUNCT = {"'", "’", "-"}


def normalize_name(text) -> str:
    """Full name: NFC, inner whitespace collapsed, 1-200 characters, Latin letters (with the
    Vietnamese diacritics), spaces, apostrophes (H'Hen Niê) and hyphens."""
    if not isinstance(text, str):
        raise ValidationError("full_name.type", "Họ và tên phải là một chuỗi.", "full_name")
    value = " ".join(unicodedata.normalize("NFC", text).split())
    if not value:
        raise ValidationError("full_name.required", "Vui lòng nhập họ và tên.", "full_name")
    if len(value) > 200:
        raise ValidationError("full_name.length", "Họ và tên dài tối đa 200 ký tự.", "full_name")
    for i, ch in enumerate(value):
        if ch == " " or ch in _NAME_PUNCT:
            ok = i > 0
        elif unicodedata.category(ch).startswith("M"):
            ok = i > 0 and value[i - 1] not in " '’-"  # a combining mark after a letter
        else:
            ok = ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN")
        if not ok:
            raise ValidationError("full_name.chars",
                                  "Họ và tên chỉ gồm chữ cái, khoảng trắng, dấu nháy (') và "
                                  "dấu gạch ngang (-).", "full_name")
    return value


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
# What a citizen types (issue 12): day/month/year, "25/03/1990", also "5/3/1990", "25.03.1990".
_DMY = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})", re.ASCII)
MIN_BIRTH_DATE = dt.date(1900, 1, 1)


def parse_birth_date(text, today: dt.date | None = None) -> dt.date:
    """A birth date typed as dd/mm/yyyy (the form) or YYYY-MM-DD (CONTRACT.md §7, automated
    clients and the citizen import): a real day, not in the future, not before 1900."""
    if isinstance(text, dt.date):
        value = text
    else:
        stripped = text.strip() if isinstance(text, str) else ""
        iso, dmy = _DATE.fullmatch(stripped), _DMY.fullmatch(stripped)
        if not (iso or dmy):
            raise ValidationError("birth_date.format",
                                  "Ngày sinh phải có dạng ngày/tháng/năm, ví dụ 25/03/1990.",
                                  "birth_date")
        year, month, day = (iso.groups() if iso else dmy.groups()[::-1])
        try:
            value = dt.date(int(year), int(month), int(day))
        except ValueError:
            raise ValidationError("birth_date.invalid", "Ngày sinh không phải là ngày có thật.",
                                  "birth_date") from None
    if value > (today or dt.date.today()):
        raise ValidationError("birth_date.future", "Ngày sinh không được ở tương lai.",
                              "birth_date")
    if value < MIN_BIRTH_DATE:
        raise ValidationError("birth_date.too_old", "Ngày sinh không được trước năm 1900.",
                              "birth_date")
    return value


GENDERS = ("male", "female")


def parse_gender(text) -> str:
    value = text.strip().lower() if isinstance(text, str) else None
    if value not in GENDERS:
        raise ValidationError("gender.invalid", "Giới tính phải là nam (male) hoặc nữ (female).",
                              "gender")
    return value


_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


def normalize_email(text) -> str | None:
    """Optional e-mail: None or "" means none given. A sanity check, not RFC 5322."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValidationError("email.type", "Thư điện tử phải là một chuỗi.", "email")
    value = unicodedata.normalize("NFC", text.strip())
    if not value:
        return None
    if len(value) > 254 or not _EMAIL.fullmatch(value) or any(
            unicodedata.category(ch).startswith("C") for ch in value):
        raise ValidationError("email.invalid", "Địa chỉ thư điện tử không hợp lệ.", "email")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


PASSWORD_MIN = 8  # NIST 800-63B-4 §3.1.1.2 / ASVS 5.0 6.2.1 (15 recommended without MFA)
PASSWORD_MAX = 128  # ASVS 4.0 2.1.2


def check_password(password, context: tuple[str, ...] = ()) -> str:
    """Length rules only (no composition rules, ASVS 5.0 6.2.5); the blocklist check belongs
    to the set-password step. `context`: values the password must not equal (ID number...)."""
    if not isinstance(password, str) or not password:
        raise ValidationError("password.required", "Vui lòng nhập mật khẩu.", "password")
    if len(password) < PASSWORD_MIN:
        raise ValidationError("password.short",
                              f"Mật khẩu phải có ít nhất {PASSWORD_MIN} ký tự.", "password")
    if len(password) > PASSWORD_MAX:
        raise ValidationError("password.long",
                              f"Mật khẩu dài tối đa {PASSWORD_MAX} ký tự.", "password")
    if password.casefold() in {c.casefold() for c in context if c}:
        raise ValidationError("password.context",
                              "Mật khẩu không được trùng với số định danh hoặc số điện thoại.",
                              "password")
    return password


CITIZEN_FIELDS = ("id_number", "full_name", "birth_date", "gender", "phone", "email",
                  "password")


def validate_citizen(data, require_password: bool = True) -> dict:
    """One citizen record (CONTRACT.md §3 line format), normalised: birth_date as YYYY-MM-DD,
    phone in E.164, email or None. Fields are checked in CITIZEN_FIELDS order."""
    if not isinstance(data, dict):
        raise ValidationError("citizen.type", "Mỗi công dân phải là một đối tượng JSON.")
    for key in data:
        if key not in CITIZEN_FIELDS:
            raise ValidationError("citizen.unknown_field", "Trường không được hỗ trợ.", str(key))
    required = [f for f in CITIZEN_FIELDS if f != "email" and (require_password or
                                                                f != "password")]
    for key in required:
        if key not in data:
            raise ValidationError("citizen.required", "Trường bắt buộc.", key)
    id_number = parse_id_number(data["id_number"])
    full_name = normalize_name(data["full_name"])
    birth_date = parse_birth_date(data["birth_date"])
    gender = parse_gender(data["gender"])
    check_cccd_consistency(id_number, birth_date, gender)
    phone = normalize_phone(data["phone"])
    record = {"id_number": id_number, "full_name": full_name,
              "birth_date": birth_date.isoformat(), "gender": gender, "phone": phone,
              "email": normalize_email(data.get("email"))}
    if "password" in data:
        record["password"] = check_password(data["password"],
                                            (id_number, phone, "0" + phone[3:]))
    return record


# --- Client metadata (RFC 7591 / OIDC Registration names, CONTRACT.md §3) --------------------

GRANT_TYPES = ("authorization_code", "refresh_token")
SCOPES = ("openid", "profile", "phone", "email", "offline_access", "dvcqg")
DEFAULT_SCOPE = "openid profile phone email offline_access"
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
SIGNING_ALGS = ("ES256", "RS256")
ACR_VALUES = ("LoA1", "LoA2", "LoA3")
CLIENT_SECRET_MIN = 32
CLIENT_FIELDS = (
    "client_id", "client_secret", "client_name", "redirect_uris", "post_logout_redirect_uris",
    "grant_types", "response_types", "scope", "token_endpoint_auth_method",
    "id_token_signed_response_alg", "default_acr_values", "backchannel_logout_uri",
    "backchannel_logout_session_required", "first_party", "login_acr_floor",
)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,100}", re.ASCII)
_SECRET = re.compile(r"[\x21-\x7e]+", re.ASCII)  # printable ASCII, no spaces
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _bad(field: str, message: str, code: str = "client.invalid"):
    return ValidationError(code, message, field)


def validate_uri(value, field: str) -> str:
    """An absolute https URI, or http on a loopback host; no fragment, no wildcard, no
    user:password@ (RFC 9700 §2.1 exact matching, OIDC Registration §2)."""
    if not isinstance(value, str) or not value:
        raise _bad(field, "URI phải là một chuỗi không rỗng.")
    if len(value) > 2000 or not value.isascii() or any(
            ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7f for ch in value):
        raise _bad(field, f"URI không hợp lệ: {value!r}.")
    if "*" in value:
        raise _bad(field, f"URI không được chứa ký tự đại diện (*): {value}")
    try:
        parts = urlsplit(value)
        parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise _bad(field, f"URI không hợp lệ: {value}") from None
    if "#" in value:
        raise _bad(field, f"URI không được chứa phân đoạn (#): {value}")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _bad(field, f"URI phải là địa chỉ tuyệt đối https://: {value}")
    if parts.username is not None or parts.password is not None:
        raise _bad(field, f"URI không được chứa thông tin đăng nhập: {value}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise _bad(field, "Chỉ cho phép http:// với địa chỉ loopback (127.0.0.1, localhost, "
                          f"[::1]); hãy dùng https://: {value}")
    return value


def _uri_list(value, field: str, required: bool) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(field, "Phải là một danh sách các URI.")
    if required and not value:
        raise _bad(field, "Cần ít nhất một URI.")
    result: list[str] = []
    for item in value:
        uri = validate_uri(item, field)
        if uri not in result:
            result.append(uri)
    return result


def _string_list(value, field: str, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(field, "Phải là một danh sách chuỗi.")
    result: list[str] = []
    for item in value:
        if item not in allowed:
            raise _bad(field, f"Giá trị {item!r} không được hỗ trợ (cho phép: "
                              f"{', '.join(allowed)}).")
        if item not in result:
            result.append(item)
    return result


def _choice(value, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _bad(field, f"Giá trị {value!r} không được hỗ trợ (cho phép: {', '.join(allowed)}).")
    return value


def _bool(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(field, "Phải là true hoặc false.")
    return value


def validate_client_metadata(data, check_backchannel_uri=None,
                             lowest_acr_floor: str = "LoA2") -> dict:
    """The normalised metadata to store with Client.set_metadata(): defaults filled in, and
    without client_secret (that is stored hashed; see `client_secret_of`).

    `check_backchannel_uri(uri)`, when given, is the deployment's guard on where the IdP may
    POST logout tokens (idp.netguard.check_url with the configured policy); it raises a
    ValueError whose message says why.

    `login_acr_floor` (our own name, not RFC 7591) is the level this client's logins end at
    when the RP asks for less; a floor below `lowest_acr_floor` (policy.lowest_client_floor:
    the deployment's `login_min_acr` unless `allow_loa1_clients`) is refused."""
    if not isinstance(data, dict):
        raise ValidationError("client.type", "Mỗi client phải là một đối tượng JSON.")
    for key in data:
        if key not in CLIENT_FIELDS:
            raise _bad(str(key), "Trường không được hỗ trợ.", "client.unknown_field")
    for key in ("client_id", "client_name", "redirect_uris"):
        if key not in data:
            raise _bad(key, "Trường bắt buộc.", "client.required")

    meta: dict = {}
    client_id = data["client_id"]
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise _bad("client_id", "Gồm 1-100 ký tự A-Z, a-z, 0-9, dấu chấm, gạch dưới, gạch ngang.")
    meta["client_id"] = client_id

    name = data["client_name"]
    name = " ".join(unicodedata.normalize("NFC", name).split()) if isinstance(name, str) else ""
    if not 1 <= len(name) <= 200 or any(unicodedata.category(c).startswith("C") for c in name):
        raise _bad("client_name", "Tên client phải là chuỗi 1-200 ký tự.")
    meta["client_name"] = name

    meta["redirect_uris"] = _uri_list(data["redirect_uris"], "redirect_uris", required=True)
    if "post_logout_redirect_uris" in data:
        meta["post_logout_redirect_uris"] = _uri_list(
            data["post_logout_redirect_uris"], "post_logout_redirect_uris", required=False)

    grants = _string_list(data.get("grant_types", list(GRANT_TYPES)), "grant_types", GRANT_TYPES)
    if "authorization_code" not in grants:
        raise _bad("grant_types", "Phải có authorization_code.")
    meta["grant_types"] = grants

    if data.get("response_types", ["code"]) != ["code"]:
        raise _bad("response_types", 'Chỉ hỗ trợ ["code"].')
    meta["response_types"] = ["code"]

    if "scope" in data:
        scope = data["scope"]
        if not isinstance(scope, str):
            raise _bad("scope", "Phải là một chuỗi các phạm vi cách nhau bởi dấu cách.")
        scopes = _string_list(scope.split(), "scope", SCOPES)
        if "openid" not in scopes:
            raise _bad("scope", "Phải có openid.")
        if "offline_access" in scopes and "refresh_token" not in grants:
            raise _bad("scope", "offline_access cần grant_types có refresh_token.")
    else:
        scopes = [s for s in DEFAULT_SCOPE.split()
                  if s != "offline_access" or "refresh_token" in grants]
    meta["scope"] = " ".join(scopes)

    method = _choice(data.get("token_endpoint_auth_method", "client_secret_basic"),
                     "token_endpoint_auth_method", AUTH_METHODS)
    meta["token_endpoint_auth_method"] = method
    secret = data.get("client_secret")
    if method == "none":
        if secret is not None:
            raise _bad("client_secret", "Client công khai (none) không được có client_secret.")
    elif secret is None:
        raise _bad("client_secret", "Trường bắt buộc khi token_endpoint_auth_method là "
                                    f"{method}.", "client.required")
    elif not isinstance(secret, str) or not _SECRET.fullmatch(secret):
        raise _bad("client_secret", "Phải là chuỗi ký tự ASCII in được, không có khoảng trắng.")
    elif not CLIENT_SECRET_MIN <= len(secret) <= 200:
        raise _bad("client_secret", f"Phải dài từ {CLIENT_SECRET_MIN} đến 200 ký tự.")

    meta["id_token_signed_response_alg"] = _choice(
        data.get("id_token_signed_response_alg", "ES256"), "id_token_signed_response_alg",
        SIGNING_ALGS)
    if "default_acr_values" in data:
        meta["default_acr_values"] = _string_list(data["default_acr_values"],
                                                  "default_acr_values", ACR_VALUES)
    if "login_acr_floor" in data:
        floor = _choice(data["login_acr_floor"], "login_acr_floor", ACR_VALUES)
        if ACR_VALUES.index(floor) < ACR_VALUES.index(lowest_acr_floor):
            raise _bad("login_acr_floor",
                       f"Triển khai này yêu cầu mọi lần đăng nhập đạt tối thiểu "
                       f"{lowest_acr_floor} (mật khẩu + mã OTP); chỉ cho phép client {floor} "
                       f"khi cấu hình allow_loa1_clients = true.", "client.acr_floor_refused")
        meta["login_acr_floor"] = floor
    if "backchannel_logout_uri" in data:
        meta["backchannel_logout_uri"] = validate_uri(data["backchannel_logout_uri"],
                                                      "backchannel_logout_uri")
        if check_backchannel_uri is not None:
            try:
                check_backchannel_uri(meta["backchannel_logout_uri"])
            except ValueError as exc:
                raise _bad("backchannel_logout_uri", str(exc), "client.uri_blocked") from None
    if "backchannel_logout_session_required" in data:
        meta["backchannel_logout_session_required"] = _bool(
            data["backchannel_logout_session_required"], "backchannel_logout_session_required")
    meta["first_party"] = _bool(data.get("first_party", True), "first_party")
    return meta


def client_secret_of(data: dict) -> str | None:
    """The client secret of metadata that passed validate_client_metadata()."""
    return data.get("client_secret")
