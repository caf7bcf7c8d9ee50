"""An authenticator app (TOTP, RFC 6238 via pyotp; RFC 8176 `otp`; a second factor, LoA2 with
the password). One app per account.

The seed is stored sealed (accounts/factors.py); a code is accepted for the current time step
±1 (clock drift) and each step at most once (factors.take_totp_step). Failures count on the
account's one counter of second-factor failures (accounts/otp.py), shared with the SMS code
and recovery codes, so switching method gives an attacker no fresh allowance.
"""
from __future__ import annotations

import secrets
import time

import pyotp

from idp.accounts import factors, otp
from idp.methods.base import Enrolment, Factor, Method, Option
from idp.methods.refusal import ensure_not_locked, wrong_code
from idp.platform import audit
from idp.platform.db import db
from idp.platform.masking import mask_id_number
from idp.platform.messages import msg
from idp.platform.models import AuthMethod, Citizen

ISSUER = "Cong DVC"


def new_secret() -> str:
    return str(pyotp.random_base32())


def provisioning_uri(secret: str, citizen: Citizen) -> str:
    """The otpauth:// URI of the QR code; its label shows the masked ID number only."""
    return str(pyotp.TOTP(secret).provisioning_uri(name=mask_id_number(citizen.id_number),
                                                   issuer_name=ISSUER))


def matches(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step the code belongs to (current ±1 for clock drift), or None."""
    code = (code or "").strip().replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    t = at if at is not None else time.time()
    for offset in (0, -1, 1):
        step = int(t // totp.interval) + offset
        if secrets.compare_digest(str(totp.at(step * totp.interval)), code):
            return step
    return None


class Totp(Method, id="totp", amr=("otp",), factor=Factor.SECOND, level="LoA2"):

    def options(self, citizen: Citizen) -> list[Option]:
        label = msg("second_factor.option_totp")
        return [Option(self.id, self.id, label)] if factors.has_totp(citizen) else []

    def verify(self, challenge_id: str, citizen: Citizen, response: str) -> None:
        ensure_not_locked(citizen)
        for row in factors.totp_rows(citizen):
            step = matches(factors.totp_secret(citizen, row), response)
            if step is not None and factors.take_totp_step(row, step):
                otp.record_success(citizen)
                audit.record("factor.totp_ok", citizen_id=citizen.id)
                return
        otp.record_failure(citizen, "totp")
        raise wrong_code()

    def enrolments(self, citizen: Citizen) -> list[Enrolment]:
        return [Enrolment(self.id, row.id, "", created_at=row.created_at)
                for row in factors.totp_rows(citizen)]

    def remove(self, citizen: Citizen, enrolment_id: int) -> bool:
        """Any time: the default phone always remains as a second factor."""
        row = next((r for r in factors.totp_rows(citizen) if r.id == enrolment_id), None)
        if row is None:
            return False
        db.session.delete(db.session.get(AuthMethod, row.id))
        return True
