"""Operator CLI, console script `idp` (CONTRACT.md §3); also `flask --app idp:create_app idp`.

Bad input never ends in a traceback: every error is one line, `error: FILE:LINE: field: message`
for files, and exit status 1 (a malformed argument of `audit list`: one line, exit status 2).
Imports validate everything first and then write in one transaction, so a failed import leaves
the database as it was. Commands print their own output: the app's request-log handler is set
aside while they run (logs.cli_scope).

One module per command group (idp/cli/<group>.py); what they share is idp/cli/common.py. This
module only defines the `idp` group and adds the others to it.
"""
from __future__ import annotations

import logging

import click
from flask import Flask

from idp.cli.audit import audit
from idp.cli.clients import clients
from idp.cli.complaints import complaints
from idp.cli.demo import demo
from idp.cli.federation import federation_group
from idp.cli.initialize import init
from idp.cli.keys import keys
from idp.cli.pki import pki
from idp.cli.recovery import recovery
from idp.cli.staff import staff
from idp.cli.users import users
from idp.cli.worker import worker


@click.group(help="Operator commands of the identity provider (CONTRACT.md §3).")
def main():
    # Alembic's env.py leaves logging alone once the root logger has a handler.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


for _command in (init, keys, clients, users, recovery, audit, worker, demo, complaints, pki,
                 staff):
    main.add_command(_command)
main.add_command(federation_group, "federation")


def register_flask_commands(app: Flask) -> None:
    """The same commands as `flask --app idp:create_app idp ...`, sharing that app."""
    app.cli.add_command(main, "idp")
