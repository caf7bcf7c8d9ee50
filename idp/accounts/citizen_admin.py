"""Citizen accounts as operators manage them (`idp users ...`, recovery and audit listings):
the queries the CLI needs, so the CLI has no SQL of its own."""
from __future__ import annotations

import uuid

from sqlalchemy import select, update

from idp.platform.db import db
from idp.platform.models import Citizen, RecoveryRequest

_BATCH = 500  # IN (...) lists stay below every database's parameter limit


def existing_id_numbers(numbers: list[str]) -> set[str]:
    """The ID numbers among `numbers` that already have an account."""
    found: set[str] = set()
    for i in range(0, len(numbers), _BATCH):
        found.update(db.session.scalars(
            select(Citizen.id_number).where(Citizen.id_number.in_(numbers[i:i + _BATCH]))))
    return found


def add(record: dict, password_hash: str) -> None:
    """A new account from a validated record (not committed)."""
    db.session.add(Citizen(sub=str(uuid.uuid4()), password_hash=password_hash, **record))


def by_id_number(id_number: str) -> Citizen | None:
    return db.session.scalars(select(Citizen).where(Citizen.id_number == id_number)).first()


def id_of(id_number: str) -> int | None:
    return db.session.scalar(select(Citizen.id).where(Citizen.id_number == id_number))


def get(citizen_id: int) -> Citizen | None:
    return db.session.get(Citizen, citizen_id)


def clear_otp_lockout(citizen_id: int) -> None:
    """Forget second-factor failures and the lock-out (not committed)."""
    db.session.execute(update(Citizen).where(Citizen.id == citizen_id)
                       .values(otp_failures=0, otp_locked_until=0.0))


def recovery_requests(status: str, id_number: str | None) -> list[tuple[RecoveryRequest, str]]:
    """Recovery requests (status "all" or one status), oldest first, with the ID number."""
    query = select(RecoveryRequest, Citizen.id_number).join(
        Citizen, Citizen.id == RecoveryRequest.citizen_id).order_by(RecoveryRequest.id)
    if status != "all":
        query = query.where(RecoveryRequest.status == status)
    if id_number:
        query = query.where(Citizen.id_number == id_number.strip())
    return [(r, number) for r, number in db.session.execute(query)]
