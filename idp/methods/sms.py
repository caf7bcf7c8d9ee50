"""A one-time code by SMS to one of the account's phones (RFC 8176 `sms`; a second factor,
LoA2 with the password). The engine underneath is accounts/otp.py: one challenge per flow,
resend cooldown, SMS budgets, attempt limits and the account lock-out.

Options are one per phone (`sms:0` is the default phone), so "Chọn phương thức xác thực
khác" can send the code to another number. Enrolment and removal are the account page's
phones (flows/account/phones.py: adding needs a code to the new number).
"""
from __future__ import annotations

from idp.accounts import factors, otp
from idp.methods.base import Enrolment, Factor, Method, Option
from idp.methods.refusal import refused, wrong_code
from idp.platform.db import db
from idp.platform.masking import mask_phone
from idp.platform.messages import msg
from idp.platform.models import AuthMethod, Citizen

PURPOSE = "login"


class Sms(Method, id="sms", amr=("sms",), factor=Factor.SECOND, level="LoA2"):

    def options(self, citizen: Citizen) -> list[Option]:
        return [Option(self.id, f"sms:{i}", msg("second_factor.option_sms",
                                                phone=mask_phone(phone)), phone)
                for i, phone in enumerate(factors.phones(citizen))]

    def start(self, challenge_id: str, citizen: Citizen, option: Option, *,
              requested: bool = False) -> None:
        """Send a code to `option.target` (cooldown and budgets apply). The step's first page
        sends nothing to an account whose checks are locked (the code could not be used);
        a code the citizen asks for is sent anyway, ready when the wait ends."""
        try:
            if not requested:
                otp.check_not_locked(citizen)
            otp.send(challenge_id, PURPOSE, option.target, citizen.id)
        except otp.OtpRefused as exc:
            raise refused(exc) from None

    def verify(self, challenge_id: str, citizen: Citizen, response: str) -> None:
        try:
            ok = otp.verify(challenge_id, PURPOSE, response, citizen)
        except otp.OtpRefused as exc:
            raise refused(exc) from None
        if not ok:
            raise wrong_code()

    def enrolments(self, citizen: Citizen) -> list[Enrolment]:
        return [Enrolment(self.id, row.id, mask_phone(row.phone), bool(row.is_default),
                          row.created_at, removable=not row.is_default)
                for row in factors.phone_rows(citizen)]

    def remove(self, citizen: Citizen, enrolment_id: int) -> bool:
        """Never the default phone, never the last one: the account keeps a second factor."""
        rows = factors.phone_rows(citizen)
        target = next((r for r in rows if r.id == enrolment_id), None)
        if target is None or target.is_default or len(rows) < 2:
            return False
        db.session.delete(db.session.get(AuthMethod, target.id))
        return True

