"""Complaints: "khiếu nại khi không sở hữu tài khoản" (seed §1 step 4; DESIGN.md §2).

Who can file one. Registration (flows/register.py) tells a caller that an ID number already
has an account only after the SMS code proved they hold the phone they typed *and* the carrier
(KYC) registers that phone to that ID number — the ID holder, per the carrier. Exactly there
the page offers "Quên mật khẩu" and "Khiếu nại: tài khoản này không phải của tôi"; the
complaint form (flows/complaint.py) is reachable only from that page, so it is no new way to
learn whether an account exists.

`file` records, in ONE transaction: the complaint (the proven phone as the contact number, the
name and birth date as typed at registration, the ID number and the account, a short
description, an optional e-mail), the account's flag `Citizen.disputed_at`, an SMS notice to
each phone of the account and an acknowledgement to the complainant (outbox rows, delivered by
`idp worker`), and the audit row. The notices take the "notify" SMS budget first
(notices.reserve: before anything is staged, because with the SQL ephemeral store a
budget counter commits the session); a refused notice is skipped and audited, never the reason
a complaint is lost. The account is *not* locked: anyone who holds a phone the carrier wrongly
registered to the ID number could file one, and a lock would hand them a way to shut the real
holder out. A second complaint from the same phone about the same account while the first is
open returns the first (same reference, no new notices).

Operators resolve complaints from the CLI (idp/cli/complaints.py) after checking identity
documents in person, with one of four outcomes:

- `owner_confirmed`: the account's holder is who the account says; nothing changes.
- `rejected`: the complaint is unfounded or withdrawn; nothing changes.
- `account_disabled`: the account is disabled (status "disabled": no login, no password
  reset) and signed out everywhere (recovery.revoke_all: SSO sessions ended through
  signout.end_sessions with back-channel logouts, tokens revoked, unredeemed codes expired).
  For an account nobody legitimate claims; re-enabling it is a separate, deliberate act.
- `transferred`: the complainant is the ID holder and takes the account over. The account keeps
  its `sub` (the portals' records of this ID number follow it) but loses everything the other
  person set up: its phones are replaced by the complainant's proven phone (the only SMS
  method, the default and contact number), authenticator apps and recovery codes are deleted,
  the e-mail becomes the complaint's (or none), consents to third-party portals are forgotten,
  pending lost-phone requests are rejected, the password is replaced by an unknown random one,
  every session and token is revoked, and the status is "active". The complainant then sets a
  password with "Quên mật khẩu" on the login page (the code goes to the proven phone). Name
  and birth date are not changed here.

Every outcome records who resolved it, when and a note; the old phones and the complainant are
told by SMS (same budget rules); the flag is cleared once no complaint of the account is open.
Every action is audited with ID numbers and phones masked (`idp audit list --event
complaint.`).
"""
from __future__ import annotations

import re
import secrets
import unicodedata

from sqlalchemy import delete, exists, func, or_, select, update

from idp.accounts import factors, lockout, notices
from idp.platform import audit, sms
from idp.platform.audit import mask_id_number, mask_phone
from idp.platform.crypto import hash_password
from idp.platform.db import db, now
from idp.platform.messages import msg
from idp.platform.models import (
    AuthMethod,
    Citizen,
    Complaint,
    Consent,
    RecoveryCode,
    RecoveryRequest,
)

STATUSES = ("open", "resolved")
OUTCOMES = ("owner_confirmed", "account_disabled", "transferred", "rejected")
DESCRIPTION_MAX = 1000
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read over the phone
_REFERENCE = re.compile(r"KN-?([2-9A-HJKMNP-Z]{8})")

