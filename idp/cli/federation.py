"""`idp federation list|unlink`: the operators' view of the VNeID identities linked to
accounts (issue 16 item 3; accounts/federation.py has the rules, this module only parses and
prints). Registered on the `idp` group by idp/cli/__init__.py.

ID numbers are masked in listings. Unlinking is audited with the operator's name and, as on
the account page, told to the account's phones by SMS in the same transaction. Bad input is
one line `error: ...` on stderr: exit status 2 for a malformed argument, 1 for an action that
cannot be done (no such account, no such link).
"""
from __future__ import annotations

import getpass

import click
from sqlalchemy import select

from idp.accounts import federation, notices
from idp.accounts.factors import phones
from idp.accounts.validation import looks_like_id_number
from idp.cli.common import ArgumentError, CliError, OneLineErrors, operator_command, table
from idp.cli.complaints import _local
from idp.platform import audit
from idp.platform.audit import mask_id_number
from idp.platform.db import db
from idp.platform.models import Citizen, FederatedIdentity


def _id_number(ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not looks_like_id_number(value):
        raise click.BadParameter("expected a CCCD (12 digits) or CMND (9 digits) number")
    return value


def _account(id_number: str) -> Citizen:
    citizen = db.session.scalar(select(Citizen).where(Citizen.id_number == id_number))
    if citizen is None:
        raise CliError(f"no account with ID number {mask_id_number(id_number)}")
    return citizen


@click.group(help="Accounts linked to VNeID (\"Đăng nhập bằng VNeID\"): list and unlink.")
def federation_group():
    pass


@federation_group.command("list", cls=OneLineErrors,
                          help="List linked identities (ID numbers masked), newest first; "
                               "one account's with ID_NUMBER.")
@click.argument("id_number", required=False, callback=_id_number)
@operator_command()
def federation_list(id_number: str | None):
    query = select(FederatedIdentity, Citizen).join(
        Citizen, Citizen.id == FederatedIdentity.citizen_id).order_by(
        FederatedIdentity.id.desc())
    if id_number is not None:
        query = query.where(FederatedIdentity.citizen_id == _account(id_number).id)
    rows = [(str(link.id), mask_id_number(citizen.id_number), link.provider,
             mask_id_number(link.pid), str(link.account_level or "-"), link.linked_by,
             _local(link.created_at), _local(link.last_login_at))
            for link, citizen in db.session.execute(query.limit(1000)).all()]
    table(("ID", "ACCOUNT", "PROVIDER", "PID", "LEVEL", "LINKED_BY", "LINKED", "LAST_LOGIN"),
          rows)


@federation_group.command("unlink", cls=OneLineErrors,
                          help="Remove the link LINK_ID (from `idp federation list`) of the "
                               "account ID_NUMBER; the account's phones are told by SMS.")
@click.argument("id_number", callback=_id_number)
@click.argument("link_id", type=click.IntRange(min=1))
@click.option("--operator", default=None, help="Who decided (default: your login name).")
@operator_command()
def federation_unlink(id_number: str, link_id: int, operator: str | None):
    who = " ".join((operator if operator is not None else getpass.getuser()).split())
    if not who or len(who) > 100:
        raise ArgumentError("--operator: the operator's name (1-100 characters) is required")
    citizen = _account(id_number)
    reserved = notices.reserve(phones(citizen), citizen.id, "vneid_unlinked")
    row = federation.unlink(citizen, link_id)
    if row is None:
        db.session.rollback()
        raise CliError(f"the account has no link {link_id}")
    notices.stage(reserved, federation.notice_text("vneid_unlinked"), "vneid_unlinked",
                  citizen.id)
    audit.record("federation.unlinked", citizen_id=citizen.id, provider=row.provider,
                 operator=who)  # commits the removal and its notices
    click.echo(f"unlinked {row.provider} from {mask_id_number(citizen.id_number)}")
