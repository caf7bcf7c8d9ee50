"""Server-side record of the portal's logged-in sessions (SQLite under the portal's instance
folder). The signed cookie holds only a random record id; every request checks the record,
so a back-channel logout (by `sid` or `sub`) ends the session at once."""
from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    iss TEXT NOT NULL,
    sub TEXT NOT NULL,
    sid TEXT,
    acr TEXT,
    id_token TEXT NOT NULL,
    claims TEXT NOT NULL,
    userinfo TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL
);
CREATE INDEX IF NOT EXISTS sessions_sid ON sessions (iss, sid);
CREATE INDEX IF NOT EXISTS sessions_sub ON sessions (iss, sub);
CREATE TABLE IF NOT EXISTS seen_jti (
    jti TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
"""


@dataclass
class Record:
    """One login of one citizen at this portal (the cookie holds only `id`)."""

    id: str
    iss: str
    sub: str
    sid: str | None
    acr: str | None
    id_token: str
    claims: dict[str, Any]
    userinfo: dict[str, Any]
    created_at: float
    expires_at: float


class SessionStore:
    """The portal's session records and the logout token ids already seen (replay guard);
    SQLite so that the several worker processes of one portal share them."""

    def __init__(self, path: Path, ttl: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """One short-lived connection at a time per store: SQLite connections are not shared
        between the server's threads, and the lock keeps writers from contending."""
        with self._lock:
            conn = self._connect()
            try:
                yield conn
            finally:
                conn.close()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._connection() as conn:
            return conn.execute(sql, args).fetchall()

    def create(self, iss: str, claims: dict[str, Any], userinfo: dict[str, Any],
               id_token: str) -> Record:
        t = time.time()
        rec = Record(secrets.token_urlsafe(24), iss, claims["sub"], claims.get("sid"),
                     claims.get("acr"), id_token, claims, userinfo, t, t + self.ttl)
        self._run("INSERT INTO sessions (id, iss, sub, sid, acr, id_token, claims, userinfo, "
                  "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (rec.id, rec.iss, rec.sub, rec.sid, rec.acr, rec.id_token,
                   json.dumps(claims, ensure_ascii=False), json.dumps(userinfo, ensure_ascii=False),
                   rec.created_at, rec.expires_at))
        # Opportunistic clean-up of expired rows.
        self._run("DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?",
                  (t - 86400, t - 86400))
        return rec

    def get(self, rec_id: str) -> Record | None:
        rows = self._run("SELECT id, iss, sub, sid, acr, id_token, claims, userinfo, created_at, "
                         "expires_at FROM sessions WHERE id = ? AND revoked_at IS NULL "
                         "AND expires_at > ?", (rec_id, time.time()))
        if not rows:
            return None
        r = rows[0]
        return Record(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]),
                      r[8], r[9])

    def revoke(self, rec_id: str) -> None:
        self._run("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                  (time.time(), rec_id))

    def revoke_by(self, iss: str, sid: str | None, sub: str | None) -> int:
        """Back-channel logout: every session of that IdP session (sid), or of that citizen
        (sub) when no sid is given; with both, only rows matching both."""
        t = time.time()
        args: tuple[str | None, ...]
        if sid and sub:
            where, args = "iss = ? AND sid = ? AND sub = ?", (iss, sid, sub)
        elif sid:
            where, args = "iss = ? AND sid = ?", (iss, sid)
        else:
            where, args = "iss = ? AND sub = ?", (iss, sub)
        with self._connection() as conn:
            cur = conn.execute(f"UPDATE sessions SET revoked_at = ? WHERE {where} "
                               "AND revoked_at IS NULL", (t, *args))
            return cur.rowcount

    def remember_jti(self, jti: str, ttl: float) -> bool:
        """False when this logout token id was already seen (replay)."""
        t = time.time()
        with self._connection() as conn:
            conn.execute("DELETE FROM seen_jti WHERE expires_at < ?", (t,))
            try:
                conn.execute("INSERT INTO seen_jti (jti, expires_at) VALUES (?, ?)",
                             (jti, t + ttl))
            except sqlite3.IntegrityError:
                return False
            return True