class ComplaintError(Exception):
    """A complaint or an operator action that cannot be done; `code` for the web page,
    the message (one line, no personal data) for the CLI."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _sms(msg_id: str, ref: str) -> str:
    """An SMS text of the one catalogue (idp/platform/messages/sms.py) for complaint `ref`."""
    return msg(msg_id, service=sms.SERVICE_NAME, ref=ref)


def new_reference() -> str:
    return "KN-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))


def clean_description(text: str | None) -> str:
    """NFC, control characters other than line breaks and tabs removed, trimmed. Raises
    ComplaintError("description_missing"/"description_long")."""
    value = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n")
    value = "".join(ch for ch in value
                    if ch in "\n\t" or not unicodedata.category(ch).startswith("C")).strip()
    if not value:
        raise ComplaintError("description_missing", "the description is empty")
    if len(value) > DESCRIPTION_MAX:
        raise ComplaintError("description_long",
                             f"the description is longer than {DESCRIPTION_MAX} characters")
    return value


# --------------------------------------------------------------------------- filing

def file(*, id_number: str, phone: str, full_name: str, birth_date: str, description: str,
         email: str | None = None, client_id: str | None = None) -> tuple[Complaint, bool]:
    """Record a complaint about the account of `id_number` (module docstring); the caller
    proved `phone` (SMS code) and the carrier's registration of it to `id_number`.
    Returns (complaint, created): created False when the same phone's complaint about this
    account is still open (nothing new is written or sent)."""
    owner = db.session.scalar(select(Citizen).where(Citizen.id_number == id_number))
    if owner is None:
        raise ComplaintError("no_account", "no account has this ID number")
    repeated = db.session.scalar(select(Complaint).where(
        Complaint.citizen_id == owner.id, Complaint.phone == phone,
        Complaint.status == "open").order_by(Complaint.id).limit(1))
    if repeated is not None:
        audit.record("complaint.repeated", citizen_id=owner.id, client_id=client_id,
                     reference=repeated.reference, phone=mask_phone(phone))
        return repeated, False
    # Budgets first (they may commit the session), then one transaction for everything else.
    to_owner = notices.reserve([p for p in factors.phones(owner) if p != phone],
                                      owner.id, "complaint_filed")
    to_complainant = notices.reserve([phone], None, "complaint_received")
    t = now()
    complaint = Complaint(reference=new_reference(), citizen_id=owner.id, id_number=id_number,
                          phone=phone, full_name=full_name, birth_date=birth_date, email=email,
                          description=description, status="open", created_at=t)
    db.session.add(complaint)
    db.session.execute(update(Citizen).where(Citizen.id == owner.id,
                                             Citizen.disputed_at.is_(None))
                       .values(disputed_at=t), execution_options={"synchronize_session": False})
    db.session.flush()
    ref = complaint.reference
    notices.stage(to_owner, _sms("sms.complaint_filed", ref), "complaint_filed", owner.id)
    notices.stage(to_complainant, _sms("sms.complaint_received", ref), "complaint_received")
    audit.record("complaint.filed", citizen_id=owner.id, client_id=client_id, commit=False,
                 complaint_id=complaint.id, reference=ref, phone=mask_phone(phone),
                 id_number=mask_id_number(id_number), email=bool(email),
                 notified=[mask_phone(p) for p in to_owner])
    db.session.commit()  # the complaint, the flag, the notices and the audit row together
    return complaint, True


# --------------------------------------------------------------------------- operators

def find(key: str) -> Complaint:
    """A complaint by its number (`12`) or its reference (`KN-7F3K9Q2M`, any case, the dash
    optional)."""
    key = (key or "").strip()
    if key.isascii() and key.isdigit() and len(key) <= 18:
        complaint = db.session.get(Complaint, int(key))
    elif m := _REFERENCE.fullmatch(key.upper()):
        complaint = db.session.scalar(select(Complaint).where(
            Complaint.reference == "KN-" + m[1]))
    else:
        raise ComplaintError("bad_key", f"expected a complaint number or a reference like "
                                        f"KN-7F3K9Q2M, got {key[:20]!r}")
    if complaint is None:
        raise ComplaintError("not_found", f"no complaint {key}")
    return complaint


def listing(status: str = "open") -> list[tuple[Complaint, Citizen | None]]:
    if status not in (*STATUSES, "all"):
        raise ComplaintError("bad_status", f"status must be open, resolved or all, got "
                                           f"{status[:20]!r}")
    query = select(Complaint, Citizen).outerjoin(
        Citizen, Citizen.id == Complaint.citizen_id).order_by(Complaint.id)
    if status != "all":
        query = query.where(Complaint.status == status)
    rows = [(c, owner) for c, owner in db.session.execute(query)]
    audit.record("complaint.listed", status=status, count=len(rows), actor="cli")
    return rows


def viewed(complaint: Complaint, operator: str, full: bool) -> None:
    audit.record("complaint.viewed", citizen_id=complaint.citizen_id, actor="cli",
                 operator=operator, reference=complaint.reference, unmasked=full)


def _phone_of_another_account(phone: str, citizen_id: int) -> bool:
    return db.session.scalar(
        select(Citizen.id).outerjoin(AuthMethod, AuthMethod.citizen_id == Citizen.id)
        .where(Citizen.id != citizen_id, Citizen.status != "deleted",
               or_(Citizen.phone == phone, AuthMethod.phone == phone)).limit(1)) is not None


def _transfer(complaint: Complaint, owner: Citizen, operator: str, password_hash: str) -> dict:
    """The account goes to the complainant (module docstring). Not committed.
    `password_hash`: of a random password nobody knows (hashed before the transaction)."""
    t = now()
    db.session.execute(delete(AuthMethod).where(AuthMethod.citizen_id == owner.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.citizen_id == owner.id))
    consents = db.session.execute(delete(Consent).where(Consent.citizen_id == owner.id)).rowcount
    db.session.add(AuthMethod(citizen_id=owner.id, kind="sms", phone=complaint.phone,
                              is_default=True, created_at=t))
    # Nobody knows this password: the complainant sets one with "Quên mật khẩu".
    db.session.execute(update(Citizen).where(Citizen.id == owner.id).values(
        phone=complaint.phone, email=complaint.email,
        password_hash=password_hash, password_changed_at=t,
        sms_reset_pending=False, otp_failures=0, otp_locked_until=0.0, status="active"),
        execution_options={"synchronize_session": "fetch"})
    superseded = db.session.execute(update(RecoveryRequest).where(
        RecoveryRequest.citizen_id == owner.id, RecoveryRequest.status == "pending").values(
        status="rejected", decided_at=t, decided_by=operator,
        note=f"superseded by complaint {complaint.reference}")).rowcount
    return {"consents_removed": consents, "recovery_requests_rejected": superseded}


def resolve(key: str, outcome: str, note: str, operator: str) -> Complaint:
    """Resolve an open complaint (module docstring). Raises ComplaintError."""
    from idp.accounts import recovery
    if outcome not in OUTCOMES:
        raise ComplaintError("bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}, "
                                            f"got {outcome[:30]!r}")
    note = " ".join((note or "").split())
    if not note:
        raise ComplaintError("note_missing", "--note: say what was checked and decided")
    if len(note) > 2000:
        raise ComplaintError("note_long", "--note: at most 2000 characters")
    complaint = find(key)
    ref = complaint.reference
    if complaint.status != "open":
        raise ComplaintError("resolved", f"complaint {ref} is already resolved "
                                         f"({complaint.outcome})")
    owner = db.session.get(Citizen, complaint.citizen_id) if complaint.citizen_id else None
    if owner is None and outcome in ("account_disabled", "transferred"):
        raise ComplaintError("no_account", f"complaint {ref}: the account no longer exists")
    if outcome == "transferred" and _phone_of_another_account(complaint.phone, owner.id):
        raise ComplaintError("phone_in_use", f"complaint {ref}: the complainant's phone is "
                                             f"used by another account; resolve that first")
    old_phones = list(dict.fromkeys([owner.phone, *factors.phones(owner)])) if owner else []
    # Argon2 before any write: no database lock is held while it runs.
    unknown = hash_password(secrets.token_urlsafe(32)) if outcome == "transferred" else ""
    # Budgets first (they may commit the session), then one transaction.
    to_owner = notices.reserve([p for p in old_phones if p != complaint.phone],
                                      owner.id if owner else None, "complaint_" + outcome)
    to_complainant = notices.reserve([complaint.phone], None, "complaint_" + outcome)
    done = db.session.execute(update(Complaint).where(
        Complaint.id == complaint.id, Complaint.status == "open").values(
        status="resolved", outcome=outcome, note=note, resolved_at=now(),
        resolved_by=operator), execution_options={"synchronize_session": "fetch"}).rowcount
    if not done:
        db.session.rollback()
        raise ComplaintError("resolved", f"complaint {ref} was resolved meanwhile")
    detail: dict = {}
    if outcome == "account_disabled":
        db.session.execute(update(Citizen).where(Citizen.id == owner.id)
                           .values(status="disabled"),
                           execution_options={"synchronize_session": "fetch"})
        detail.update(recovery.revoke_all(owner.id))
    elif outcome == "transferred":
        detail.update(_transfer(complaint, owner, operator, unknown))
        detail.update(recovery.revoke_all(owner.id))
    if owner is not None:
        still_open = db.session.scalar(select(exists().where(
            Complaint.citizen_id == owner.id, Complaint.status == "open")))
        if not still_open:
            db.session.execute(update(Citizen).where(Citizen.id == owner.id)
                               .values(disputed_at=None),
                               execution_options={"synchronize_session": "fetch"})
    citizen_id = owner.id if owner else None
    notices.stage(to_owner, _sms(f"sms.complaint_{outcome}.owner", ref), f"complaint_{outcome}",
                  citizen_id)
    notices.stage(to_complainant, _sms(f"sms.complaint_{outcome}.complainant", ref),
                  f"complaint_{outcome}")
    if outcome == "transferred":
        detail["old_phones"] = [mask_phone(p) for p in old_phones]
    audit.record("complaint.resolved", citizen_id=citizen_id, actor="cli", commit=False,
                 reference=ref, complaint_id=complaint.id, outcome=outcome, operator=operator,
                 phone=mask_phone(complaint.phone),
                 notified=len(to_owner) + len(to_complainant), **detail)
    db.session.commit()  # the decision, the account's changes, revocations, notices, audit
    if outcome == "transferred":
        lockout.clear(owner.id_number)  # the other person's login failures are not theirs
    db.session.refresh(complaint)
    return complaint


def open_count(citizen_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Complaint).where(
        Complaint.citizen_id == citizen_id, Complaint.status == "open")) or 0
