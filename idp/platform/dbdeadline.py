"""Client-side deadline for PostgreSQL. A server that stops answering with its connections
open (process frozen, SIGSTOP; a hung VM) defeats every server-side limit: `statement_timeout`
is enforced by the frozen server, psycopg has no deadline of its own, and on a reachable host
the kernel keeps acknowledging, so neither keepalives nor `tcp_user_timeout` fire. So each
worker process has one `Watchdog` thread (started on first use, recreated in a forked child).
Every database wait registers (deadline, connection) in a dict under a lock before it starts
and removes it when it ends — a dict operation and a monotonic clock read, no thread per
statement:

- statements: `before_cursor_execute` registers, `after_cursor_execute` / `handle_error`
  remove; commits and rollbacks (also the pool's rollback on return) are wrapped likewise;
  deadline `db_statement_timeout_ms` + `DEADLINE_MARGIN` (none when the timeout is 0);
- the pool's pre-ping (`dialect.do_ping`, which bypasses the cursor events) and the dialect's
  first-connection queries (`initialize`): they take no server time, so they get the connect
  timeout (`max(2, db_connect_timeout)`, as libpq); connecting itself is bounded by libpq's
  `connect_timeout`.

When a deadline passes, the watchdog shuts the connection's socket down (on a duplicate of its
descriptor, so the descriptor number itself is never touched). The blocked read fails,
psycopg raises OperationalError, SQLAlchemy invalidates the connection (a failed pre-ping
invalidates the pool and reconnects), and the request gets the usual 503. A commit cut this
way has an unknown outcome, like any commit whose answer is lost.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import socket
import threading
import time

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("idp.db")

# Seconds a statement may run past `statement_timeout` before the client gives up on it: the
# server normally cancels it first and answers with an error; this is for a server that can't.
DEADLINE_MARGIN = 2.0

class Watchdog:
    """Cuts the connections whose current database wait has passed its deadline. One per
    process; see the module docstring."""

    def __init__(self):
        self._reset()
        # A forked child (gunicorn worker) inherits neither the thread nor a usable lock.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: dict[int, tuple[float, object]] = {}  # id(conn) -> (deadline, conn)
        self._next_check = math.inf  # when the thread looks next (inf: it sleeps until told)
        self._thread: threading.Thread | None = None

    def start(self, conn, seconds: float) -> None:
        """`conn` (a psycopg connection) begins a wait of at most `seconds`."""
        deadline = time.monotonic() + seconds
        with self._lock:
            self._waiting[id(conn)] = (deadline, conn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-watchdog",
                                                daemon=True)
                self._thread.start()
            if deadline < self._next_check:
                self._wake.notify()

    def stop(self, conn) -> None:
        with self._lock:
            self._waiting.pop(id(conn), None)

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                late = [(k, v) for k, v in self._waiting.items() if v[0] <= now]
                cut = []
                for key, (_, conn) in late:
                    del self._waiting[key]
                    # Under the lock: the owner is still blocked in this wait (it unregisters
                    # before it can close the connection), so the descriptor is still its own.
                    dup = _dup_socket(conn)
                    if dup is not None:
                        cut.append(dup)
                self._next_check = min((d for d, _ in self._waiting.values()),
                                       default=math.inf)
                if not cut:
                    self._wake.wait(None if self._next_check == math.inf
                                    else self._next_check - now)
                    continue
            for dup in cut:
                try:
                    dup.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                finally:
                    dup.close()
            log.warning("database did not answer in time: %d connection(s) closed", len(cut))


def _dup_socket(conn) -> socket.socket | None:
    try:
        return socket.socket(fileno=os.dup(conn.fileno()))
    except Exception:  # noqa: BLE001 - already closed or broken: nothing left to cut
        return None


watchdog = Watchdog()


def _dbapi(connection):
    """The psycopg connection behind a SQLAlchemy Connection or a pool's proxy."""
    if isinstance(connection, Connection):
        connection = connection.connection
    return getattr(connection, "dbapi_connection", connection)


def _bounded(method, seconds: float):
    """`method(connection, ...)` of the dialect, as one wait of at most `seconds`."""
    @functools.wraps(method)
    def bounded(connection, *args, **kw):
        conn = _dbapi(connection)
        watchdog.start(conn, seconds)
        try:
            return method(connection, *args, **kw)
        finally:
            watchdog.stop(conn)
    return bounded


def deadlines(settings: dict) -> tuple[float | None, float]:
    """(seconds for a statement, commit or rollback — None when `db_statement_timeout_ms` is
    0 —, seconds for a pre-ping or the first connection's set-up queries)."""
    ms = settings["db_statement_timeout_ms"]
    return (ms / 1000 + DEADLINE_MARGIN if ms > 0 else None,
            float(max(2, settings["db_connect_timeout"])))


def bound_waits(engine: Engine, statement: float | None, ping: float) -> None:
    """Put every database wait of `engine` under the watchdog (PostgreSQL; others: nothing).
    Call once per engine, before its first connection."""
    if engine.dialect.name != "postgresql":
        return
    dialect = engine.dialect
    dialect.do_ping = _bounded(dialect.do_ping, ping)
    dialect.initialize = _bounded(dialect.initialize, ping)
    if statement is None:
        return
    dialect.do_commit = _bounded(dialect.do_commit, statement)
    dialect.do_rollback = _bounded(dialect.do_rollback, statement)

    @event.listens_for(engine, "before_cursor_execute")
    def _started(conn, cursor, statement_, parameters, context, executemany):
        watchdog.start(cursor.connection, statement)

    @event.listens_for(engine, "after_cursor_execute")
    def _finished(conn, cursor, statement_, parameters, context, executemany):
        watchdog.stop(cursor.connection)

    @event.listens_for(engine, "handle_error")
    def _failed(error):
        # Without an execution context (rare internal statements) the entry stays until the
        # connection's next wait or rollback replaces or removes it, or its deadline passes
        # (a connection closed by then has nothing left to cut).
        cursor = getattr(error.execution_context, "cursor", None)
        if cursor is not None:
            watchdog.stop(cursor.connection)
