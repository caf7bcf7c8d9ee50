"""Account recovery operations, shared by the forgot-password flow (flows/recover.py), the
lost-phone page (recovery_views.py) and the operator CLI (`idp recovery ...`).

- `reset_password`: the new password, and everything NIST 800-63B-4 §4.2 / ASVS 5.0 6.4.3
  ask of a recovery proven by SMS alone: every session and token of the account revoked, the
  next login asking for a second factor that is not SMS when the account has one, and a
  notification to the account's phones.
- Lost phone: a request recorded online (`record_request`), decided by an operator after
  identity proofing at a service counter (`approve` / `reject`). Approval replaces the
  account's phones with the new one and notifies the old and the new numbers.

Notifications are Vietnamese without diacritics (see sms.py) and carry no personal data. They
go through the outbox (platform/outbox.py, via accounts/notices.py), written in the transaction
of the change they report, so a node that dies loses none, and the lost-phone answer does not
wait for the gateway (its timing would tell an ID number with an account from one without).
Each takes the "notify" SMS budget first (idp/sms_budget.py) — before the change is staged,
because the SQL ephemeral store commits the session — and a refused one is skipped and audited;
a notification is never the reason a change fails. A lost-phone request for an ID number
without an account does the same store work (record_unknown_request): medians of 50 POSTs,
account vs none, with an http gateway that takes 250 ms (tests/test_sec_outbox.py): SQLite
4.7 / 3.8 ms, PostgreSQL 10.9 / 9.0 ms, PostgreSQL + Redis 5.3 / 3.6 ms (before the outbox:
~257 / ~4 ms).
"""
from __future__ import annotations

from sqlalchemy import delete, select, update

from idp.accounts import factors, lockout, notices, passwords
from idp.platform import audit, sms
from idp.platform.audit import mask_phone
from idp.platform.crypto import sha256_hex
from idp.platform.db import db, now
from idp.platform.messages import msg
from idp.platform.models import (
    AuthMethod,
    AuthorizationCode,
    Citizen,
    RecoveryRequest,
    SsoSession,
    Token,
)

# SMS notices: texts in the one SMS catalogue (idp/platform/messages/sms.py), by id. Module
# names kept for the tests that compare what a phone received.
RESET_NOTICE = msg("sms.password_reset", service=sms.SERVICE_NAME)
REQUEST_NOTICE = msg("sms.recovery_requested", service=sms.SERVICE_NAME)
APPROVED_OLD = msg("sms.recovery_approved_old", service=sms.SERVICE_NAME)
APPROVED_NEW = msg("sms.recovery_approved_new", service=sms.SERVICE_NAME)
REJECTED = msg("sms.recovery_rejected", service=sms.SERVICE_NAME)
REQUEST_MAX_AGE = 30 * 24 * 3600  # an older request needs a new visit to the counter
STATUSES = ("pending", "approved", "rejected")


class RecoveryError(Exception):
    """An operator action that cannot be done; the message is one line."""


def reserve(phones, citizen_id: int | None, event: str) -> list[str]:
    """The numbers (distinct) whose notification budget allows `event`; call before staging
    the change (module docstring)."""
    return notices.reserve(phones, citizen_id, event)


def queue(phones: list[str], text: str, citizen_id: int | None, event: str) -> None:
    """Write `text` for each reserved number into the session's transaction (the caller
    commits it with the change)."""
    for phone, message_id in zip(phones, notices.stage(phones, text, event, citizen_id)):
        audit.record("notify.queued", citizen_id=citizen_id, phone=mask_phone(phone),
                     notice=event, message_id=message_id, commit=False)


def notify(phones, text: str, citizen_id: int | None, event: str) -> None:
    """Reserve, queue and commit: a notice that is its own transaction."""
    queue(reserve(phones, citizen_id, event), text, citizen_id, event)
    db.session.commit()


def revoke_all(citizen_id: int) -> dict:
    """Sign the account out everywhere: SSO sessions, access and refresh tokens, and codes
    not redeemed yet (they expire now), and a back-channel logout to every portal that got
    tokens from one of the sessions (idp/logout.py). Not committed."""
    from idp.accounts import signout
    t = now()
    sids = list(db.session.scalars(select(SsoSession.sid).where(
        SsoSession.citizen_id == citizen_id, SsoSession.revoked_at.is_(None))))
    sessions = db.session.execute(update(SsoSession).where(
        SsoSession.citizen_id == citizen_id, SsoSession.revoked_at.is_(None))
        .values(revoked_at=t)).rowcount
    tokens = db.session.execute(update(Token).where(
        Token.citizen_id == citizen_id, Token.revoked_at.is_(None))
        .values(revoked_at=t)).rowcount
    db.session.execute(update(AuthorizationCode).where(
        AuthorizationCode.citizen_id == citizen_id, AuthorizationCode.consumed_at.is_(None),
        AuthorizationCode.expires_at > t).values(expires_at=t))
    notified = signout.end_sessions(sids, "revoke_all", revoke_tokens=False,
                                   commit=False)["notified"]
    return {"sessions": sessions, "tokens": tokens, "backchannel": notified}


def reset_password(citizen: Citizen, password: str, client_id: str | None = None) -> None:
    """Set a new password after a reset proven by an SMS code (the caller checked the policy)."""
    phones = reserve(factors.phones(citizen), citizen.id, "password_reset")
    passwords.store(citizen, password)
    # ASVS 5.0 6.4.3: the SMS proved only the phone; with another factor on the account the
    # next login must use it (flows/second_factor.py reads this flag).
    citizen.sms_reset_pending = factors.has_non_sms_factor(citizen)
    revoked = revoke_all(citizen.id)
    queue(phones, RESET_NOTICE, citizen.id, "password_reset")
    audit.record("password.reset", citizen_id=citizen.id, client_id=client_id, proof="sms",
                 non_sms_factor_required=citizen.sms_reset_pending, commit=False, **revoked)
    db.session.commit()  # the password, the revocations, the logout tokens and the notices
    lockout.clear(citizen.id_number)  # a completed reset always restores login


