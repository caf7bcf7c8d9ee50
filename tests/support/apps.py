"""Apps for the tests: an IdP on fresh, seeded tables (`make_app`), the test settings, the
PostgreSQL and Redis servers when reachable (skipped otherwise, failed under CI=true), a free
loopback port, and the keys of an app's ephemeral store.

tests/conftest.py sets IDP_INSTANCE_DIR and IDP_KEK_FILE before anything imports the app; its
fixtures (`app`, `client`, `database_url`, `live_idp` …) are built from these."""
from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from idp import create_app
from idp.platform.db import db
from tests.support.people import ISSUER, seed

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_pg_state: dict = {}
_redis_state: dict = {}

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
def throwaway_pg_database(prefix: str = "idp_test") -> Iterator[str]:
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


def ephemeral_keys(app, prefix: str) -> list[str]:
    """Keys of the app's ephemeral store that start with `prefix` (either implementation)."""
    from sqlalchemy import select

    from idp.platform.models import Ephemeral
    from idp.platform.store import RedisStore
    store = app.extensions["idp.store"]
    with app.app_context():
        if isinstance(store, RedisStore):
            return [k[len(store.prefix):]
                    for k in store.client.scan_iter(store.prefix + prefix + "*")]
        return list(db.session.scalars(
            select(Ephemeral.key).where(Ephemeral.key.like(prefix + "%"))))
