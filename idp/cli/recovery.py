"""`idp recovery list|approve|reject`: lost-phone recovery requests, decided after identity
proofing at a service counter (idp/accounts/recovery.py has the rules)."""
from __future__ import annotations

import click

from idp.accounts import citizen_admin
from idp.cli.common import CliError, operator_command, table, when


@click.group(help="Lost-phone recovery requests (approve after identity proofing at a "
                  "service counter).")
def recovery():
    pass


def _request_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise CliError(f"request id must be a number, got {value!r}")
    return int(value)


def _operator(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise CliError("--operator: the operator's name (1-100 characters) is required")
    return name


@recovery.command("list", help="List recovery requests (ID numbers and phones masked).")
@click.option("--status", default="pending", show_default=True,
              type=click.Choice(["pending", "approved", "rejected", "all"]))
@click.option("--id-number", default=None, help="Only the requests of this ID number.")
@operator_command()
def recovery_list(status: str, id_number: str | None):
    from idp.platform.audit import mask_id_number, mask_phone
    rows = [(str(r.id), when(r.created_at), r.status, mask_id_number(number),
             mask_phone(r.new_phone), r.decided_by or "", (r.note or "").replace("\n", " "))
            for r, number in citizen_admin.recovery_requests(status, id_number)]
    table(("ID", "CREATED", "STATUS", "ID_NUMBER", "NEW_PHONE", "DECIDED_BY", "NOTE"), rows)


@recovery.command("approve", help="Approve a request: the new phone replaces the account's "
                                  "phones; every session and token is revoked.")
@click.argument("request_id")
@click.option("--operator", default=None, help="Who proofed the citizen's identity.")
@click.option("--note", default=None, help="E.g. the counter and the document checked.")
@operator_command()
def recovery_approve(request_id: str, operator: str | None, note: str | None):
    from idp.accounts import recovery as ops
    rid, who = _request_id(request_id), _operator(operator)
    try:
        ops.approve(rid, who, note)
    except ops.RecoveryError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"request {rid}: approved (old and new phones notified)")


@recovery.command("reject", help="Reject a request (the reason is kept and the citizen "
                                 "notified).")
@click.argument("request_id")
@click.option("--operator", default=None, help="Who decided.")
@click.option("--note", default=None, help="The reason (required).")
@operator_command()
def recovery_reject(request_id: str, operator: str | None, note: str | None):
    from idp.accounts import recovery as ops
    rid, who = _request_id(request_id), _operator(operator)
    if not (note or "").strip():
        raise CliError("--note: the reason for the rejection is required")
    try:
        ops.reject(rid, who, note.strip())
    except ops.RecoveryError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"request {rid}: rejected")
