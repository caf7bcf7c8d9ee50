"""Account linking by personal identification number (issue 16 item 3): which account an
upstream identity ("Đăng nhập bằng VNeID", idp/platform/upstream/) signs in to.

The upstream's 12-digit personal identification number (số định danh cá nhân) is the key:
- an identity already linked (`federated_identities`, provider + subject) → its account;
- else an account whose ID number is that number → linked now, without a password: VNeID
  identified the person more strongly than our password does (level 2: in person, with the
  chip card), and the account's phones are told by SMS in the same transaction;
- else nothing: the citizen chooses to create an account from the upstream's verified
  attributes (`create_row` joins registration's one transaction, flows/register/person.py)
  or to prove an old 9-digit CMND account (password + SMS code) and move it to the 12-digit
  number (`move_former`), so one person ends with one account.

Levels (documented in README "Đăng nhập bằng VNeID"): the upstream account level maps to our
`acr` — VNeID level 2 (identified in person) → LoA2, level 1 or unknown → LoA1 — never
higher: a VNeID login is one step at VNeID, and LoA3 here means a certificate. A login whose
level is below what the portal asked goes on to this account's own second factor.
"""
from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.accounts import notices
from idp.accounts.factors import phones
from idp.platform import audit, sms
from idp.platform.db import db, now
from idp.platform.models import Citizen, FederatedIdentity

PID_LENGTH = 12
CMND_LENGTH = 9
# The upstream account level → our level of assurance (module docstring).
LEVEL_ACR = {2: "LoA2", 1: "LoA1"}
NOTICE_TEXTS = {
    "vneid_linked": "Tai khoan cua ban vua duoc lien ket voi tai khoan dinh danh dien tu VNeID.",
    "vneid_unlinked": "Lien ket VNeID vua bi go khoi tai khoan cua ban.",
    "vneid_moved": "Tai khoan cua ban vua duoc chuyen sang so dinh danh ca nhan 12 so.",
}


@dataclass(frozen=True)
class Asserted:
    """What an upstream asserted about the person, as the flows keep it between steps (JSON
    in the flow record: `record` / `from_record`). `birth_date`: "YYYY-MM-DD" or ""."""
    provider: str
    subject: str
    pid: str
    full_name: str
    birth_date: str
    account_type: str
    account_level: int | None

    @classmethod
    def of(cls, identity: Any) -> Asserted:
        """From an idp.platform.upstream.UpstreamIdentity."""
        born = identity.birth_date
        return cls(identity.provider, identity.subject, identity.pid, identity.full_name,
                   born.isoformat() if isinstance(born, datetime.date) else "",
                   identity.account_type or "", identity.account_level)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Asserted:
        level = record.get("account_level")
        return cls(str(record["provider"]), str(record["subject"]), str(record["pid"]),
                   str(record["full_name"]), str(record.get("birth_date") or ""),
                   str(record.get("account_type") or ""),
                   level if isinstance(level, int) else None)

    @property
    def acr(self) -> str:
        return acr_for(self.account_level)


def acr_for(level: int | None) -> str:
    return LEVEL_ACR.get(level or 0, "LoA1")


