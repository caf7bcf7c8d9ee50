"""Account recovery operations, shared by the forgot-password flow (flows/recover.py), the
lost-phone page (recovery_views.py) and the operator CLI (`idp recovery ...`).

- `reset_password`: the new password, and everything NIST 800-63B-4 §4.2 / ASVS 5.0 6.4.3
  ask of a recovery proven by SMS alone: every session and token of the account revoked, the
  next login asking for a second factor that is not SMS when the account has one, and a
  notification to the account's phones.
- Lost phone: a request recorded online (`record_request`), decided by an operator after
  identity proofing at a service counter (`approve` / `reject`). Approval replaces the
  account's phones with the new one and notifies the old and the new numbers.

Notifications are Vietnamese without diacritics (see sms.py) and carry no personal data.
A gateway failure is audited and does not undo the change it reports.
"""
from __future__ import annotations

from sqlalchemy import delete, select, update

from . import audit, factors, sms
from .audit import mask_phone
from .crypto import hash_password
from .db import db, now
from .models import AuthMethod, AuthorizationCode, Citizen, RecoveryRequest, SsoSession, Token

HOTLINE = "18001096"
RESET_NOTICE = (f"{sms.SERVICE_NAME}: Mat khau tai khoan cua ban vua duoc dat lai. "
                f"Neu khong phai ban, goi {HOTLINE}.")
REQUEST_NOTICE = (f"{sms.SERVICE_NAME}: Co yeu cau doi so dien thoai nhan ma xac thuc cho tai "
                  f"khoan cua ban. Neu khong phai ban, goi {HOTLINE}.")
APPROVED_OLD = (f"{sms.SERVICE_NAME}: So dien thoai nhan ma xac thuc cua tai khoan da duoc "
                f"thay bang so moi. Neu khong phai ban, goi {HOTLINE}.")
APPROVED_NEW = (f"{sms.SERVICE_NAME}: So nay da duoc dang ky nhan ma xac thuc cho tai khoan "
                f"dich vu cong cua ban. Cac phien dang nhap cu da bi dang xuat.")
REJECTED = (f"{sms.SERVICE_NAME}: Yeu cau doi so dien thoai nhan ma xac thuc khong duoc chap "
            f"nhan. Chi tiet: goi {HOTLINE}.")
REQUEST_MAX_AGE = 30 * 24 * 3600  # an older request needs a new visit to the counter
STATUSES = ("pending", "approved", "rejected")


class RecoveryError(Exception):
    """An operator action that cannot be done; the message is one line."""


def notify(phones, text: str, citizen_id: int | None, event: str) -> None:
    """Send `text` to each distinct number; failures are audited, never raised."""
    for phone in dict.fromkeys(p for p in phones if p):
        try:
            sms.send(phone, text)
        except sms.SmsError as exc:
            audit.record("notify.failed", citizen_id=citizen_id, phone=mask_phone(phone),
                         notice=event, error=str(exc))
        else:
            audit.record("notify.sent", citizen_id=citizen_id, phone=mask_phone(phone),
                         notice=event)


def revoke_all(citizen_id: int) -> dict:
    """Sign the account out everywhere: SSO sessions, access and refresh tokens, and codes
    not redeemed yet (they expire now), and a back-channel logout to every portal that got
    tokens from one of the sessions (idp/logout.py). Not committed."""
    from . import logout
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
    notified = logout.end_sessions(sids, "revoke_all", revoke_tokens=False,
                                   commit=False)["notified"]
    return {"sessions": sessions, "tokens": tokens, "backchannel": notified}


def _clear_login_throttle(id_number: str) -> None:
    from .flows.login import clear_throttle
    clear_throttle(id_number)


def reset_password(citizen: Citizen, password: str, client_id: str | None = None) -> None:
    """Set a new password after a reset proven by an SMS code (the caller checked the policy)."""
    citizen.password_hash = hash_password(password)
    citizen.password_changed_at = now()
    # ASVS 5.0 6.4.3: the SMS proved only the phone; with another factor on the account the
    # next login must use it (flows/second_factor.py reads this flag).
    citizen.sms_reset_pending = factors.has_non_sms_factor(citizen)
    revoked = revoke_all(citizen.id)
    db.session.commit()
    _clear_login_throttle(citizen.id_number)
    audit.record("password.reset", citizen_id=citizen.id, client_id=client_id, proof="sms",
                 non_sms_factor_required=citizen.sms_reset_pending, **revoked)
    notify(factors.phones(citizen), RESET_NOTICE, citizen.id, "password_reset")


# --------------------------------------------------------------------------- lost phone

def record_request(citizen: Citizen, new_phone: str) -> RecoveryRequest:
    request = RecoveryRequest(citizen_id=citizen.id, new_phone=new_phone, status="pending",
                              created_at=now())
    db.session.add(request)
    db.session.commit()
    audit.record("recovery.requested", citizen_id=citizen.id, new_phone=mask_phone(new_phone),
                 request_id=request.id)
    notify(factors.phones(citizen), REQUEST_NOTICE, citizen.id, "recovery_requested")
    return request


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
    db.session.commit()
    audit.record("recovery.approved", citizen_id=citizen.id, request_id=request.id,
                 operator=operator, new_phone=mask_phone(request.new_phone),
                 old_phones=[mask_phone(p) for p in old_phones], superseded=len(others),
                 **revoked)
    notify([p for p in old_phones if p != request.new_phone], APPROVED_OLD, citizen.id,
           "recovery_approved_old")
    notify([request.new_phone], APPROVED_NEW, citizen.id, "recovery_approved_new")
    return request


def reject(request_id: int, operator: str, note: str) -> RecoveryRequest:
    request, citizen = _pending(request_id)
    _decide(request, "rejected", operator, note)
    db.session.commit()
    audit.record("recovery.rejected", citizen_id=citizen.id, request_id=request.id,
                 operator=operator)
    notify([*factors.phones(citizen), request.new_phone], REJECTED, citizen.id,
           "recovery_rejected")
    return request
