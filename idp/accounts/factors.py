"""The storage of an account's authenticators: its phones (`AuthMethod` rows of kind sms),
its authenticator app (kind totp) and its one-time recovery codes. What each proves and how a
response is checked is the method's (idp/methods/sms.py, totp.py, recovery_code.py); this
module only reads and writes rows, atomically where single use depends on it.

TOTP seeds are sealed with the key-encryption key; a time step is accepted at most once
(the last accepted step is stored and the update is conditional, so two parallel submissions
of one code cannot both pass). Recovery codes are 10 groups of random base32 shown once,
stored as SHA-256, consumed with one conditional UPDATE.
"""
from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import select, update

from idp.platform import audit
from idp.platform.crypto import sha256_hex
from idp.platform.db import db, now
from idp.platform.keys import seal, unseal
from idp.platform.models import AuthMethod, Citizen, RecoveryCode

RECOVERY_CODES = 10
_RC_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _kek() -> bytes:
    return current_app.extensions["idp.keyring"]._kek


def methods(citizen: Citizen) -> list[AuthMethod]:
    return list(db.session.scalars(select(AuthMethod).where(
        AuthMethod.citizen_id == citizen.id).order_by(AuthMethod.is_default.desc(),
                                                      AuthMethod.id)))


def sms_rows(citizen: Citizen) -> list[AuthMethod]:
    """The account's phone rows, default first (none for an account made before the account
    page existed: `phone_rows` creates its row)."""
    return [m for m in methods(citizen) if m.kind == "sms"]


def phone_rows(citizen: Citizen) -> list[AuthMethod]:
    """The account's phones, default first; creates the row of the registered number when
    the account has none (once: a short mutex in the ephemeral store keeps two parallel
    requests from both doing it)."""
    rows = sms_rows(citizen)
    if rows or not citizen.phone:
        return rows
    if current_app.extensions["idp.store"].add(f"acct-phones-init:{citizen.id}", {}, 30):
        rows = sms_rows(citizen)
        if not rows:
            db.session.add(AuthMethod(citizen_id=citizen.id, kind="sms", phone=citizen.phone,
                                      is_default=True))
            db.session.commit()
            rows = sms_rows(citizen)
    return rows


def phones(citizen: Citizen) -> list[str]:
    found = [m.phone for m in methods(citizen) if m.kind == "sms" and m.phone]
    return found or [citizen.phone]


def has_totp(citizen: Citizen) -> bool:
    return any(m.kind == "totp" for m in methods(citizen))


def recovery_codes_left(citizen: Citizen) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.citizen_id == citizen.id, RecoveryCode.used_at.is_(None))).all())


def has_non_sms_factor(citizen: Citizen) -> bool:
    return has_totp(citizen) or recovery_codes_left(citizen) > 0


# --------------------------------------------------------------------------- TOTP storage

def add_totp(citizen: Citizen, secret: str, step: int, commit: bool = True) -> AuthMethod:
    """Bind an authenticator app: its seed sealed under the key-encryption key, and the time
    step of the code that confirmed it (so that code cannot be replayed at the next login)."""
    method = AuthMethod(citizen_id=citizen.id, kind="totp", last_step=step,
                        secret_enc=seal(_kek(), secret.encode(), f"totp:{citizen.id}".encode()))
    db.session.add(method)
    if commit:
        db.session.commit()
    audit.record("factor.totp_added", citizen_id=citizen.id)
    return method


def totp_rows(citizen: Citizen) -> list[AuthMethod]:
    return [m for m in methods(citizen) if m.kind == "totp"]


def totp_secret(citizen: Citizen, method: AuthMethod) -> str:
    return unseal(_kek(), method.secret_enc, f"totp:{citizen.id}".encode()).decode()


def take_totp_step(method: AuthMethod, step: int) -> bool:
    """Accept a time step at most once: the step must be newer than the last accepted one,
    in one conditional UPDATE, so two parallel submissions of one code cannot both pass."""
    used = db.session.execute(update(AuthMethod).where(
        AuthMethod.id == method.id, AuthMethod.last_step < step)
        .values(last_step=step, last_used_at=now())).rowcount
    db.session.commit()
    return bool(used)


# --------------------------------------------------------------------------- recovery codes

def normalize_recovery_code(code: str) -> str:
    return "".join(c for c in (code or "").lower() if c.isalnum())


def new_recovery_codes(citizen: Citizen, commit: bool = True) -> list[str]:
    """Replace all recovery codes; returns the new ones (to show once)."""
    db.session.execute(update(RecoveryCode).where(
        RecoveryCode.citizen_id == citizen.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now()))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RC_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(citizen_id=citizen.id, code_hash=sha256_hex(raw)))
    if commit:
        db.session.commit()
    audit.record("factor.recovery_codes_issued", citizen_id=citizen.id, count=len(codes))
    return codes


def take_recovery_code(citizen: Citizen, code: str) -> bool:
    """Consume one unused recovery code (one conditional UPDATE: it works exactly once)."""
    raw = normalize_recovery_code(code)
    if len(raw) != 10:
        return False
    used = db.session.execute(update(RecoveryCode).where(
        RecoveryCode.citizen_id == citizen.id, RecoveryCode.code_hash == sha256_hex(raw),
        RecoveryCode.used_at.is_(None)).values(used_at=now())).rowcount
    db.session.commit()
    return bool(used)
