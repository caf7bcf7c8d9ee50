"""`idp recovery list|approve|reject`: lost-phone recovery requests, decided after identity
proofing at a service counter (idp/accounts/recovery.py has the rules)."""
from __future__ import annotations

from collections.abc import Callable

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


def _decision(name: str, help: str, operator_help: str,  # noqa: A002
              note_help: str) -> Callable[[Callable[..., None]], click.Command]:
    """`idp recovery approve|reject REQUEST_ID --operator … --note …`: the shared signature."""
    def decorate(f: Callable[..., None]) -> click.Command:
        f = operator_command()(f)
        f = click.option("--note", default=None, help=note_help)(f)
        f = click.option("--operator", default=None, help=operator_help)(f)
        f = click.argument("request_id")(f)
        return recovery.command(name, help=help)(f)
    return decorate


def _decide(decide: Callable[[int, str], None], request_id: str, operator: str | None) -> int:
    """Run one decision on request `request_id` by `operator`; the rule's refusal is the
    command's one-line error."""
    from idp.accounts import recovery as ops
    rid, who = _request_id(request_id), _operator(operator)
    try:
        decide(rid, who)
    except ops.RecoveryError as exc:
        raise CliError(str(exc)) from None
    return rid


@_decision("approve", "Approve a request: the new phone replaces the account's phones; every "
                      "session and token is revoked.",
           "Who proofed the citizen's identity.", "E.g. the counter and the document checked.")
def recovery_approve(request_id: str, operator: str | None, note: str | None) -> None:
    from idp.accounts import recovery as ops
    rid = _decide(lambda rid, who: ops.approve(rid, who, note), request_id, operator)
    click.echo(f"request {rid}: approved (old and new phones notified)")


@_decision("reject", "Reject a request (the reason is kept and the citizen notified).",
           "Who decided.", "The reason (required).")
def recovery_reject(request_id: str, operator: str | None, note: str | None) -> None:
    from idp.accounts import recovery as ops
    reason = (note or "").strip()
    if not reason:  # after the request id and the operator, as every command checks them
        _request_id(request_id)
        _operator(operator)
        raise CliError("--note: the reason for the rejection is required")
    rid = _decide(lambda rid, who: ops.reject(rid, who, reason), request_id, operator)
    click.echo(f"request {rid}: rejected")
