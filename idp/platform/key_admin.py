"""Read-side of the signing keys for operators (`idp keys list`); rotation lives in keys.py."""
from __future__ import annotations

from sqlalchemy import select

from idp.platform.db import db
from idp.platform.models import SigningKey


def all_keys() -> list[SigningKey]:
    """Every signing key, by algorithm then age (the order operators read them in)."""
    return list(db.session.scalars(
        select(SigningKey).order_by(SigningKey.alg, SigningKey.created_at)))
