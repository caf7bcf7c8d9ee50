"""Registration at a counter, the citizen's part (issue 17 item 2): the activation code of the
slip and the SMS, typed online with the slip's reference (flows/register/activate.py), then
the password; the account is created by registration's own path (flows/register/person.py
`create`), whose transaction also marks the registration `activated` (`mark_activated`).

What a caller learns. An unknown reference and a wrong code get the same answer ("wrong");
only the right code for a reference tells more: expired, already activated (log in), or
cancelled by a newer registration. Attempts: every reference string typed has at most
counter_activation_max_attempts wrong codes, counted twice: in the ephemeral store per
string (so an unknown reference is locked exactly like a real one, for the activation's
lifetime) and on the row, atomically and for good (`activation_attempts`, reserved before
the comparison and given back when the code was right, so parallel guesses cannot exceed
it). A locked registration stays locked: the citizen goes back to the counter, where a new
registration cancels it. Codes are compared with hmac.compare_digest on their keyed digests
(accounts/counter.py), an unknown reference against a digest of its own, so both take the
same work.
"""
from __future__ import annotations

import hmac
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from idp.accounts.counter import ACTIVATION_DIGITS, REFERENCE_ALPHABET, REFERENCE_LENGTH, digest
from idp.platform.counter_models import CounterRegistration
from idp.platform.crypto import sha256_hex
from idp.platform.db import db, now

# Crockford base32 decoding: the letters people confuse with digits read as those digits.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


class ActivationRefused(Exception):
    """`reason`: wrong | locked | expired | used | cancelled (module docstring)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _settings() -> dict[str, Any]:
    return current_app.config["IDP"]  # type: ignore[no-any-return]


def _store() -> Any:
    return current_app.extensions["idp.store"]


def normalize_reference(text: str | None) -> str:
    """The reference as stored: upper case, no spaces or dashes, O/I/L read as 0/1; "" when
    it cannot be one (wrong length or characters)."""
    ref = "".join((text or "").split()).replace("-", "").upper().translate(_READ_AS)
    if len(ref) != REFERENCE_LENGTH or any(c not in REFERENCE_ALPHABET for c in ref):
        return ""
    return ref


def normalize_code(text: str | None) -> str:
    """The activation code's digits ("12345 67890", "12345-67890"); "" when not 10 digits."""
    code = "".join((text or "").split()).replace("-", "")
    return code if len(code) == ACTIVATION_DIGITS and code.isascii() and code.isdigit() else ""


def _string_key(reference_text: str) -> str:
    return "counter-activate:" + sha256_hex(reference_text)


def _reserve_row_attempt(row: CounterRegistration) -> bool:
    """One attempt of the row's allowance, atomically; False when it is spent."""
    taken = db.session.execute(update(CounterRegistration).where(
        CounterRegistration.id == row.id,
        CounterRegistration.activation_attempts < _settings()["counter_activation_max_attempts"])
        .values(activation_attempts=CounterRegistration.activation_attempts + 1)).rowcount
    db.session.commit()
    return taken == 1


def _give_back_row_attempt(row: CounterRegistration) -> None:
    db.session.execute(update(CounterRegistration).where(CounterRegistration.id == row.id)
                       .values(activation_attempts=CounterRegistration.activation_attempts - 1))
    db.session.commit()


def check(reference_text: str, code_text: str) -> CounterRegistration:
    """The registration whose activation code this is, still to be activated. Raises
    ActivationRefused (module docstring); nothing is consumed here (`mark_activated` is)."""
    reference = normalize_reference(reference_text)
    code = normalize_code(code_text)
    key = _string_key(reference or "".join((reference_text or "").split()).upper()[:40])
    ttl = _settings()["counter_activation_ttl"]
    limit = _settings()["counter_activation_max_attempts"]
    if _store().incr(key, ttl) > limit:
        _store().incr(key, ttl, -1)
        raise ActivationRefused("locked")
    row = db.session.scalar(select(CounterRegistration).where(
        CounterRegistration.reference == reference)) if reference else None
    if row is not None and not _reserve_row_attempt(row):
        raise ActivationRefused("locked")
    stored = (row.activation_code_hash if row is not None else None) or sha256_hex(key)
    right = bool(code) and hmac.compare_digest(
        digest(reference or "-", "activation", code or "-"), stored)
    if not right or row is None:
        raise ActivationRefused("wrong")
    _store().incr(key, ttl, -1)
    _give_back_row_attempt(row)
    if row.state == "activated":
        raise ActivationRefused("used")
    if row.state == "cancelled":
        raise ActivationRefused("cancelled")
    if row.state == "expired" or (row.activation_expires_at or 0) <= now():
        expire(row)
        raise ActivationRefused("expired")
    if row.state != "issued":
        raise ActivationRefused("wrong")
    return row


def expire(row: CounterRegistration) -> None:
    db.session.execute(update(CounterRegistration).where(
        CounterRegistration.id == row.id, CounterRegistration.state == "issued")
        .values(state="expired"))
    db.session.commit()


def live(registration_id: int) -> CounterRegistration | None:
    """The registration a flow proved the code of, if it may still be activated."""
    row = db.session.get(CounterRegistration, registration_id, populate_existing=True)
    if row is None or row.state != "issued" or (row.activation_expires_at or 0) <= now():
        return None
    return row


def person(row: CounterRegistration) -> dict[str, Any]:
    """The person as registration's `create` takes it (flows/register/person.py)."""
    return {"id_number": row.id_number, "full_name": row.full_name,
            "birth_date": row.birth_date, "gender": row.gender, "phone": row.phone,
            "email": row.email}


def mark_activated(registration_id: int, citizen_id: int) -> bool:
    """In the caller's transaction (the account's creation): `issued` → `activated`, exactly
    once and only before expiry. False: it was not (the caller rolls back)."""
    return db.session.execute(update(CounterRegistration).where(
        CounterRegistration.id == registration_id, CounterRegistration.state == "issued",
        CounterRegistration.activation_expires_at > now()).values(
        state="activated", citizen_id=citizen_id, activated_at=now())).rowcount == 1
