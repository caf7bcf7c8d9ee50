"""Housekeeping: expired ephemeral records, code tombstones, dead tokens and sessions are
deleted so abandoned flows leave nothing behind. Runs after a request at most every
PURGE_INTERVAL seconds per process (any node may do it; the deletes are idempotent)."""
from __future__ import annotations

import logging
import time

from flask import current_app
from sqlalchemy import delete, func

from idp.platform.db import db, now
from idp.platform.models import AuthorizationCode, SsoSession, Token

log = logging.getLogger("idp.maintenance")
PURGE_INTERVAL = 300
# Consumed codes stay as tombstones this long after expiry, so a late replay still revokes.
CODE_TOMBSTONE = 3600
GRACE = 86400


def purge() -> dict:
    t = now()
    counts = {"ephemeral": current_app.extensions["idp.store"].purge_expired()}
    counts["codes"] = db.session.execute(delete(AuthorizationCode).where(
        AuthorizationCode.expires_at < t - CODE_TOMBSTONE)).rowcount
    counts["tokens"] = db.session.execute(delete(Token).where(
        func.coalesce(Token.refresh_expires_at, Token.access_expires_at) < t - GRACE,
        Token.access_expires_at < t - GRACE)).rowcount
    counts["sessions"] = db.session.execute(delete(SsoSession).where(
        SsoSession.expires_at < t - GRACE)).rowcount
    db.session.commit()
    return counts


def init_app(app) -> None:
    state = {"last": time.monotonic()}

    @app.teardown_request
    def _maybe_purge(exc):
        if exc is not None or time.monotonic() - state["last"] < PURGE_INTERVAL:
            return
        state["last"] = time.monotonic()
        try:
            counts = purge()
            log.info("purged %s", counts)
        except Exception:  # housekeeping must never break a request
            db.session.rollback()
            log.exception("purge failed")
