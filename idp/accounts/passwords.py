"""The password policy, for every place a citizen chooses a password (forgot password, the
account page, registration). NIST SP 800-63B-4 §3.1.1.2 and ASVS 5.0 V6.2:

- length counted in Unicode code points after NFKC normalisation (the form that is hashed,
  idp/crypto.py): at least 8, at most 128; 15 or more is recommended in the hint;
- any character (Vietnamese letters, spaces, symbols); no composition rules;
- refused when the whole password — case-folded, and also with diacritics and white space
  removed ("Anh yêu em" = "anhyeuem") — is in the blocklist: zxcvbn's 30 000 most common
  passwords (its l33t and reversed variants too) plus a short list of predictable Vietnamese
  choices shipped in idp/data/common_passwords_vi.txt;
- refused when zxcvbn scores it 0 (fewer than 10³ guesses: repeats, sequences, keyboard
  walks), which is "commonly used or expected", not a composition rule;
- refused when it contains the account's ID number, phone number (every written form holds
  the 9 digits after 0 / +84) or birth date (YYYYMMDD, DDMMYYYY, DD/MM/YYYY, ...), or is the
  full name;
- the confirmation must match.

`strength()` is zxcvbn's 0-4 score, shown as guidance next to the field. zxcvbn reads at most
72 characters; longer passwords are not in any blocklist and count as strong. Its
dictionaries (12 MiB resident) are loaded by the first password checked in a process, not
by every worker at start: most requests never choose a password (issue 14).
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _
from flask_babel import lazy_gettext

from idp.platform.crypto import hash_password, password_needs_rehash, verify_password
from idp.platform.db import db, now
from idp.platform.models import Citizen

MIN_LENGTH = 8
RECOMMENDED_LENGTH = 15
MAX_LENGTH = 128
_ZXCVBN_MAX = 72
_VI_LIST = Path(__file__).resolve().parents[1] / "data" / "common_passwords_vi.txt"
_SEPARATORS = re.compile(r"[\s.\-/_]+")

HINT = lazy_gettext("Ít nhất 8 ký tự, nên dùng từ 15 ký tự trở lên, ví dụ một câu dễ nhớ. "
                    "Có thể dùng chữ có dấu, khoảng trắng và mọi ký tự. Không dùng số "
                    "CCCD, số điện thoại, ngày sinh hay mật khẩu phổ biến.")
STRENGTH_LABELS = (lazy_gettext("rất yếu"), lazy_gettext("yếu"), lazy_gettext("trung bình"),
                   lazy_gettext("khá mạnh"), lazy_gettext("mạnh"))


@dataclass(frozen=True)
class Context:
    """What the password must not contain: the account's own data."""
    id_number: str = ""
    phones: tuple[str, ...] = ()  # E.164
    birth_date: str = ""  # YYYY-MM-DD
    full_name: str = ""


def context_for(citizen) -> Context:
    from idp.accounts.factors import phones
    return Context(citizen.id_number, tuple(dict.fromkeys([citizen.phone, *phones(citizen)])),
                   citizen.birth_date, citizen.full_name)


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def fold(text: str) -> str:
    """Case folded, diacritics (and đ) and white space removed: the blocklist's key."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace())


@functools.cache
def _vietnamese() -> tuple[str, ...]:
    lines = _VI_LIST.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@functools.cache
def _blocklist() -> frozenset[str]:
    # zxcvbn also matches the Vietnamese list, so its l33t/reversed variants are caught too.
    from zxcvbn import matching
    matching.add_frequency_lists({"passwords_vi": list(_vietnamese())})
    return frozenset(fold(p) for p in matching.FREQUENCY_LISTS["passwords"]) | \
        frozenset(_vietnamese())


def _analysis(password: str) -> dict | None:
    _blocklist()  # registers the Vietnamese list with zxcvbn first
    if len(password) > _ZXCVBN_MAX:
        return None
    # No user_inputs: zxcvbn keeps them in a module-level dict shared by every thread, and
    # the account's own data is checked explicitly below.
    from zxcvbn import zxcvbn
    return zxcvbn(password)


def strength(password: str) -> int:
    """zxcvbn's score: 0 (guessed in < 10³ tries) ... 4 (≥ 10¹⁰)."""
    result = _analysis(normalize(password))
    return 4 if result is None else int(result["score"])


def strength_label(password: str) -> str:
    return str(STRENGTH_LABELS[strength(password)])


