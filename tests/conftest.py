"""Shared fixtures. Every app-level test runs on SQLite and, when reachable (always under CI),
on PostgreSQL (CONTRACT.md §1: IDP_TEST_DATABASE_URL)."""
from __future__ import annotations

import contextlib
import os
import uuid

import pytest

# Per-session scratch folders so tests never touch the developer's instance/ or keys/.
_SCRATCH = f"/tmp/idp-tests-{os.getpid()}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
# Set, not setdefault: xdist workers inherit the controller's environment, and each worker
# needs its own instance folder (the SMS outbox lives there).
os.environ["IDP_INSTANCE_DIR"] = _SCRATCH + "/instance"
os.environ["IDP_KEK_FILE"] = _SCRATCH + "/kek.key"

from sqlalchemy import create_engine, text  # noqa: E402

from idp import create_app  # noqa: E402
from idp.platform.db import db  # noqa: E402

from .helpers import ISSUER, seed  # noqa: E402

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_pg_state: dict = {}
_redis_state: dict = {}


def _pg_admin_url() -> str:
    return PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)


def postgres_available() -> bool:
    if "ok" not in _pg_state:
        try:
            engine = create_engine(_pg_admin_url(), connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _pg_state["ok"] = True
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            _pg_state["ok"] = False
            _pg_state["why"] = str(exc).splitlines()[0]
    return _pg_state["ok"]


@contextlib.contextmanager
def throwaway_pg_database(prefix: str = "idp_test"):
    """A new PostgreSQL database, dropped afterwards; skips (fails under CI) when the server
    is not reachable."""
    if not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {_pg_state.get('why')}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {_pg_state.get('why')}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_URL.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def require_redis() -> str:
    """The test Redis URL; skips (fails under CI) when the server is not reachable."""
    if "ok" not in _redis_state:
        import redis
        try:
            redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
            _redis_state["ok"] = True
        except redis.RedisError as exc:
            _redis_state["ok"] = False
            _redis_state["why"] = str(exc).splitlines()[0]
    if not _redis_state["ok"]:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI: {_redis_state.get('why')}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {_redis_state.get('why')}")
    return REDIS_URL


@pytest.fixture(scope="session")
def pg_database():
    """One throwaway database per xdist worker, created once, dropped at the end."""
    with throwaway_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql", "postgresql+redis"])
def database_url(request, tmp_path, monkeypatch):
    """Every app-level test runs three times: SQLite with the SQL ephemeral store (the embedded
    default), PostgreSQL with the SQL store, and PostgreSQL with the Redis store (production).
    Redis keys get a per-test prefix, so tests never see each other's state."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    if request.param == "postgresql+redis":
        monkeypatch.setenv("IDP_REDIS_URL", require_redis())
        monkeypatch.setenv("IDP_REDIS_PREFIX", f"idptest:{uuid.uuid4().hex[:12]}:")
    return request.getfixturevalue("pg_database")


# Request-rate limits off: every test client is 127.0.0.1 (test_ratelimit.py tests them).
TEST_SETTINGS = {"env": "test", "test_hooks": 1, "issuer": ISSUER,
                 "secret_key": "t" * 40, "rate_limit_pages": "", "rate_limit_captcha": ""}


def make_app(database_url: str, **overrides):
    """An app on fresh, seeded tables."""
    app = create_app({**TEST_SETTINGS, "database_url": database_url, **overrides})
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed(app)
    return app


@pytest.fixture(autouse=True)
def own_instance_dir(tmp_path, monkeypatch):
    """Each test's apps get an instance folder of their own (the SMS outbox lives there), so a
    test can assert what was — and was not — sent. Module-scoped apps keep the worker's."""
    monkeypatch.setenv("IDP_INSTANCE_DIR", str(tmp_path / "instance"))


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sqlite_app(tmp_path):
    """For tests whose subject does not depend on the database engine."""
    app = make_app(f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    yield app
    with app.app_context():
        db.engine.dispose()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_idp(database_url):
    """The IdP on a real HTTP server (loopback, random port); yields (issuer, app)."""
    import threading
    from werkzeug.serving import make_server
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    # A served IdP delivers its outbox (reset codes, notices, back-channel logouts) with a
    # worker thread, as under ./run (idp/outbox.py).
    app = make_app(database_url, issuer=issuer, outbox_inline_worker="on",
                   outbox_poll_interval=0.1)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield issuer, app
    server.shutdown()
    thread.join(timeout=5)
    if "idp.outbox.inline" in app.extensions:
        app.extensions["idp.outbox.inline"].stop.set()
