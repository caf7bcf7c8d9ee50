"""`idp audit list`: the audit trail, newest first, ID numbers and phones masked; a malformed
argument is one line and exit status 2."""
from __future__ import annotations

import datetime as dt
import json
import re

import click

from idp.accounts import citizen_admin
from idp.cli.common import VN_TIME, CliError, OneLineErrors, masked, operator_command
from idp.platform import audit_trail

_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _since(ctx, param, value: str | None) -> float | None:
    """`24h`, `7d`, `30m` ... before now, or an ISO 8601 date/time (Vietnam time unless it has
    an offset) -> epoch seconds."""
    if value is None:
        return None
    text = value.strip()
    if m := _DURATION.fullmatch(text):
        return dt.datetime.now(dt.UTC).timestamp() - int(m[1]) * _SECONDS[m[2]]
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("expected a duration (30m, 24h, 7d, 2w) or an ISO 8601 "
                                 "date/time (2025-01-31, 2025-01-31T08:00, "
                                 "2025-01-31T08:00+07:00)") from None
    return (when if when.tzinfo else when.replace(tzinfo=VN_TIME)).timestamp()


def _id_number_option(ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit() and len(value) in (9, 12)):
        # Never echo the value: it may be someone's ID number.
        raise click.BadParameter("expected a 9-digit CMND or 12-digit CCCD number")
    return value


def _limit(ctx, param, value: str) -> int:
    value = value.strip()
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 100_000):
        raise click.BadParameter(f"expected a whole number from 1 to 100000, got {value[:20]!r}")
    return int(value)


def _detail(raw: str) -> dict:
    try:
        detail = json.loads(raw or "{}")
    except ValueError:
        detail = {"raw": raw}
    return masked(detail if isinstance(detail, dict) else {"value": detail})


def _local_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, VN_TIME).isoformat(sep=" ", timespec="seconds")


def _detail_text(detail: dict) -> str:
    def show(v):
        if isinstance(v, str) and v and not any(c.isspace() for c in v) and '"' not in v:
            return v
        return json.dumps(v, ensure_ascii=False)
    return " ".join(f"{k}={show(v)}" for k, v in sorted(detail.items()))


@click.group(help="The audit trail (ID numbers and phones masked).")
def audit():
    pass


@audit.command("list", cls=OneLineErrors,
               help="List audit events, newest first, times in Vietnam time (+07:00).")
@click.option("--event", "prefix", default=None, metavar="PREFIX",
              help="Only events whose name starts with PREFIX (e.g. login. or otp.sent).")
@click.option("--citizen", "id_number", default=None, metavar="ID_NUMBER",
              callback=_id_number_option, help="Only the events of this citizen.")
@click.option("--client", "client_id", default=None, metavar="CLIENT_ID",
              help="Only the events of this client.")
@click.option("--since", default=None, callback=_since, metavar="WHEN",
              help="ISO 8601 date/time (Vietnam time unless an offset is given) or a "
                   "duration before now: 30m, 24h, 7d, 2w.")
@click.option("--limit", default="100", show_default=True, callback=_limit, metavar="N",
              help="At most this many events (1-100000).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line instead of text.")
@operator_command()
def audit_list(prefix: str | None, id_number: str | None, client_id: str | None,
               since: float | None, limit: int, as_json: bool):
    from idp.platform.audit import mask_id_number
    citizen_id = None
    if id_number is not None:
        citizen_id = citizen_admin.id_of(id_number)
        if citizen_id is None:
            raise CliError(f"no citizen with ID number {mask_id_number(id_number)}")
    for event, number in audit_trail.events(citizen_id=citizen_id, prefix=prefix,
                                            client_id=client_id, since=since, limit=limit):
        detail = _detail(event.detail_json)
        masked_number = mask_id_number(number) if number else None
        if as_json:
            click.echo(json.dumps({
                "id": event.id, "at": dt.datetime.fromtimestamp(event.at, VN_TIME).isoformat(
                    timespec="seconds"),
                "event": event.event, "citizen_id": event.citizen_id,
                "id_number": masked_number, "client_id": masked(event.client_id),
                "ip": event.ip, "detail": detail}, ensure_ascii=False))
            continue
        who = (f"citizen={event.citizen_id} ({masked_number})" if masked_number
               else f"citizen={event.citizen_id if event.citizen_id is not None else '-'}")
        line = "  ".join([_local_time(event.at), event.event, who,
                          f"client={event.client_id or '-'}", f"ip={event.ip or '-'}",
                          _detail_text(detail)])
        click.echo(masked(line).rstrip())
