"""Schema migrations (Alembic, migrations/) on SQLite and PostgreSQL: an empty database upgrades
to exactly the models; a database at the previous revision, with accounts in it, upgrades in
place and the accounts keep working; every migration downgrades and upgrades again."""
from __future__ import annotations

import contextlib
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from idp import create_app
from idp.accounts import factors
from idp.platform.db import db
from idp.platform.models import Citizen
from tests.support.apps import throwaway_pg_database

FIRST = "d6bc53fddc01"  # the initial schema; later revisions build on it


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path):
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
        else:
            url = stack.enter_context(throwaway_pg_database("idp_migr"))
        app = create_app({"env": "test", "database_url": url, "secret_key": "m" * 40})
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _schema_diff() -> list:
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), db.metadata)


def test_an_empty_database_upgrades_to_exactly_the_models(empty_app):
    with empty_app.app_context():
        upgrade()
        assert _schema_diff() == []


def test_the_previous_schema_with_accounts_upgrades_in_place(empty_app):
    with empty_app.app_context():
        upgrade(revision=FIRST)
        t = time.time()
        db.session.execute(text(
            "INSERT INTO citizens (sub, id_number, full_name, birth_date, gender, phone, email, "
            "password_hash, status, failed_logins, throttled_until, created_at, updated_at) "
            "VALUES ('sub-1', '066200000001', 'Nguyễn Văn A', '2000-01-02', 'male', "
            "'+84941234947', NULL, 'x', 'active', 2, 0, :t, :t)"), {"t": t})
        db.session.commit()
        upgrade()
        assert _schema_diff() == []
        citizen = db.session.scalar(db.select(Citizen).where(Citizen.sub == "sub-1"))
        assert citizen.full_name == "Nguyễn Văn A"
        assert citizen.otp_failures == 0 and citizen.otp_locked_until == 0
        assert citizen.sms_reset_pending is False
        # No second-factor rows yet: the registered phone still receives the codes.
        assert factors.phones(citizen) == ["+84941234947"]


def test_every_migration_downgrades_and_upgrades_again(empty_app):
    with empty_app.app_context():
        upgrade()
        downgrade(revision=FIRST)
        upgrade()
        downgrade(revision="base")
        upgrade()
        assert _schema_diff() == []
