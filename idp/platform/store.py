"""The ephemeral store port: short-lived state with a TTL (flows, captchas, pending
authorization requests, counters). Every check-and-update is one atomic statement, so two
nodes or two threads can never both see "first" (security-requirements §6.5).

`SqlStore` keeps it in the `ephemeral` table (SQLite in development, PostgreSQL for one
node); `RedisStore` keeps it in Redis (`redis_url`), each check-and-update one Lua script.
Both decide expiry with the application's clock (`now`), so they behave the same; Redis also
drops a key a little after it expired. Errors are never swallowed: a store that cannot answer
makes the request fail with 503 (security-requirements §0.9: limits fail closed).
"""
from __future__ import annotations

import json
import math
from typing import Protocol

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from idp.platform.db import db, now
from idp.platform.models import Ephemeral


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

    def _upsert(self, key, value, ttl, t, rev, where=None):
        """INSERT … ON CONFLICT DO UPDATE (both dialects): a new value, expiry and revision;
        `where` limits the update (add: only over an expired record)."""
        stmt = self._insert().values(key=key, value=json.dumps(value), counter=0, rev=0,
                                     expires_at=t + ttl)
        return stmt.on_conflict_do_update(
            index_elements=[Ephemeral.key],
            set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at,
                  "rev": rev, "counter": 0},
            where=where)

    def put(self, key, value, ttl):
        self._run(self._upsert(key, value, ttl, now(), Ephemeral.rev + 1))

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
        stmt = self._upsert(key, value, ttl, t, 0, where=Ephemeral.expires_at <= t)
        _, rows = self._run(stmt.returning(Ephemeral.key))
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


# Each key is a hash: v (JSON value), r (revision), c (counter), e (expiry, epoch seconds).
# ARGV[1] is always the caller's `now`; physical expiry (PEXPIRE) trails the logical one.
_PUT = """
local r = redis.call('HGET', KEYS[1], 'r')
r = r and (tonumber(r) + 1) or 0
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'e', ARGV[3], 'r', r, 'c', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
"""
_TAKE = """
local d = redis.call('HMGET', KEYS[1], 'v', 'e')
redis.call('DEL', KEYS[1])
if d[1] and tonumber(d[2]) > tonumber(ARGV[1]) then return d[1] end
return false
"""
_ADD = """
local e = redis.call('HGET', KEYS[1], 'e')
if e and tonumber(e) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'e', ARGV[3], 'r', 0, 'c', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""
_CAS = """
local d = redis.call('HMGET', KEYS[1], 'r', 'e')
if not d[1] or tonumber(d[1]) ~= tonumber(ARGV[2]) or tonumber(d[2]) <= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'r', tonumber(ARGV[2]) + 1)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'e', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return 1
"""
_INCR = """
local e = redis.call('HGET', KEYS[1], 'e')
if not e or tonumber(e) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'v', '', 'e', ARGV[2], 'r', 0, 'c', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return tonumber(ARGV[3])
end
return redis.call('HINCRBY', KEYS[1], 'c', ARGV[3])
"""
# Redis keeps a key this much longer than its logical expiry (clock differences between nodes).
_GRACE_MS = 5000


def _ms(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000)) + _GRACE_MS


class RedisStore:
    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix
        self._put, self._take, self._add, self._cas, self._incr = (
            client.register_script(src) for src in (_PUT, _TAKE, _ADD, _CAS, _INCR))

    def _k(self, key: str) -> str:
        return self.prefix + key

    def put(self, key, value, ttl):
        t = now()
        self._put(keys=[self._k(key)], args=[repr(t), json.dumps(value), repr(t + ttl), _ms(ttl)])

    def get(self, key):
        found = self.get_rev(key)
        return found[0] if found else None

    def get_rev(self, key):
        v, r, e = self.client.hmget(self._k(key), "v", "r", "e")
        if v is None or e is None or float(e) <= now():
            return None
        return json.loads(v), int(r)

    def take(self, key):
        v = self._take(keys=[self._k(key)], args=[repr(now())])
        return json.loads(v) if v else None

    def delete(self, key):
        self.client.delete(self._k(key))

    def add(self, key, value, ttl):
        t = now()
        return bool(self._add(keys=[self._k(key)],
                              args=[repr(t), json.dumps(value), repr(t + ttl), _ms(ttl)]))

    def cas(self, key, rev, value, ttl=None):
        t = now()
        args = [repr(t), rev, json.dumps(value), "" if ttl is None else repr(t + ttl),
                0 if ttl is None else _ms(ttl)]
        return bool(self._cas(keys=[self._k(key)], args=args))

    def incr(self, key, ttl, amount=1):
        t = now()
        return int(self._incr(keys=[self._k(key)], args=[repr(t), repr(t + ttl), amount, _ms(ttl)]))

    def purge_expired(self):
        return 0  # Redis drops expired keys itself


def redis_client(settings: dict) -> redis.Redis:
    """A client whose every wait is bounded by `redis_timeout`; one immediate retry replaces a
    connection that a Redis restart closed, so service resumes by itself."""
    timeout = settings["redis_timeout"]
    return redis.Redis.from_url(
        settings["redis_url"], socket_timeout=timeout, socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1), health_check_interval=30, decode_responses=True)


def init_app(app: Flask) -> None:
    settings = app.config["IDP"]
    if settings["redis_url"]:
        client = redis_client(settings)
        app.extensions["idp.redis"] = client
        app.extensions["idp.store"] = RedisStore(client, settings["redis_prefix"])
    else:
        app.extensions["idp.store"] = SqlStore()
