"""The client-side database deadline (idp/dbdeadline.py, `Watchdog`): a statement, a commit or a
pool pre-ping that the server does not answer in time has its connection cut, fails with
OperationalError (a 503 in the app), and the engine carries on with a new connection. The
full fault (a SIGSTOPped PostgreSQL behind two nodes) is tests/system/test_faults.py; here
the shared PostgreSQL with tiny deadlines, and a relay in front of it that can "freeze"."""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from idp.platform.db import engine_options
from idp.platform.dbdeadline import bound_waits, deadlines, watchdog


def pg_engine(url: str, statement: float | None, ping: float, **kw):
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                           pool_pre_ping=True, connect_args={"connect_timeout": 3}, **kw)
    bound_waits(engine, statement, ping)
    return engine


def timed(fn):
    start = time.monotonic()
    try:
        fn()
    except DBAPIError as exc:
        return exc, time.monotonic() - start
    raise AssertionError("no error")


class FreezableRelay:
    """TCP relay to PostgreSQL. `frozen`: bytes already sent are held (the server never
    answers, the connection stays open), new connections are closed at once."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.frozen = False
        self.thawed = threading.Event()
        self.thawed.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self):
        self.frozen = True
        self.thawed.clear()

    def thaw(self):
        self.frozen = False
        self.thawed.set()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.frozen:
                client.close()
                continue
            server = socket.create_connection(self.upstream, timeout=3)
            server.settimeout(None)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while data := src.recv(65536):
                self.thawed.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):  # wakes the other direction's recv, which ends too
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.thaw()
        self.listener.close()


@pytest.fixture
def relay(pg_database):
    from urllib.parse import urlsplit
    parts = urlsplit(pg_database)
    relay = FreezableRelay(parts.hostname, parts.port or 5432)
    relay.url = pg_database.replace(parts.netloc.rpartition("@")[2], f"127.0.0.1:{relay.port}")
    yield relay
    relay.close()


def test_a_statement_past_its_deadline_is_cut_and_the_engine_carries_on(pg_database):
    # No statement_timeout on the server here: only the client's deadline can end it.
    engine = pg_engine(pg_database, statement=0.3, ping=0.3)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1

        def slow():
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_sleep(2)"))
        exc, took = timed(slow)
        assert isinstance(exc, OperationalError) and exc.connection_invalidated
        assert 0.3 <= took < 1.5, took
        with engine.connect() as conn:  # a new connection, at once
            assert conn.execute(text("SELECT 2")).scalar() == 2
        assert not watchdog._waiting
    finally:
        engine.dispose()


def test_a_frozen_server_holds_neither_a_pre_ping_nor_a_commit(relay):
    engine = pg_engine(relay.url, statement=0.5, ping=0.2)
    try:
        with engine.connect() as conn:  # one pooled connection, pinged on its next checkout
            conn.execute(text("SELECT 1"))
        relay.freeze()

        def checkout():
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        exc, took = timed(checkout)  # the ping is cut; reconnecting is refused
        assert isinstance(exc, OperationalError)
        assert 0.2 <= took < 1.2, took

        relay.thaw()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # opens a transaction
            relay.freeze()
            exc, took = timed(conn.commit)
            assert isinstance(exc, OperationalError) and exc.connection_invalidated
            assert 0.5 <= took < 1.5, took
        relay.thaw()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 3")).scalar() == 3
        assert not watchdog._waiting
    finally:
        engine.dispose()


def test_the_app_bounds_postgresql_only_and_follows_statement_timeout(tmp_path):
    settings = {"db_statement_timeout_ms": 5000, "db_connect_timeout": 3}
    assert deadlines(settings) == (7.0, 3.0)
    assert deadlines({"db_statement_timeout_ms": 0, "db_connect_timeout": 1}) == (None, 2.0)
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    engine = create_engine(url, **engine_options(url, {}))
    bound_waits(engine, 1.0, 1.0)
    assert not hasattr(engine.dialect.do_ping, "__wrapped__")  # SQLite: nothing
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    bound_waits(engine, None, 2.0)  # statement_timeout 0: no limit, pings still bounded
    assert hasattr(engine.dialect.do_ping, "__wrapped__")
    assert not hasattr(engine.dialect.do_commit, "__wrapped__")


def test_a_forked_child_gets_its_own_watchdog():
    class Conn:
        def fileno(self):
            raise OSError("not a connection")
    parent = Conn()
    watchdog.start(parent, 60)
    try:
        pid = os.fork()
        if pid == 0:  # the child: nothing inherited, and a new thread on first use
            ok = watchdog._thread is None and not watchdog._waiting
            child = Conn()
            watchdog.start(child, 0.05)
            time.sleep(0.3)
            ok = ok and watchdog._thread.is_alive() and not watchdog._waiting
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert id(parent) in watchdog._waiting
    finally:
        watchdog.stop(parent)
