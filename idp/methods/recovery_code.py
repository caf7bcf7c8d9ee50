"""One-time recovery codes (RFC 8176 `otp`; a second factor, LoA2 with the password): ten
codes shown once on the account page, kept as SHA-256, each consumed by one conditional
UPDATE (accounts/factors.py). For the day the phone is lost and no app was set up.

Failures count on the account's one counter of second-factor failures (accounts/otp.py).
The account page does not remove codes one by one: "Tạo mã khôi phục mới" replaces the set.
"""
from __future__ import annotations

from idp.accounts import factors, otp
from idp.methods.base import Enrolment, Factor, Method, Option
from idp.methods.refusal import ensure_not_locked, wrong_code
from idp.platform import audit
from idp.platform.messages import msg
from idp.platform.models import Citizen


class RecoveryCode(Method, id="recovery", amr=("otp",), factor=Factor.SECOND,
                   level="LoA2"):

    def options(self, citizen: Citizen) -> list[Option]:
        label = msg("second_factor.option_recovery")
        return [Option(self.id, self.id, label)] if factors.recovery_codes_left(citizen) else []

    def verify(self, challenge_id: str, citizen: Citizen, response: str) -> None:
        ensure_not_locked(citizen)
        if factors.take_recovery_code(citizen, response):
            otp.record_success(citizen)
            audit.record("factor.recovery_code_used", citizen_id=citizen.id,
                         left=factors.recovery_codes_left(citizen))
            return
        otp.record_failure(citizen, "recovery_code")
        raise wrong_code()

    def enrolments(self, citizen: Citizen) -> list[Enrolment]:
        """One entry: how many unused codes are left (0 is listed too: "create new ones")."""
        return [Enrolment(self.id, None, "", count=factors.recovery_codes_left(citizen),
                          removable=False)]
