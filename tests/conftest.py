"""Shared fixtures. Every app-level test runs on SQLite and, when reachable (always under CI),
on PostgreSQL (CONTRACT.md §1: IDP_TEST_DATABASE_URL)."""
from __future__ import annotations

import os
import uuid

import pytest

# Per-session scratch folders so tests never touch the developer's instance/ or keys/.
_SCRATCH = f"/tmp/idp-tests-{os.getpid()}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
# Set, not setdefault: xdist workers inherit the controller's environment, and each worker
# needs its own instance folder (the SMS outbox lives there).
os.environ["IDP_INSTANCE_DIR"] = _SCRATCH + "/instance"
os.environ["IDP_KEK_FILE"] = _SCRATCH + "/kek.key"

from idp.platform.db import db  # noqa: E402

# The helpers behind these fixtures live in tests/support (tests import them from there, never
# from this file); re-exported names stay importable for older code.
from tests.support.apps import (  # noqa: E402
    PG_URL,
    REDIS_URL,
    TEST_SETTINGS,
    free_port,
    make_app,
    postgres_available,
    require_redis,
    throwaway_pg_database,
)
from tests.support.live import serve_idp  # noqa: E402

__all__ = ["PG_URL", "REDIS_URL", "TEST_SETTINGS", "free_port", "make_app",
           "postgres_available", "require_redis", "throwaway_pg_database"]


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


@pytest.fixture
def live_idp(database_url):
    """The IdP on a real HTTP server (loopback, random port); yields (issuer, app)."""
    with serve_idp(database_url) as served:
        yield served
