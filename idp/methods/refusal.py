"""One refusal type for every sign-in method, and the one place an `OtpRefused` becomes a
message and an HTTP status.

Before issue 13 five call sites (login/step-up twice, registration, recovery, the account
page's phones) each mapped `accounts.otp.OtpRefused` to a status their own way. Now they all
call `refused(exc)` and hand the `Refusal` to the flow engine (`Stay.refused(r)`, or until
then `Stay(errors={"form": r.message}, status=r.status, retry_after=r.retry_after)`).

Status rule (RFC 6585 §4, security-requirements §6.1): waiting helps -> 429 with
Retry-After; our gateway failed -> 503; anything else (expired, burned, too many resends in
this flow, not a mobile number) -> 400.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from idp.accounts.otp import OtpRefused, check_not_locked
from idp.platform.messages import Message, msg
from idp.platform.models import Citizen

HOUR_MINUTES = 60


@dataclass(eq=False)
class Refusal(Exception):
    """A method said no: what to show (a catalogue message), with which HTTP status, how many
    seconds until trying again can help (0: waiting does not help), and which form field it
    belongs to ("form": the whole step; "otp": the code typed was wrong). It is an exception
    so a method's `verify` and `start` raise it; a flow turns it into `Stay` (not frozen:
    Python writes __traceback__ on a raised exception)."""

    message: Message
    status: int = 400
    retry_after: int = 0
    field: str = "form"

    def errors(self) -> dict[str, Message]:
        """The errors dict of a `Stay` for this refusal."""
        return {self.field: self.message}


def _message(exc: OtpRefused) -> Message:
    if exc.reason == "cooldown":
        return msg("otp.cooldown", num=exc.retry_after)
    if exc.reason == "locked":
        minutes = max(1, (exc.retry_after + 59) // 60)
        if minutes < HOUR_MINUTES:
            return msg("otp.locked_minutes", num=minutes)
        return msg("otp.locked_hours", num=(minutes + 59) // 60)
    if exc.reason in ("not_mobile", "flow_budget", "budget", "sms_failed", "expired", "burned"):
        return msg("otp." + exc.reason)
    return msg("otp.sms_failed")  # an unknown reason: the generic "try again later"


def wrong_code() -> Refusal:
    """The code typed does not match: shown under the code field, 400."""
    return Refusal(msg("otp.wrong"), 400, 0, field="otp")


def code_required() -> Refusal:
    """Nothing was typed in the code field."""
    return Refusal(msg("otp.required"), 400, 0, field="otp")


def status_for(exc: OtpRefused) -> int:
    """429 when waiting helps, 503 when our SMS gateway failed, else 400 (module docstring)."""
    if exc.retry_after:
        return 429
    return 503 if exc.reason == "sms_failed" else 400


def refused(exc: OtpRefused, overrides: Mapping[str, str] | None = None) -> Refusal:
    """The `Refusal` for a refused send or check of a one-time code.

    `overrides` maps an `OtpRefused.reason` to another message id, for a flow whose words
    differ (registration's "flow_budget": `{"flow_budget": "register.flow_budget"}`); the
    status and the wait stay the ones of the reason. Every caller of `otp.send`/`otp.verify`
    (and of the TOTP / recovery-code checks) uses this instead of its own mapping."""
    message_id = (overrides or {}).get(exc.reason)
    message = msg(message_id) if message_id else _message(exc)
    return Refusal(message, status_for(exc), exc.retry_after)


def ensure_not_locked(citizen: Citizen) -> None:
    """Refuse (the lock-out's message and wait) while the account's second-factor checks are
    locked: a method checks this before looking at the code typed."""
    try:
        check_not_locked(citizen)
    except OtpRefused as exc:
        raise refused(exc) from None
