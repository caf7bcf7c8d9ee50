"""SMS one-time codes: sending under abuse controls, and verifying under attempt limits
(security-requirements §4.1, §6.1, §6.2; NIST 800-63B-4 §3.1.3, §3.2.2).

One challenge per flow, `otp:<flow_id>` in the ephemeral store: the code's HMAC (keyed, bound
to the flow and purpose), the phone, the purpose, its expiry, and how many codes the flow has
sent. The code itself is never stored or logged.

Sending, in order (each refusal sends nothing):
  1. the number is a Vietnamese mobile on the allow-list (validation.normalize_phone);
  2. the flow's resend cooldown has passed (resend_cooldown, doubling with each resend) and
     the flow has sent fewer than MAX_SENDS_PER_FLOW codes;
  3. the hourly SMS budgets of the code's purpose (idp/sms_budget.py), counted atomically
     across nodes: per phone number *for that purpose class* (a registration or reset code
     never spends a number's login allowance), per account, per client address, and the
     whole service's, where anonymous purposes (register, reset, recover) are shed first
     when it runs low and login codes go on to the end; a refusal is OtpRefused("budget");
  4. the gateway accepts the message — if it does not, every budget taken in step 3 is given
     back and the cooldown does not start: our failure costs the citizen nothing.

Verifying:
  - an account locked by too many failures is refused before anything is compared;
  - every guess counts against the code (otp_max_attempts, then the code is burned) and, when
    wrong, against the account's *consecutive* failures, which a resend never resets: from
    every otp_max_attempts-th failure a wait (30 s, doubling, at most 1 h), and at
    otp_account_cap a 24-hour lock-out (NIST: at most 100);
  - a right code is consumed with one atomic take, so it works exactly once.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import case, update
from sqlalchemy.orm.attributes import set_committed_value

from idp.accounts import sms_budget
from idp.accounts.validation import ValidationError, normalize_phone
from idp.platform import audit, metrics, outbox, sms
from idp.platform.audit import mask_phone
from idp.platform.crypto import sha256_hex
from idp.platform.db import db, now
from idp.platform.models import Citizen

MAX_SENDS_PER_FLOW = 5
HOUR = 3600
LOCKOUT_SECONDS = 24 * HOUR
PURPOSES = {"login": "dang nhap", "register": "dang ky tai khoan",
            "reset": "dat lai mat khau", "phone": "xac nhan so dien thoai moi",
            "recover": "khoi phuc tai khoan"}


class OtpRefused(Exception):
    """A send or a check that is not allowed now. `reason` is a stable id the pages map to a
    Vietnamese message; `retry_after` is in seconds when waiting helps."""

    def __init__(self, reason: str, retry_after: int = 0):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


@dataclass
class Challenge:
    phone: str
    purpose: str
    sends: int
    last_sent: float
    expires: float

    def resend_at(self, cooldown: int) -> float:
        return self.last_sent + cooldown * 2 ** max(0, self.sends - 1)


def _settings():
    return current_app.config["IDP"]


def _store():
    return current_app.extensions["idp.store"]


def _key(flow_id: str) -> str:
    return "otp:" + flow_id


def _digest(flow_id: str, purpose: str, code: str) -> str:
    secret = hashlib.sha256(b"otp:" + current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(secret, f"{flow_id}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def challenge(flow_id: str) -> Challenge | None:
    record = _store().get(_key(flow_id))
    if record is None:
        return None
    return Challenge(record["phone"], record["purpose"], record["sends"], record["last_sent"],
                     record["expires"])


def seconds_until_resend(flow_id: str) -> int:
    ch = challenge(flow_id)
    if ch is None:
        return 0
    return max(0, int(ch.resend_at(_settings()["resend_cooldown"]) - now() + 0.999))


# --------------------------------------------------------------------------- sending

def send(flow_id: str, purpose: str, phone: str, citizen_id: int | None = None,
         via_outbox: bool = False, owner: bool = False) -> Challenge:
    """`via_outbox`: the message is written to the outbox (idp/outbox.py) with the challenge
    and delivered by a worker, so neither the gateway's latency nor its failure shows in the
    answer (password reset: the caller is anonymous, outbox.py docstring). `owner`: asked
    from the account owner's known device (idp/sms_budget.py: the owner's own allowance)."""
    s = _settings()
    try:
        phone = normalize_phone(phone)
    except ValidationError:
        raise OtpRefused("not_mobile") from None
    t = now()
    previous, sends = _reserve(flow_id, purpose, phone, t)
    try:
        taken = _take_budgets(purpose, phone, citizen_id, owner)
    except OtpRefused:
        _release(flow_id, previous)
        raise
    code = f"{secrets.randbelow(10 ** 6):06d}"
    text = (f"{sms.SERVICE_NAME}: Ma xac thuc {PURPOSES[purpose]} cua ban la {code}. "
            f"Hieu luc {max(1, s['otp_ttl'] // 60)} phut. Khong cung cap ma nay cho bat ky ai.")
    try:
        if via_outbox:  # committed with the challenge below (with the SQL store: by its put)
            outbox.enqueue_sms(phone, text, purpose, citizen_id, expires=t + s["otp_ttl"])
        else:
            sms.send(phone, text)
    except sms.SmsError as exc:
        _refund(taken)
        _release(flow_id, previous)
        audit.record("otp.send_failed", citizen_id=citizen_id, phone=mask_phone(phone),
                     purpose=purpose, error=str(exc))
        raise OtpRefused("sms_failed") from None
    metrics.sms_budget_used(taken)
    record = {"h": _digest(flow_id, purpose, code), "phone": phone, "purpose": purpose,
              "sends": sends, "last_sent": t, "expires": t + s["otp_ttl"]}
    # The record outlives the code (the flow's send count and cooldown must survive expiry).
    _store().put(_key(flow_id), record, s["flow_ttl"])
    if via_outbox:
        db.session.commit()
    _store().delete("otp-tries:" + flow_id)  # a new code gets its own per-code allowance
    audit.record("otp.sent", citizen_id=citizen_id, phone=mask_phone(phone), purpose=purpose,
                 sends=sends)
    return challenge(flow_id)


def _reserve(flow_id: str, purpose: str, phone: str, t: float) -> tuple[dict | None, int]:
    """Claim this send before calling the gateway, atomically (add for the first code, CAS on
    the record's revision for a resend): of parallel sends exactly one proceeds, the others
    see the cooldown. Returns the previous record (to restore on failure) and the new count."""
    s = _settings()
    found = _store().get_rev(_key(flow_id))
    if found is None:
        claim = {"h": None, "phone": phone, "purpose": purpose, "sends": 1, "last_sent": t,
                 "expires": t}
        if not _store().add(_key(flow_id), claim, s["flow_ttl"]):
            raise OtpRefused("cooldown", s["resend_cooldown"])
        return None, 1
    previous, rev = found
    if previous["sends"] >= MAX_SENDS_PER_FLOW:
        raise OtpRefused("flow_budget")
    ch = Challenge(previous["phone"], previous["purpose"], previous["sends"],
                   previous["last_sent"], previous["expires"])
    wait = ch.resend_at(s["resend_cooldown"]) - t
    if wait > 0:
        raise OtpRefused("cooldown", int(wait + 0.999))
    sends = previous["sends"] + 1
    if not _store().cas(_key(flow_id), rev, dict(previous, sends=sends, last_sent=t)):
        raise OtpRefused("cooldown", s["resend_cooldown"])
    return previous, sends


def _release(flow_id: str, previous: dict | None) -> None:
    """Our failure costs nothing: put the flow's record back as it was before the claim."""
    if previous is None:
        _store().delete(_key(flow_id))
    else:
        _store().put(_key(flow_id), previous, _settings()["flow_ttl"])


def decoy(flow_id: str, purpose: str, sends: int, last_sent: float) -> None:
    """Store a challenge that no code matches, in the same shape as a real one, so verify()
    counts, burns and expires it identically (enumeration-safe flows for unknown accounts)."""
    s = _settings()
    _store().put(_key(flow_id), {"h": secrets.token_hex(32), "phone": "", "purpose": purpose,
                                 "sends": sends, "last_sent": last_sent,
                                 "expires": last_sent + s["otp_ttl"]}, s["flow_ttl"])
    _store().delete("otp-tries:" + flow_id)


def _take_budgets(purpose: str, phone: str, citizen_id: int | None,
                  owner: bool = False) -> list[str]:
    try:
        return sms_budget.take(purpose, phone, citizen_id, owner=owner)
    except sms_budget.BudgetRefused as exc:  # counted in metrics by sms_budget
        audit.record("otp.budget_exhausted", citizen_id=citizen_id, phone=mask_phone(phone),
                     purpose=purpose, budget=exc.budget)
        raise OtpRefused("budget", exc.retry_after) from None


def _refund(keys: list[str]) -> None:
    sms_budget.refund(keys)


# --------------------------------------------------------------------------- verifying

def check_not_locked(citizen: Citizen | None) -> None:
    if citizen is not None and citizen.otp_locked_until > now():
        raise OtpRefused("locked", int(citizen.otp_locked_until - now() + 0.999))


def verify(flow_id: str, purpose: str, code: str, citizen: Citizen | None = None) -> bool:
    """True exactly once for the right code. Raises OtpRefused when the account is locked or
    no live code exists (expired, burned, never sent)."""
    s = _settings()
    check_not_locked(citizen)
    record = _store().get(_key(flow_id))
    if record is not None and record.get("burned") and record["purpose"] == purpose:
        raise OtpRefused("burned")
    if record is None or record["purpose"] != purpose or record["expires"] <= now() \
            or not record.get("h"):
        raise OtpRefused("expired")
    code = (code or "").strip()
    tries = _store().incr("otp-tries:" + flow_id, s["flow_ttl"])
    if tries > s["otp_max_attempts"]:
        _burn(flow_id)
        raise OtpRefused("burned")
    ok = len(code) == 6 and code.isascii() and code.isdigit() and hmac.compare_digest(
        _digest(flow_id, purpose, code), record["h"])
    if ok and _consume(flow_id, record):
        if citizen is not None:
            record_success(citizen)
        audit.record("otp.verified", citizen_id=citizen.id if citizen else None,
                     phone=mask_phone(record["phone"]), purpose=purpose)
        return True
    record_failure(citizen, "otp", phone=record["phone"])
    if tries >= s["otp_max_attempts"]:
        _burn(flow_id)
    return False


def _consume(flow_id: str, record: dict) -> bool:
    """Single use: of two parallel right guesses only the one that takes the record wins;
    the send count and cooldown are kept (without a code) for resends."""
    taken = _store().take(_key(flow_id))
    if taken is None or taken.get("h") != record["h"]:
        return False
    kept = dict(taken, h=None)
    _store().put(_key(flow_id), kept, _settings()["flow_ttl"])
    return True


def _burn(flow_id: str) -> None:
    found = _store().get_rev(_key(flow_id))
    if found and found[0].get("h"):
        _store().cas(_key(flow_id), found[1], dict(found[0], h=None, burned=True))


def failure_wait(failures: int, settings: dict) -> int:
    """Seconds to wait after the `failures`-th consecutive wrong code: a 24-hour lock-out at
    `otp_account_cap`, otherwise from every `otp_max_attempts`-th failure 30 s, doubling, at
    most an hour; 0 in between."""
    if failures >= settings["otp_account_cap"]:
        return LOCKOUT_SECONDS
    if failures % settings["otp_max_attempts"] == 0:
        return min(30 * 2 ** (failures // settings["otp_max_attempts"] - 1), HOUR)
    return 0


def record_failure(citizen: Citizen | None, factor: str, phone: str | None = None) -> int:
    """Count one consecutive second-factor failure on the account (atomic UPDATE ...
    RETURNING) and apply the back-off / lock-out. Without an account (registration) the
    phone is counted instead, in the ephemeral store."""
    s = _settings()
    if citizen is None:
        return _store().incr("otp-fail-phone:" + sha256_hex(phone or "-"), LOCKOUT_SECONDS)
    failures = db.session.execute(
        update(Citizen).where(Citizen.id == citizen.id)
        .values(otp_failures=Citizen.otp_failures + 1)
        .returning(Citizen.otp_failures)).scalar_one()
    wait = failure_wait(failures, s)
    if wait:
        until = now() + wait
        # Never shorten a lock another request just wrote (e.g. the 24-hour lock-out).
        db.session.execute(update(Citizen).where(Citizen.id == citizen.id).values(
            otp_locked_until=case((Citizen.otp_locked_until < until, until),
                                  else_=Citizen.otp_locked_until)))
    db.session.commit()
    # Reflect the stored values without marking the object dirty: a later commit must never
    # write them back over a parallel request's count.
    set_committed_value(citizen, "otp_failures", failures)
    if wait:
        set_committed_value(citizen, "otp_locked_until", now() + wait)
    audit.record("otp.lockout" if failures >= s["otp_account_cap"] else "second_factor.failure",
                 citizen_id=citizen.id, factor=factor, failures=failures, wait=wait)
    return failures


def record_success(citizen: Citizen) -> None:
    db.session.execute(update(Citizen).where(Citizen.id == citizen.id)
                       .values(otp_failures=0, otp_locked_until=0.0))
    db.session.commit()
    set_committed_value(citizen, "otp_failures", 0)
    set_committed_value(citizen, "otp_locked_until", 0.0)
