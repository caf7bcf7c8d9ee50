"""The SQL database: one SQLAlchemy instance, engine tuning per dialect, and the error that
means "the database is busy or gone" (rendered as 503, never 500). The client-side deadline
for PostgreSQL is in `dbdeadline.py`."""
from __future__ import annotations

import time

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase

from idp.platform.fileperms import private_sqlite


class Base(DeclarativeBase):
    # Named constraints, so later migrations can alter them (SQLite batch mode needs names).
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


# Objects stay usable after commit without a reload query per attribute: every decision that
# needs fresh state re-queries explicitly (and single-use checks are atomic UPDATEs anyway).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def init_migrations(app, directory: str) -> None:
    """Flask-Migrate (Alembic) on this app, for `idp init`, `flask db` and the tests. Serving
    workers do without (create_app(serving=True)): Alembic, Mako and Pygments are 11 MiB of
    resident memory per worker that a request never uses (issue 14)."""
    from flask_migrate import Migrate
    Migrate(app, db, directory=directory)


def now() -> float:
    """Seconds since the epoch; every stored instant is a float of this (no time zones)."""
    return time.time()


def engine_options(url: str, settings: dict) -> dict:
    if url.startswith("sqlite"):
        # Created 0600 before SQLite opens it, so it (and its -wal/-shm) never is world-readable.
        private_sqlite(url)
        # One writer at a time: wait instead of failing at once with "database is locked".
        return {"connect_args": {"timeout": 15, "check_same_thread": False}}
    # Every wait is bounded, so a database that is gone gives a 503 within seconds:
    # connecting (connect_timeout), getting a pooled connection (pool_timeout), one statement
    # (statement_timeout; a frozen server: dbdeadline.py). pre_ping replaces connections
    # the server closed (a restart), so service resumes by itself when PostgreSQL is back.
    # TCP keepalives and tcp_user_timeout: a database host that vanishes from the network
    # (partition, crash) breaks the connection within ~10 s instead of TCP's minutes.
    connect_args = {"connect_timeout": max(2, settings["db_connect_timeout"]),
                    "application_name": "idp", "keepalives": 1, "keepalives_idle": 10,
                    "keepalives_interval": 3, "keepalives_count": 3,
                    "tcp_user_timeout": 10_000}
    if settings["db_statement_timeout_ms"] > 0:
        connect_args["options"] = f"-c statement_timeout={settings['db_statement_timeout_ms']}"
    return {"pool_pre_ping": True, "pool_size": settings["db_pool_size"],
            "max_overflow": settings["db_max_overflow"],
            "pool_timeout": settings["db_pool_timeout"], "pool_recycle": 1800,
            "connect_args": connect_args}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    module = type(dbapi_connection).__module__
    if "sqlite" not in module:
        return
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: no corruption on power loss, at most the last commits lost; an fsync per
    # commit otherwise dominates every request on the embedded database.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean the database cannot answer now (down, locked, timed out)."""
    return isinstance(exc, (OperationalError,)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
