"""Second factors other than SMS: authenticator apps (TOTP, RFC 6238 via pyotp) and one-time
recovery codes. Both count their failures with the SMS code's account counter (otp.py), so
switching factor gives an attacker no fresh allowance.

TOTP seeds are sealed with the key-encryption key; a time step is accepted at most once
(the last accepted step is stored and the update is conditional, so two parallel submissions
of one code cannot both pass). Recovery codes are 10 groups of random base32 shown once,
stored as SHA-256, consumed with one conditional UPDATE.
"""
from __future__ import annotations

import secrets
import time

import pyotp
from flask import current_app
from sqlalchemy import select, update

from idp.platform import audit
from idp.accounts import otp
from idp.platform.crypto import sha256_hex
from idp.platform.db import db, now
from idp.platform.keys import seal, unseal
from idp.platform.models import AuthMethod, Citizen, RecoveryCode

RECOVERY_CODES = 10
_RC_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
TOTP_ISSUER = "Cong DVC"


def _kek() -> bytes:
    return current_app.extensions["idp.keyring"]._kek


def methods(citizen: Citizen) -> list[AuthMethod]:
    return list(db.session.scalars(select(AuthMethod).where(
        AuthMethod.citizen_id == citizen.id).order_by(AuthMethod.is_default.desc(),
                                                      AuthMethod.id)))


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


# --------------------------------------------------------------------------- TOTP

def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, citizen: Citizen) -> str:
    # The account label shows the masked ID number, never the whole of it.
    return pyotp.TOTP(secret).provisioning_uri(name=audit.mask_id_number(citizen.id_number),
                                               issuer_name=TOTP_ISSUER)


def totp_matches(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step the code belongs to (current ±1 for clock drift), or None."""
    code = (code or "").strip().replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    t = at if at is not None else time.time()
    for offset in (0, -1, 1):
        step = int(t // totp.interval) + offset
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def add_totp(citizen: Citizen, secret: str, step: int, commit: bool = True) -> AuthMethod:
    method = AuthMethod(citizen_id=citizen.id, kind="totp", last_step=step,
                        secret_enc=seal(_kek(), secret.encode(), f"totp:{citizen.id}".encode()))
    db.session.add(method)
    if commit:
        db.session.commit()
    audit.record("factor.totp_added", citizen_id=citizen.id)
    return method


def verify_totp(citizen: Citizen, code: str) -> bool:
    otp.check_not_locked(citizen)
    for method in methods(citizen):
        if method.kind != "totp":
            continue
        secret = unseal(_kek(), method.secret_enc, f"totp:{citizen.id}".encode()).decode()
        step = totp_matches(secret, code)
        if step is None:
            continue
        # Replay refused: the step must be newer than the last accepted one, atomically.
        used = db.session.execute(update(AuthMethod).where(
            AuthMethod.id == method.id, AuthMethod.last_step < step)
            .values(last_step=step, last_used_at=now())).rowcount
        db.session.commit()
        if used:
            otp.record_success(citizen)
            audit.record("factor.totp_ok", citizen_id=citizen.id)
            return True
    otp.record_failure(citizen, "totp")
    return False


# --------------------------------------------------------------------------- recovery codes

def _normalize_rc(code: str) -> str:
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


def verify_recovery_code(citizen: Citizen, code: str) -> bool:
    otp.check_not_locked(citizen)
    raw = _normalize_rc(code)
    used = 0
    if len(raw) == 10:
        used = db.session.execute(update(RecoveryCode).where(
            RecoveryCode.citizen_id == citizen.id, RecoveryCode.code_hash == sha256_hex(raw),
            RecoveryCode.used_at.is_(None)).values(used_at=now())).rowcount
        db.session.commit()
    if used:
        otp.record_success(citizen)
        audit.record("factor.recovery_code_used", citizen_id=citizen.id,
                     left=recovery_codes_left(citizen))
        return True
    otp.record_failure(citizen, "recovery_code")
    return False
