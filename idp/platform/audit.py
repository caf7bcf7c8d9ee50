"""Audit trail and masking of personal data (ID number and phone never appear in clear in logs
or audit records; Decree 13/2023 treats both as basic personal data). Every event is also
counted in the metrics (`idp_events_total` and the counters derived from it, idp.metrics)."""
from __future__ import annotations

import json
import logging

from flask import has_request_context

from idp.platform import metrics
from idp.platform.db import db

log = logging.getLogger("idp.audit")


def mask_id_number(value: str | None) -> str:
    """066xxxxxx947-style: first 3 (province) and last 3 digits."""
    if not value:
        return ""
    if len(value) <= 6:
        return "x" * len(value)
    return value[:3] + "x" * (len(value) - 6) + value[-3:]


def mask_phone(value: str | None) -> str:
    """0941xxx947: first 4 and last 3 digits of the national form (domain.md §2.4)."""
    if not value:
        return ""
    national = "0" + value[3:] if value.startswith("+84") else value
    if len(national) < 8:
        return "x" * len(national)
    return national[:4] + "x" * (len(national) - 7) + national[-3:]


def record(event: str, *, citizen_id: int | None = None, client_id: str | None = None,
           commit: bool = True, **detail) -> None:
    """Add an audit event. `detail` must already be masked; callers pass masked values."""
    from idp.platform.models import AuditEvent
    from idp.platform.web import client_ip

    ip = client_ip() if has_request_context() else None
    db.session.add(AuditEvent(event=event, citizen_id=citizen_id, client_id=client_id, ip=ip,
                              detail_json=json.dumps(detail, ensure_ascii=False, sort_keys=True)))
    if commit:
        db.session.commit()
    metrics.event(event)
    log.info("%s citizen=%s client=%s %s", event, citizen_id, client_id, detail)