# --------------------------------------------------------------------------- lost phone

def record_request(citizen: Citizen, new_phone: str) -> RecoveryRequest:
    phones = reserve(factors.phones(citizen), citizen.id, "recovery_requested")
    request = RecoveryRequest(citizen_id=citizen.id, new_phone=new_phone, status="pending",
                              created_at=now())
    db.session.add(request)
    db.session.flush()
    queue(phones, REQUEST_NOTICE, citizen.id, "recovery_requested")
    audit.record("recovery.requested", citizen_id=citizen.id, new_phone=mask_phone(new_phone),
                 request_id=request.id)  # commits the request, its notices and this row
    return request


def record_unknown_request(id_number: str) -> None:
    """A lost-phone request for an ID number without an account: nothing is recorded, but
    the work of record_request's notice budget (the three counters sms_budget.take("notify")
    takes, on decoy keys) and an audit row are done, so the answer's timing does not tell
    the two apart (tests/test_sec_outbox.py measures it)."""
    from flask import current_app
    store = current_app.extensions["idp.store"]
    for counter in ("phone", "ip", "global"):
        store.incr(f"lostphone-decoy:{sha256_hex(id_number)}:{counter}", 3600)
    audit.record("recovery.requested_unknown", id_number=audit.mask_id_number(id_number))


def _pending(request_id: int) -> tuple[RecoveryRequest, Citizen]:
    request = db.session.get(RecoveryRequest, request_id)
    if request is None:
        raise RecoveryError(f"no recovery request with id {request_id}")
    if request.status != "pending":
        raise RecoveryError(f"request {request_id} is {request.status}, not pending")
    citizen = db.session.get(Citizen, request.citizen_id)
    if citizen is None:
        raise RecoveryError(f"request {request_id}: the account no longer exists")
    return request, citizen


def _decide(request: RecoveryRequest, status: str, operator: str, note: str | None) -> None:
    # Conditional on still being pending: two operators cannot both decide one request.
    done = db.session.execute(update(RecoveryRequest).where(
        RecoveryRequest.id == request.id, RecoveryRequest.status == "pending")
        .values(status=status, decided_at=now(), decided_by=operator, note=note)).rowcount
    if not done:
        db.session.rollback()
        raise RecoveryError(f"request {request.id} was decided meanwhile")


def approve(request_id: int, operator: str, note: str | None = None) -> RecoveryRequest:
    """The citizen's identity was proofed at the counter: the new phone replaces every phone
    of the account, and the account is signed out everywhere."""
    request, citizen = _pending(request_id)
    if now() - request.created_at > REQUEST_MAX_AGE:
        raise RecoveryError(f"request {request_id} is older than 30 days: the citizen must "
                            f"submit a new one")
    old_phones = list(dict.fromkeys([citizen.phone, *factors.phones(citizen)]))
    to_old = reserve([p for p in old_phones if p != request.new_phone], citizen.id,
                     "recovery_approved_old")
    to_new = reserve([request.new_phone], citizen.id, "recovery_approved_new")
    _decide(request, "approved", operator, note)
    db.session.execute(delete(AuthMethod).where(AuthMethod.citizen_id == citizen.id,
                                                AuthMethod.kind == "sms"))
    db.session.execute(update(AuthMethod).where(AuthMethod.citizen_id == citizen.id)
                       .values(is_default=False))
    db.session.add(AuthMethod(citizen_id=citizen.id, kind="sms", phone=request.new_phone,
                              is_default=True))
    # The phone is new: its lock-out no longer applies (an UPDATE, not ORM attributes, so a
    # parallel count elsewhere cannot be overwritten by a stale value; see otp.py).
    db.session.execute(update(Citizen).where(Citizen.id == citizen.id).values(
        phone=request.new_phone, otp_failures=0, otp_locked_until=0.0),
        execution_options={"synchronize_session": "fetch"})
    revoked = revoke_all(citizen.id)
    others = list(db.session.scalars(select(RecoveryRequest).where(
        RecoveryRequest.citizen_id == citizen.id, RecoveryRequest.status == "pending",
        RecoveryRequest.id != request.id)))
    for other in others:
        other.status, other.decided_at, other.decided_by = "rejected", now(), operator
        other.note = f"superseded by request {request.id}"
    queue(to_old, APPROVED_OLD, citizen.id, "recovery_approved_old")
    queue(to_new, APPROVED_NEW, citizen.id, "recovery_approved_new")
    audit.record("recovery.approved", citizen_id=citizen.id, request_id=request.id,
                 operator=operator, new_phone=mask_phone(request.new_phone),
                 old_phones=[mask_phone(p) for p in old_phones], superseded=len(others),
                 **revoked)  # commits the decision, the revocations and every notice
    return request


def reject(request_id: int, operator: str, note: str) -> RecoveryRequest:
    request, citizen = _pending(request_id)
    phones = reserve([*factors.phones(citizen), request.new_phone], citizen.id,
                     "recovery_rejected")
    _decide(request, "rejected", operator, note)
    queue(phones, REJECTED, citizen.id, "recovery_rejected")
    audit.record("recovery.rejected", citizen_id=citizen.id, request_id=request.id,
                 operator=operator)  # commits the decision and its notices
    return request
