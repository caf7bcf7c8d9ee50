"""Where the database schema stands against migrations/ (Alembic), for `idp init` and the
check every operator command makes before touching data."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import inspect

from idp.platform.db import db


def _alembic_config():
    return current_app.extensions["migrate"].migrate.get_config()


def revisions() -> tuple[set[str], set[str]]:
    """(revisions the database is at, head revisions of migrations/)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, heads


def has_unmanaged_tables() -> bool:
    """True when the database has tables besides Alembic's own (a schema not made by us)."""
    return bool(set(inspect(db.engine).get_table_names()) - {"alembic_version"})


def upgrade_to_head() -> None:
    """Run the migrations (alembic.util.CommandError on failure)."""
    from alembic import command
    command.upgrade(_alembic_config(), "head")
