"""The unit of work of one operator command (idp/cli): commit, roll back, release.

The CLI has no SQL of its own (issue 13 item 6); these are the only session operations it
needs, named for what the command means rather than for SQLAlchemy.
"""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from idp.platform.db import db


def commit() -> None:
    """Make the command's changes durable (one transaction per command)."""
    db.session.commit()


def commit_unless_conflict() -> bool:
    """Commit; False (and nothing written) when a concurrent writer took the same unique id."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def rollback() -> None:
    """Forget the command's changes after an error, so nothing half-done is committed."""
    db.session.rollback()


def release(dispose_engine: bool) -> None:
    """End the command's session; dispose of the pool when the command created the app."""
    db.session.remove()
    if dispose_engine:
        db.engine.dispose()
