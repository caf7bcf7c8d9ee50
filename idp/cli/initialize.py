"""`idp init [--demo]`: create or upgrade the schema, create the first signing keys, and
(development only) load the demo clients, citizens and staff members."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from idp.cli.clients import import_clients
from idp.cli.common import CliError, current_settings, operator_command
from idp.cli.users import import_citizens
from idp.platform import schema

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEMO_CLIENTS = DATA_DIR / "demo_clients.json"
DEMO_CITIZENS = DATA_DIR / "demo_citizens.jsonl"
DEMO_STAFF = DATA_DIR / "demo_staff.json"


def _upgrade_schema() -> str:
    from alembic.util import CommandError
    before, heads = schema.revisions()
    if before == heads:
        return f"schema: up to date ({', '.join(sorted(heads))})"
    if not before and schema.has_unmanaged_tables():
        raise CliError("the database has tables but no migration history; refusing to touch "
                       "it (use an empty database, or `flask --app idp:create_app db stamp` "
                       "if it really matches the current models)")
    try:
        schema.upgrade_to_head()
    except CommandError as exc:
        raise CliError(f"migration failed: {exc}") from None
    after, _ = schema.revisions()
    origin = ", ".join(sorted(before)) or "empty database"
    return f"schema: upgraded {origin} -> {', '.join(sorted(after))}"


def _refuse_demo_in_production() -> None:
    """The demo clients and citizens have published secrets and passwords: never load them
    into a production database. Checked before anything is created or written."""
    if current_settings()["env"] == "production":
        raise CliError("`idp init --demo` is refused with IDP_ENV=production (the demo clients "
                       "and citizens have published secrets); run `idp init` without --demo")


@click.command(help="Create or upgrade the schema; create the first signing keys if none.")
@click.option("--demo", is_flag=True, help="Also load the demo clients and citizens "
                                           "(refused in production).")
def init(demo: bool):
    if demo:
        _refuse_demo_in_production()
    _init(demo)


@operator_command(needs_schema=False)
def _init(demo: bool):
    from idp.platform.keys import ensure_keys, load_kek
    click.echo(_upgrade_schema())
    kek = load_kek(current_app.config["IDP"], create=True)
    created = ensure_keys(kek)
    click.echo(f"signing keys: created {', '.join(created)}" if created
               else "signing keys: present")
    if demo:
        for line in import_clients(str(DEMO_CLIENTS), skip_existing=True):
            click.echo(line)
        added, skipped = import_citizens(str(DEMO_CITIZENS), skip_existing=True)
        click.echo(f"demo citizens: {added} added, {skipped} already present")
        click.echo(_load_demo_staff())


def _load_demo_staff() -> str:
    """The staff console's demo members (a clerk, a support officer, an administrator) with
    their published passwords and authenticator secrets; one already there is kept."""
    import json

    from idp.accounts import staff
    from idp.platform.db import db
    added = kept = 0
    for row in json.loads(DEMO_STAFF.read_text(encoding="utf-8")):
        if staff.find(row["username"]) is not None:
            kept += 1
            continue
        staff.create(row["username"], row["full_name"], row["role"], row["password"],
                     row["counter"], totp_secret=row["totp_secret"])
        added += 1
    db.session.commit()
    return f"demo staff: {added} added, {kept} already present"
