"""Registration at a counter, "Bưu điện Việt Nam" (issue 17 item 2): the clerk's part.

A clerk checked the citizen's ID card (CCCD/CMND) in person and enters the registration in
the staff console (staff/counter.py); this module holds the rules, the activation is
accounts/counter_activation.py's.

1. `start`: the form is checked with registration's own validators (validation.py) and the
   clerk's two declarations ("Đã kiểm tra CCCD/CMND bản gốc"; "the citizen does not register
   as a state official": the seed says a Vietnam Post account is not for CBCCVC). An ID number
   that already has an account is refused (the clerk points to "Mất số điện thoại nhận OTP" or
   the complaint), so is a phone that is another account's. Then a row `phone_pending` and a
   6-digit code to the phone, in that order: the row is written only if the SMS left.
2. `check_phone_code`: the citizen reads the code to the clerk: the phone is theirs. Wrong
   guesses are counted atomically (otp_max_attempts per code, then it is burned: resend); the
   right one is consumed by a conditional UPDATE (exactly once), which in the same statement
   moves the row to `issued` with a new activation code, whose SMS is written to the outbox
   in that transaction. The code itself is returned once, for the printed slip.
   Resends (`send_phone_code`): resend_cooldown doubling, at most MAX_SENDS codes.

SMS budgets (sms_budget.py): the phone's code counts as a registration code ("register":
the per-phone anonymous allowance and the global share), and the per-address counter is the
clerk's (`staff:<id>`), not the post office's address, which all its counters share; so a
clerk sends at most sms_budget_per_ip codes an hour. The activation SMS is a notice to a
number just proven ("notify"); a refused one is skipped: the slip carries the code anyway.

Codes are stored as HMAC-SHA256 under the application's secret key, bound to the
registration's reference and purpose: a 10-digit code has ~33 bits, which a plain hash in a
copied database would give away in seconds; the key is not in the database.

Activation code: 10 digits, shown and sent as "12345 67890". Digits because the citizen types
it on a phone's numeric keypad or reads it aloud, and an SMS shows it without ambiguity (no
O/0, I/1); 10^10 codes against counter_activation_max_attempts (5) tries per registration
gives a guesser 5·10^-10 per slip, and the reference (8 random characters) must be known too.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from idp.accounts import notices, sms_budget
from idp.accounts.validation import PERSON_FIELDS, parse_person_form
from idp.platform import outbox, sms
from idp.platform.counter_models import CounterRegistration
from idp.platform.db import db, now
from idp.platform.humanize import datetime_vn
from idp.platform.messages import Message, msg
from idp.platform.models import AuthMethod, Citizen

MAX_SENDS = 5  # phone codes per registration, as otp.MAX_SENDS_PER_FLOW
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
REFERENCE_LENGTH = 8
ACTIVATION_DIGITS = 10
# The form's fields, and its two declarations (checkbox names).
FIELDS = PERSON_FIELDS
DECLARATIONS = {"id_checked": "counter.id_checked_required",
                "not_official": "counter.not_official_required"}
TICKED = ("on", "yes", "1", "true")


class Clerk(Protocol):
    """Who works the counter (staff/access.current(): a StaffIdentity)."""
    id: int
    username: str
    full_name: str
    counter: str | None


class CounterRefused(Exception):
    """A step that is not allowed. `reason`: a stable id; `message`: what the page shows;
    `field`: the form field it belongs to (None: the whole page); `retry_after` in seconds."""

    def __init__(self, reason: str, message: Message, field: str | None = None,
                 retry_after: int = 0):
        super().__init__(reason)
        self.reason, self.message, self.field = reason, message, field
        self.retry_after = retry_after


@dataclass(frozen=True)
class Issued:
    """The activation code, in clear once, for the slip."""
    registration: CounterRegistration
    code: str

    @property
    def grouped(self) -> str:
        return group(self.code)


def _settings() -> dict[str, Any]:
    return current_app.config["IDP"]  # type: ignore[no-any-return]


def digest(reference: str, purpose: str, code: str) -> str:
    """The stored form of a code (module docstring)."""
    secret = hashlib.sha256(b"counter:" + current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(secret, f"{reference}:{purpose}:{code}".encode(),
                    hashlib.sha256).hexdigest()


def group(code: str) -> str:
    """'1234567890' -> '12345 67890' (read and typed in two halves)."""
    return f"{code[:5]} {code[5:]}"


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


# --------------------------------------------------------------------------- the form

def validate(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Message]]:
    """(normalised person, field errors) of the counter form: the person's fields as online
    registration checks them (validation.parse_person_form), and the two declarations."""
    person, errors = parse_person_form({name: (form.get(name) or "").strip()[:254]
                                        for name in FIELDS})
    for box, msg_id in DECLARATIONS.items():
        if (form.get(box) or "") not in TICKED:
            errors[box] = msg(msg_id)
    return person, errors


def _phone_taken(phone: str) -> bool:
    """Another account receives codes at `phone` (its registered number or a phone row)."""
    registered = select(Citizen.id).where(Citizen.phone == phone, Citizen.status != "deleted",
                                          Citizen.account_type == "citizen")
    added = select(AuthMethod.citizen_id).where(AuthMethod.phone == phone)
    return db.session.scalar(registered.union(added).limit(1)) is not None


def refusal_for(person: dict[str, Any]) -> CounterRefused | None:
    """Why this person cannot register at the counter (an existing account), or None."""
    if db.session.scalar(select(Citizen.id).where(
            Citizen.id_number == person["id_number"])) is not None:
        return CounterRefused("account_exists", msg("counter.account_exists"), "id_number")
    if _phone_taken(person["phone"]):
        return CounterRefused("phone_taken", msg("counter.phone_taken"), "phone")
    return None


# --------------------------------------------------------------------------- the phone's code

def _take_budget(phone: str, clerk: Clerk) -> list[str]:
    try:
        return sms_budget.take("register", phone, client_address=f"staff:{clerk.id}")
    except sms_budget.BudgetRefused as exc:
        raise CounterRefused("budget", msg("counter.sms_budget"), "phone",
                             exc.retry_after) from None


def _text(code: str) -> str:
    minutes = max(1, _settings()["otp_ttl"] // 60)
    return str(msg("counter.sms_phone_code", service=sms.SERVICE_NAME, code=code,
                   minutes=minutes))


def _deliver(phone: str, code: str, taken: list[str]) -> None:
    """Send the code now (the clerk must know at once that it left); a failure gives the
    budget back and writes nothing."""
    try:
        sms.send(phone, _text(code))
    except sms.SmsError:
        db.session.rollback()
        sms_budget.refund(taken)
        raise CounterRefused("sms_failed", msg("counter.sms_failed")) from None


def start(person: dict[str, Any], clerk: Clerk) -> CounterRegistration:
    """A new registration in `phone_pending` with its code sent; earlier unfinished ones of
    the same ID number are cancelled in the same transaction. Raises CounterRefused."""
    if not clerk.counter:
        raise CounterRefused("no_counter", msg("counter.no_counter"))
    refused = refusal_for(person)
    if refused is not None:
        raise refused
    taken = _take_budget(person["phone"], clerk)  # may commit (the SQL store): before adding
    code = f"{secrets.randbelow(10 ** 6):06d}"
    t = now()
    for _ in range(5):
        db.session.execute(update(CounterRegistration).where(
            CounterRegistration.id_number == person["id_number"],
            CounterRegistration.state.in_(("phone_pending", "issued"))).values(
            state="cancelled"))
        reference = new_reference()
        row = CounterRegistration(
            reference=reference, id_number=person["id_number"], full_name=person["full_name"],
            birth_date=person["birth_date"], gender=person["gender"], phone=person["phone"],
            email=person.get("email"), counter=clerk.counter, staff_id=clerk.id,
            staff_username=clerk.username, staff_full_name=clerk.full_name,
            state="phone_pending", phone_code_hash=digest(reference, "phone", code),
            phone_code_attempts=0, phone_code_sends=1, phone_code_sent_at=t,
            phone_code_expires_at=t + _settings()["otp_ttl"], activation_attempts=0,
            created_at=t)
        db.session.add(row)
        try:
            db.session.flush()
            break
        except IntegrityError:  # the reference was taken (1 in 10^12): draw another
            db.session.rollback()
    else:  # pragma: no cover - five collisions in a row
        sms_budget.refund(taken)
        raise CounterRefused("sms_failed", msg("counter.sms_failed"))
    _deliver(person["phone"], code, taken)
    db.session.commit()
    return row


def resend_in(row: CounterRegistration) -> int:
    """Seconds before the clerk may send the phone another code."""
    if row.phone_code_sent_at is None:
        return 0
    wait = _settings()["resend_cooldown"] * 2 ** max(0, row.phone_code_sends - 1)
    return max(0, int(row.phone_code_sent_at + wait - now() + 0.999))


def send_phone_code(row: CounterRegistration, clerk: Clerk) -> None:
    """Another code to the phone ("Gửi lại mã"), under the cooldown and MAX_SENDS."""
    if row.state != "phone_pending":
        raise CounterRefused("state", msg("counter.not_pending"))
    if row.phone_code_sends >= MAX_SENDS:
        raise CounterRefused("flow_budget", msg("counter.too_many_codes"))
    wait = resend_in(row)
    if wait:
        raise CounterRefused("cooldown", msg("counter.resend_wait", num=wait), retry_after=wait)
    taken = _take_budget(row.phone, clerk)
    code = f"{secrets.randbelow(10 ** 6):06d}"
    t = now()
    claimed = db.session.execute(update(CounterRegistration).where(
        CounterRegistration.id == row.id, CounterRegistration.state == "phone_pending",
        CounterRegistration.phone_code_sends == row.phone_code_sends).values(
        phone_code_hash=digest(row.reference, "phone", code), phone_code_attempts=0,
        phone_code_sends=row.phone_code_sends + 1, phone_code_sent_at=t,
        phone_code_expires_at=t + _settings()["otp_ttl"])).rowcount
    if claimed != 1:  # a parallel resend won
        db.session.rollback()
        sms_budget.refund(taken)
        raise CounterRefused("cooldown", msg("counter.resend_wait",
                                             num=_settings()["resend_cooldown"]))
    _deliver(row.phone, code, taken)
    db.session.commit()
    db.session.refresh(row)


def _count_guess(row: CounterRegistration) -> int | None:
    """One more guess at the live phone code, atomically; None when the code is gone."""
    found = db.session.execute(update(CounterRegistration).where(
        CounterRegistration.id == row.id, CounterRegistration.state == "phone_pending",
        CounterRegistration.phone_code_hash == row.phone_code_hash).values(
        phone_code_attempts=CounterRegistration.phone_code_attempts + 1)
        .returning(CounterRegistration.phone_code_attempts)).scalar_one_or_none()
    db.session.commit()
    return found


def _burn(row: CounterRegistration) -> None:
    db.session.execute(update(CounterRegistration).where(
        CounterRegistration.id == row.id, CounterRegistration.state == "phone_pending")
        .values(phone_code_hash=None))
    db.session.commit()


def check_phone_code(row: CounterRegistration, typed: str) -> Issued:
    """The code the citizen read out. Right: the row is `issued` (module docstring, step 2)
    and the activation code returned. Raises CounterRefused: wrong, expired, burned."""
    if row.state != "phone_pending":
        raise CounterRefused("state", msg("counter.not_pending"))
    code = "".join((typed or "").split())
    if not code:
        raise CounterRefused("required", msg("counter.code_required"), "code")
    if row.phone_code_hash is None or (row.phone_code_expires_at or 0) <= now():
        raise CounterRefused("expired", msg("counter.code_expired"), "code")
    attempts = _count_guess(row)
    if attempts is None or attempts > _settings()["otp_max_attempts"]:
        _burn(row)
        raise CounterRefused("burned", msg("counter.code_burned"), "code")
    right = len(code) == 6 and code.isascii() and code.isdigit() and hmac.compare_digest(
        digest(row.reference, "phone", code), row.phone_code_hash)
    if not right:
        if attempts >= _settings()["otp_max_attempts"]:
            _burn(row)
            raise CounterRefused("burned", msg("counter.code_burned"), "code")
        raise CounterRefused("wrong", msg("counter.code_wrong"), "code")
    return _issue(row)


def _issue(row: CounterRegistration) -> Issued:
    allowed = notices.reserve([row.phone], None, "counter_activation")  # may commit: first
    code = "".join(secrets.choice("0123456789") for _ in range(ACTIVATION_DIGITS))
    t = now()
    expires = t + _settings()["counter_activation_ttl"]
    moved = db.session.execute(update(CounterRegistration).where(
        CounterRegistration.id == row.id, CounterRegistration.state == "phone_pending",
        CounterRegistration.phone_code_hash == row.phone_code_hash).values(
        state="issued", phone_code_hash=None, issued_at=t,
        activation_code_hash=digest(row.reference, "activation", code),
        activation_attempts=0, activation_expires_at=expires)).rowcount
    if moved != 1:  # a parallel right answer took it
        db.session.rollback()
        raise CounterRefused("state", msg("counter.not_pending"))
    for phone in allowed:
        outbox.enqueue_sms(phone, str(msg(
            "counter.sms_activation", service=sms.SERVICE_NAME, code=group(code),
            reference=row.reference, until=datetime_vn(expires))),
            "notify:counter_activation", expires=expires)
    db.session.commit()
    db.session.refresh(row)
    return Issued(row, code)


# --------------------------------------------------------------------------- lookups

def find(registration_id: int, clerk: Clerk) -> CounterRegistration | None:
    """A registration of this clerk (a clerk works only on their own)."""
    return db.session.scalar(select(CounterRegistration).where(
        CounterRegistration.id == registration_id, CounterRegistration.staff_id == clerk.id))


def of_clerk_since(clerk: Clerk, since: float) -> list[CounterRegistration]:
    return list(db.session.scalars(select(CounterRegistration).where(
        CounterRegistration.staff_id == clerk.id, CounterRegistration.created_at >= since)
        .order_by(CounterRegistration.created_at.desc()).limit(200)))


def verified_at(citizen_id: int) -> tuple[str, str] | None:
    """(counter, clerk's full name) of the registration that created this account."""
    found = db.session.execute(select(
        CounterRegistration.counter, CounterRegistration.staff_full_name).where(
        CounterRegistration.citizen_id == citizen_id,
        CounterRegistration.state == "activated").limit(1)).first()
    return (found[0], found[1]) if found else None
