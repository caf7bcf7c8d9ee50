"""Validation of citizen data: pure functions, no database, no Flask. (OAuth client metadata
is the protocol layer's: idp/protocol/client_metadata.py.)

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

import phonenumbers

from idp.platform.messages import Message

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


class ValidationError(ValueError):
    """`code` is also the message id (`id_number.format`): `message` is a `Message` carrying
    it, so a form that shows the error renders `data-msg="<code>"` like any catalogue message."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = Message(code, message)
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

# The one shape of an ID number: 12 ASCII digits (CCCD / personal ID) or 9 (old CMND).
ID_NUMBER_SHAPE = re.compile(r"[0-9]{12}|[0-9]{9}", re.ASCII)


def looks_like_id_number(text: object) -> bool:
    """The quick shape check for forms that must not reveal more (login, recovery): 9 or 12
    ASCII digits, nothing else. `parse_id_number` is the full rule (province, century)."""
    return isinstance(text, str) and ID_NUMBER_SHAPE.fullmatch(text) is not None


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


def mobile_or_none(text) -> str | None:
    """normalize_phone's E.164, or None for what is not a Vietnamese mobile number (a
    registry row or answer that can receive no code)."""
    try:
        return normalize_phone(text)
    except ValidationError:
        return None


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


PERSON_FIELDS = ("full_name", "id_number", "birth_date", "gender", "phone", "email")


def parse_person_form(form, fields: tuple[str, ...] = PERSON_FIELDS) -> tuple[dict, dict]:
    """(normalised person, field errors) of a form with `fields` of PERSON_FIELDS (online
    registration, a counter clerk's form; "Bảo hiểm xã hội" asks no phone): each field checked
    on its own, so that every invalid field gets its own message; the CCCD's consistency with
    birth date and gender when all three are valid; birth_date as YYYY-MM-DD. Errors are
    `Message`s keyed by field."""
    from idp.platform.messages import msg
    person: dict = {}
    errors: dict = {}
    parsers = (("full_name", normalize_name), ("id_number", parse_id_number),
               ("birth_date", parse_birth_date), ("gender", parse_gender),
               ("phone", normalize_phone), ("email", normalize_email))
    required = {"birth_date": "register.birth_date_required",
                "gender": "register.gender_required"}
    for name, parse in parsers:
        if name not in fields:
            continue
        raw = form.get(name) or ""
        if name in required and not str(raw).strip():
            errors[name] = msg(required[name])
            continue
        try:
            person[name] = parse(raw)
        except ValidationError as exc:
            errors[name] = exc.message
    if {"id_number", "birth_date", "gender"} <= set(person):
        try:
            check_cccd_consistency(person["id_number"], person["birth_date"], person["gender"])
        except ValidationError as exc:
            errors["id_number"] = exc.message
    if "birth_date" in person:
        person["birth_date"] = person["birth_date"].isoformat()
    return person, errors


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
