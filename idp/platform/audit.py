"""Audit trail and masking of personal data (ID number and phone never appear in clear in logs
or audit records; Decree 13/2023 treats both as basic personal data). Every event is also
counted in the metrics (`idp_events_total` and the counters derived from it, idp.metrics)."""
from __future__ import annotations

import json
import logging

from flask import has_request_context

from idp.platform import metrics
from idp.platform.db import db

# The masking rules live in idp.platform.masking (no imports, usable anywhere); re-exported
# here, where most callers reach for them next to record().
from idp.platform.masking import mask_id_number, mask_phone

__all__ = ["mask_id_number", "mask_phone", "record"]

log = logging.getLogger("idp.audit")


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
