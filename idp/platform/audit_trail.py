"""Querying the audit trail for operators (`idp audit list`); writing is audit.record."""
from __future__ import annotations

from sqlalchemy import select

from idp.platform.db import db
from idp.platform.models import AuditEvent, Citizen


def events(*, citizen_id: int | None, prefix: str | None, client_id: str | None,
           since: float | None, limit: int) -> list[tuple[AuditEvent, str | None]]:
    """Matching events newest first, each with its citizen's ID number (None if none)."""
    query = select(AuditEvent, Citizen.id_number).outerjoin(
        Citizen, Citizen.id == AuditEvent.citizen_id)
    if citizen_id is not None:
        query = query.where(AuditEvent.citizen_id == citizen_id)
    if prefix:
        query = query.where(AuditEvent.event.startswith(prefix, autoescape=True))
    if client_id is not None:
        query = query.where(AuditEvent.client_id == client_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    return [(event, number) for event, number in db.session.execute(query)]