def is_blocklisted(password: str) -> bool:
    password = normalize(password)
    if fold(password) in _blocklist() or password.casefold() in _blocklist():
        return True
    result = _analysis(password)
    if result is None or len(result["sequence"]) != 1:
        return False
    match = result["sequence"][0]
    return match["pattern"] == "dictionary" and match.get("dictionary_name") in (
        "passwords", "passwords_vi")


def _date_forms(birth_date: str) -> set[str]:
    try:
        born = dt.date.fromisoformat(birth_date)
    except (TypeError, ValueError):
        return set()
    y4, y2 = f"{born.year:04d}", f"{born.year % 100:02d}"
    days, months = {f"{born.day:02d}", str(born.day)}, {f"{born.month:02d}", str(born.month)}
    forms = {y4 + f"{born.month:02d}{born.day:02d}", f"{born.day:02d}{born.month:02d}" + y2,
             f"{born.month:02d}{born.day:02d}" + y4}
    for d in days:
        for m in months:
            forms.add(d + m + y4)  # DDMMYYYY, D/M/YYYY once separators are removed
    return forms


def _contains_context(password: str, context: Context) -> str | None:
    text = password.casefold()
    digits = _SEPARATORS.sub("", text)  # "0941 234 947", "15/03/1989" -> digits run together
    if context.id_number and context.id_number in digits:
        return _("Mật khẩu không được chứa số CMND/CCCD của bạn.")
    for phone in context.phones:
        national = phone[3:] if phone.startswith("+84") else phone.lstrip("0")
        if len(national) >= 8 and national in digits:
            return _("Mật khẩu không được chứa số điện thoại của bạn.")
    if any(form in digits for form in _date_forms(context.birth_date)):
        return _("Mật khẩu không được chứa ngày sinh của bạn.")
    if context.full_name and fold(password) == fold(context.full_name):
        return _("Mật khẩu không được là họ và tên của bạn.")
    return None


def check(password: str | None, confirm: str | None, context: Context = Context()) -> dict:
    """Field errors ({"password": ..., "password_confirm": ...}); empty when acceptable."""
    if not password:
        return {"password": _("Vui lòng nhập mật khẩu mới.")}
    password = normalize(password)
    error = None
    if len(password) < MIN_LENGTH:
        error = _("Mật khẩu phải có ít nhất %(min)d ký tự (nên dùng từ %(rec)d ký tự trở lên).",
                  min=MIN_LENGTH, rec=RECOMMENDED_LENGTH)
    elif len(password) > MAX_LENGTH:
        error = _("Mật khẩu dài tối đa %(max)d ký tự.", max=MAX_LENGTH)
    elif any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        error = _("Mật khẩu chứa ký tự điều khiển không hợp lệ.")
    else:
        error = _contains_context(password, context)
    if error is None and is_blocklisted(password):
        error = _("Mật khẩu này quá phổ biến hoặc đã bị lộ trong các vụ rò rỉ dữ liệu. Vui "
                  "lòng chọn mật khẩu khác.")
    if error is None and strength(password) == 0:
        error = _("Mật khẩu này quá dễ đoán (lặp lại, dãy liên tiếp hoặc các phím liền nhau). "
                  "Vui lòng chọn mật khẩu khác.")
    if error:
        return {"password": error}
    if not confirm:
        return {"password_confirm": _("Vui lòng nhập lại mật khẩu mới.")}
    if normalize(confirm) != password:
        return {"password_confirm": _("Mật khẩu nhập lại không khớp.")}
    return {}


def verify_and_upgrade(citizen: Citizen | None, password: str) -> bool:
    """The one password check of a login: True when `password` is `citizen`'s. With no
    citizen (an unknown ID number) the same Argon2 work is done and False returned
    (crypto.verify_password's dummy hash), so the answer's timing tells nothing.

    When the stored hash was made with other Argon2 parameters than today's (crypto._hasher:
    OWASP's m=19 MiB, t=2, p=1 or stronger), the password just proven is hashed again with
    today's and committed at once (the hash and nothing else changes in that commit when the
    caller has nothing pending): old hashes follow a parameter change on their owner's next
    login, without a separate migration that would need every password in clear."""
    stored = citizen.password_hash if citizen is not None else None
    if not verify_password(stored, password):
        return False
    if citizen is not None and stored and password_needs_rehash(stored):
        citizen.password_hash = hash_password(password)
        db.session.commit()
    return True


def store(citizen: Citizen, password: str) -> None:
    """Set `citizen`'s password to one that passed `check` (not committed: the caller commits
    it with the revocations and notices of the change). The one place a chosen password is
    hashed onto an existing account: reset, account page."""
    citizen.password_hash = hash_password(password)
    citizen.password_changed_at = now()
