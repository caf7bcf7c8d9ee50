"""The ephemeral store port: short-lived state with a TTL (flows, captchas, pending
authorization requests, counters). Every check-and-update is one atomic statement, so two
nodes or two threads can never both see "first" (security-requirements §6.5).

`SqlStore` keeps it in the `ephemeral` table (SQLite in development, PostgreSQL in
production); a Redis implementation with the same semantics arrives with issue #7.
"""
from __future__ import annotations

import json
from typing import Protocol

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .db import db, now
from .models import Ephemeral


class EphemeralStore(Protocol):
    def put(self, key: str, value: dict, ttl: float) -> None: ...
    def get(self, key: str) -> dict | None: ...
    def get_rev(self, key: str) -> tuple[dict, int] | None: ...
    def take(self, key: str) -> dict | None: ...
    def delete(self, key: str) -> None: ...
    def add(self, key: str, value: dict, ttl: float) -> bool: ...
    def cas(self, key: str, rev: int, value: dict, ttl: float | None = None) -> bool: ...
    def incr(self, key: str, ttl: float, amount: int = 1) -> int: ...
    def purge_expired(self) -> int: ...


class SqlStore:
    def _insert(self):
        dialect = db.engine.dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Ephemeral)

    def _run(self, stmt):
        try:
            result = db.session.execute(stmt)
            rows = result.all() if stmt._returning else None
            db.session.commit()
            return result, rows
        except Exception:
            db.session.rollback()
            raise

    def put(self, key, value, ttl):
        t = now()
        stmt = self._insert().values(key=key, value=json.dumps(value), counter=0, rev=0,
                                     expires_at=t + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Ephemeral.key],
            set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at,
                  "rev": Ephemeral.rev + 1, "counter": 0})
        self._run(stmt)

    def get(self, key):
        found = self.get_rev(key)
        return found[0] if found else None

    def get_rev(self, key):
        row = db.session.execute(
            select(Ephemeral.value, Ephemeral.rev)
            .where(Ephemeral.key == key, Ephemeral.expires_at > now())).first()
        db.session.commit()
        return (json.loads(row[0]), row[1]) if row else None

    def take(self, key):
        _, rows = self._run(delete(Ephemeral)
                            .where(Ephemeral.key == key, Ephemeral.expires_at > now())
                            .returning(Ephemeral.value))
        return json.loads(rows[0][0]) if rows else None

    def delete(self, key):
        self._run(delete(Ephemeral).where(Ephemeral.key == key))

    def add(self, key, value, ttl):
        t = now()
        stmt = self._insert().values(key=key, value=json.dumps(value), counter=0, rev=0,
                                     expires_at=t + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Ephemeral.key],
            set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at,
                  "rev": 0, "counter": 0},
            where=Ephemeral.expires_at <= t,
        ).returning(Ephemeral.key)
        _, rows = self._run(stmt)
        return bool(rows)

    def cas(self, key, rev, value, ttl=None):
        values = {"value": json.dumps(value), "rev": rev + 1}
        if ttl is not None:
            values["expires_at"] = now() + ttl
        result, _ = self._run(update(Ephemeral)
                              .where(Ephemeral.key == key, Ephemeral.rev == rev,
                                     Ephemeral.expires_at > now())
                              .values(**values))
        return result.rowcount == 1

    def incr(self, key, ttl, amount=1):
        """Add `amount` (negative to give back) to a fixed-window counter; returns the new
        value. The window starts with the first increment and lasts `ttl` seconds."""
        t = now()
        stmt = self._insert().values(key=key, value="", counter=amount, rev=0,
                                     expires_at=t + ttl)
        expired = Ephemeral.expires_at <= t
        stmt = stmt.on_conflict_do_update(
            index_elements=[Ephemeral.key],
            set_={"counter": case((expired, amount), else_=Ephemeral.counter + amount),
                  "expires_at": case((expired, t + ttl), else_=Ephemeral.expires_at)},
        ).returning(Ephemeral.counter)
        _, rows = self._run(stmt)
        return int(rows[0][0])

    def purge_expired(self):
        result, _ = self._run(delete(Ephemeral).where(Ephemeral.expires_at <= now()))
        return result.rowcount
