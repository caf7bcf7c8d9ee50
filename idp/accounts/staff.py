"""Staff accounts (issue 17 item 3): created by operators from the CLI (cli/staff.py), signed
in with a password AND an authenticator app code (no SMS-only staff). Every sign-in failure
(unknown name, wrong password, wrong or replayed code, disabled, locked) is the same
`SignInFailed`, after the same work (a dummy Argon2 verify for an unknown name), so the
answer tells nothing about which part was wrong. After LOCK_AFTER consecutive failures the
account is locked for LOCK_SECONDS; a success resets the count. A time step is accepted at
most once (one conditional UPDATE), so a code seen over a shoulder cannot be replayed."""
from __future__ import annotations

import hmac
import re
import time

import pyotp
from flask import current_app
from sqlalchemy import select, update

from idp.accounts.staff_roles import ROLES
from idp.platform.crypto import hash_password, verify_password
from idp.platform.db import db, now
from idp.platform.keys import seal, unseal
from idp.platform.staff_models import StaffMember

LOCK_AFTER = 5
LOCK_SECONDS = 15 * 60
ISSUER = "Cong DVC - Can bo"
USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,63}")
PASSWORD_MIN = 12


class StaffError(Exception):
    """A refused operator action; the message is one line for the CLI."""


class SignInFailed(Exception):
    """Any failed sign-in: one answer for every cause."""


def _kek() -> bytes:
    return current_app.extensions["idp.keyring"]._kek


def _aad(member: StaffMember) -> bytes:
    return f"staff-totp:{member.id}".encode()


def clean_username(value: str) -> str:
    value = (value or "").strip().lower()
    if not USERNAME.fullmatch(value):
        raise StaffError("username: 3-64 characters, lowercase ascii letters, digits, "
                         "'.', '_' or '-', starting with a letter")
    return value


def check_password(password: str) -> None:
    if len(password or "") < PASSWORD_MIN or len(password) > 256:
        raise StaffError(f"password: {PASSWORD_MIN}-256 characters")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}, got {role[:20]!r}")
    return role


def find(username: str) -> StaffMember | None:
    return db.session.scalar(select(StaffMember).where(
        StaffMember.username == (username or "").strip().lower()))


def get(staff_id: int) -> StaffMember | None:
    return db.session.get(StaffMember, staff_id)


def existing(username: str) -> StaffMember:
    member = find(username)
    if member is None:
        raise StaffError(f"no staff member {username[:64]!r}")
    return member


def listing() -> list[StaffMember]:
    return list(db.session.scalars(select(StaffMember).order_by(StaffMember.username)))


def _new_secret(member: StaffMember, given: str | None = None) -> str:
    secret = given or str(pyotp.random_base32())
    member.totp_secret_enc = seal(_kek(), secret.encode(), _aad(member))
    member.totp_last_step = 0
    return secret


def create(username: str, full_name: str, role: str, password: str,
           counter: str | None = None, *,
           totp_secret: str | None = None) -> tuple[StaffMember, str]:
    """A new active staff member; returns it and its TOTP secret (shown once). Not committed.
    `totp_secret` is for the published demo accounts only (`idp init --demo`); every other
    member gets a fresh random one."""
    username = clean_username(username)
    full_name = " ".join((full_name or "").split())
    if not full_name or len(full_name) > 200:
        raise StaffError("--name: the full name (1-200 characters) is required")
    check_role(role)
    counter = " ".join((counter or "").split()) or None
    if counter is not None and len(counter) > 200:
        raise StaffError("--counter: at most 200 characters")
    check_password(password)
    if find(username) is not None:
        raise StaffError(f"staff member {username!r} already exists")
    member = StaffMember(username=username, full_name=full_name, role=role, counter=counter,
                         password_hash=hash_password(password), status="active",
                         failed_logins=0, locked_until=0.0, totp_last_step=0)
    db.session.add(member)
    db.session.flush()  # the id is the seal's associated data
    return member, _new_secret(member, totp_secret)


def reset_totp(member: StaffMember) -> str:
    """A new authenticator seed (the old one stops working). Not committed."""
    return _new_secret(member)


def provisioning_uri(member: StaffMember, secret: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=member.username, issuer_name=ISSUER))


def locked(member: StaffMember) -> bool:
    return member.locked_until > now()


def set_status(member: StaffMember, status: str) -> None:
    member.status = status
    if status == "active":
        unlock(member)


def unlock(member: StaffMember) -> None:
    member.failed_logins, member.locked_until = 0, 0.0


def _step(member: StaffMember, code: str, at: float) -> int | None:
    """The time step (current, previous or next: clock drift) the code belongs to."""
    code = "".join((code or "").split())
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(unseal(_kek(), member.totp_secret_enc or b"", _aad(member)).decode())
    current = int(at // totp.interval)
    found = None
    for step in (current - 1, current, current + 1):  # all three: the same work every time
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _take_step(member: StaffMember, step: int) -> bool:
    return bool(db.session.execute(update(StaffMember).where(
        StaffMember.id == member.id, StaffMember.totp_last_step < step)
        .values(totp_last_step=step)).rowcount)


def check_code(member: StaffMember, code: str) -> bool:
    """The authenticator code, accepted once per time step (re-authentication too)."""
    step = _step(member, code, time.time()) if member.totp_secret_enc else None
    ok = step is not None and _take_step(member, step)
    db.session.commit()
    return ok


def record_failure(member: StaffMember) -> None:
    """A wrong sign-in or re-authentication; the LOCK_AFTER-th locks the account."""
    failures = member.failed_logins + 1
    values: dict = {"failed_logins": StaffMember.failed_logins + 1}
    if failures >= LOCK_AFTER:
        values.update(failed_logins=0, locked_until=now() + LOCK_SECONDS)
    db.session.execute(update(StaffMember).where(StaffMember.id == member.id).values(**values))
    db.session.commit()


def sign_in(username: str, password: str, code: str) -> StaffMember:
    """The staff member, or SignInFailed (after the same work whatever the cause)."""
    member = find(username) if USERNAME.fullmatch((username or "").strip().lower()) else None
    password_ok = verify_password(member.password_hash if member else None, password or "")
    if member is None:
        raise SignInFailed()
    if member.status != "active" or locked(member):
        raise SignInFailed()
    if not password_ok or not check_code(member, code):
        record_failure(member)
        raise SignInFailed()
    db.session.execute(update(StaffMember).where(StaffMember.id == member.id).values(
        failed_logins=0, locked_until=0.0, last_login_at=now()))
    db.session.commit()
    db.session.refresh(member)
    return member