class LinkRefused(Exception):
    """Why an identity cannot sign in to the account it names: `reason` is "disabled" (the
    account is not active), "mismatch" (the linked account's number is not the asserted
    one), "taken" (the number already has another account: a CMND move)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def linked(provider: str, subject: str) -> FederatedIdentity | None:
    return db.session.scalar(select(FederatedIdentity).where(
        FederatedIdentity.provider == provider, FederatedIdentity.subject == subject))


def identities(citizen: Citizen) -> list[FederatedIdentity]:
    return list(db.session.scalars(select(FederatedIdentity).where(
        FederatedIdentity.citizen_id == citizen.id).order_by(FederatedIdentity.id)))


def find(asserted: Asserted) -> Citizen | None:
    """The account `asserted` signs in to, linking it by ID number when it was not linked
    (module docstring); None when there is none. Raises LinkRefused."""
    row = linked(asserted.provider, asserted.subject)
    if row is not None:
        citizen = db.session.get(Citizen, row.citizen_id)
        if citizen is None or citizen.status != "active":
            raise LinkRefused("disabled")
        if citizen.id_number != asserted.pid:
            audit.record("federation.mismatch", citizen_id=citizen.id,
                         provider=asserted.provider)
            raise LinkRefused("mismatch")
        row.last_login_at, row.account_level = now(), asserted.account_level
        db.session.commit()
        return citizen
    citizen = db.session.scalar(select(Citizen).where(Citizen.id_number == asserted.pid))
    if citizen is None:
        return None
    if citizen.status != "active" or citizen.account_type != "citizen":
        raise LinkRefused("disabled")
    return _link(citizen, asserted, "id_number")


def _link(citizen: Citizen, asserted: Asserted, how: str) -> Citizen:
    """Add the link and its SMS notice in one transaction. A parallel request that linked
    the same identity first wins; this one then reads its row."""
    reserved = notices.reserve(phones(citizen), citizen.id, "vneid_linked")
    db.session.add(new_row(citizen.id, asserted, how, login=True))
    notices.stage(reserved, notice_text("vneid_linked"), "vneid_linked", citizen.id)
    audit.record("federation.linked", citizen_id=citizen.id, provider=asserted.provider,
                 linked_by=how, level=asserted.account_level, commit=False)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        row = linked(asserted.provider, asserted.subject)
        if row is None or row.citizen_id != citizen.id:
            raise LinkRefused("mismatch") from None
    return citizen


def new_row(citizen_id: int, asserted: Asserted, how: str,
            login: bool = False) -> FederatedIdentity:
    """The link row (added by the caller's transaction: registration's `create`)."""
    t = now()
    return FederatedIdentity(citizen_id=citizen_id, provider=asserted.provider,
                             subject=asserted.subject, pid=asserted.pid,
                             account_level=asserted.account_level, linked_by=how,
                             created_at=t, last_login_at=t if login else None)


def notice_text(kind: str) -> str:
    return (f"{sms.SERVICE_NAME}: {NOTICE_TEXTS[kind]} Neu khong phai ban thuc hien, hay goi "
            f"ngay 1800 1096.")


def former_account(cmnd: str) -> Citizen | None:
    """The active citizen account of an old 9-digit CMND number (None otherwise)."""
    if len(cmnd) != CMND_LENGTH or not cmnd.isdigit():
        return None
    citizen = db.session.scalar(select(Citizen).where(Citizen.id_number == cmnd))
    if citizen is None or citizen.status != "active" or citizen.account_type != "citizen":
        return None
    return citizen


def move_former(citizen: Citizen, asserted: Asserted) -> Citizen:
    """One transaction: the proven CMND account takes the 12-digit number (the CMND kept in
    `former_id_number`), VNeID's verified name and birth date, and the link; its phones are
    told. Raises LinkRefused("taken") when the number already has an account."""
    if db.session.scalar(select(Citizen.id).where(Citizen.id_number == asserted.pid)):
        raise LinkRefused("taken")
    reserved = notices.reserve(phones(citizen), citizen.id, "vneid_moved")
    citizen.former_id_number, citizen.id_number = citizen.id_number, asserted.pid
    citizen.full_name = asserted.full_name or citizen.full_name
    citizen.birth_date = asserted.birth_date or citizen.birth_date
    if asserted.account_level == 2:
        citizen.ial = "IAL2"
    db.session.add(new_row(citizen.id, asserted, "cmnd", login=True))
    notices.stage(reserved, notice_text("vneid_moved"), "vneid_moved", citizen.id)
    audit.record("federation.cmnd_moved", citizen_id=citizen.id, provider=asserted.provider,
                 level=asserted.account_level, commit=False)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise LinkRefused("taken") from None
    return citizen


def unlink(citizen: Citizen, row_id: int) -> FederatedIdentity | None:
    """Stage the removal of one of the account's links (the caller commits with its
    notice); None when `row_id` is not this account's."""
    row = db.session.get(FederatedIdentity, row_id)
    if row is None or row.citizen_id != citizen.id:
        return None
    db.session.delete(row)
    return row
