"""`idp complaints list|show|resolve`: the operators' side of "khiếu nại khi không sở hữu tài
khoản" (idp/complaints.py has the rules; this module only parses and prints). Registered on
the `idp` group by idp/cli/__init__.py.

ID numbers and phones are masked in every listing; `show --full` prints them in clear (the
operator needs the contact number to call the complainant) and the viewing is audited. Bad
input is one line `error: ...` on stderr: exit status 2 for a malformed argument or option,
1 for an action that cannot be done (unknown complaint, already resolved, ...).
"""
from __future__ import annotations

import datetime as dt
import getpass

import click

from idp.accounts import complaints as ops
from idp.cli.common import VN_TIME, ArgumentError, CliError, OneLineErrors, operator_command, table
from idp.platform.audit import mask_id_number, mask_phone


def _local(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, VN_TIME).strftime("%d/%m/%Y %H:%M")


def _national(phone: str | None) -> str:
    return "0" + phone[3:] if phone and phone.startswith("+84") else (phone or "")


def _key(ctx, param, value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 20 or not value.isascii() or not value.replace("-", "").isalnum():
        raise click.BadParameter("expected a complaint number (e.g. 12) or a reference "
                                 "(e.g. KN-7F3K9Q2M)")
    return value


def _operator(name: str | None) -> str:
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = ""
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise ArgumentError("--operator: the operator's name (1-100 characters) is required")
    return name


def _failed(exc: ops.ComplaintError) -> CliError:
    return CliError(str(exc))


@click.group(help="Complaints \"this account is not mine\" (khiếu nại), filed after "
                  "registration proved a phone of the ID number; resolve after an in-person "
                  "check.")
def complaints():
    pass


@complaints.command("list", cls=OneLineErrors,
                    help="List complaints (ID numbers and phones masked), oldest first, times "
                         "in Vietnam time.")
@click.option("--status", default="open", show_default=True,
              type=click.Choice(["open", "resolved", "all"]))
@operator_command()
def complaints_list(status: str):
    rows = []
    for c, owner in ops.listing(status):
        account = "-" if owner is None else (
            f"{owner.status}{', disputed' if owner.disputed_at else ''}")
        rows.append((str(c.id), c.reference, _local(c.created_at), c.status,
                     mask_id_number(c.id_number), mask_phone(c.phone), account,
                     c.outcome or "", c.resolved_by or ""))
    table(("ID", "REFERENCE", "FILED", "STATUS", "ID_NUMBER", "PHONE", "ACCOUNT", "OUTCOME",
            "RESOLVED_BY"), rows)


@complaints.command("show", cls=OneLineErrors,
                    help="Show one complaint (by number or reference) and the account's state.")
@click.argument("key", callback=_key)
@click.option("--full", is_flag=True,
              help="Print the ID number, phones and e-mail in clear (audited).")
@click.option("--operator", default=None, help="Who is looking (default: your login name).")
@operator_command()
def complaints_show(key: str, full: bool, operator: str | None):
    from idp.accounts import citizen_admin
    from idp.accounts.factors import phones
    who = _operator(operator)
    try:
        c = ops.find(key)
    except ops.ComplaintError as exc:
        raise _failed(exc) from None
    owner = citizen_admin.get(c.citizen_id) if c.citizen_id else None
    number = (lambda v: v or "") if full else mask_id_number
    phone = (lambda v: _national(v)) if full else mask_phone
    lines = [
        ("complaint", f"{c.id} ({c.reference})"),
        ("status", c.status + (f", {c.outcome}" if c.outcome else "")),
        ("filed", _local(c.created_at)),
        ("id number", number(c.id_number)),
        ("complainant", f"{c.full_name}, born {c.birth_date}" if full
         else "(name and birth date: --full)"),
        ("contact phone", phone(c.phone) + " (proven by SMS code)"),
        ("e-mail", (c.email or "-") if full else ("given" if c.email else "-")),
        ("description", " ".join(c.description.split())),
    ]
    if owner is None:
        lines.append(("account", "no longer exists"))
    else:
        lines += [
            ("account", f"{owner.id} ({owner.status})"),
            ("account phones", ", ".join(phone(p) for p in phones(owner))),
            ("disputed since", _local(owner.disputed_at) or "-"),
            ("open complaints", str(ops.open_count(owner.id))),
        ]
    if c.status == "resolved":
        lines += [("resolved", f"{_local(c.resolved_at)} by {c.resolved_by}"),
                  ("note", c.note or "")]
    ops.viewed(c, who, full)
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"{k.ljust(width)}  {v}")


@complaints.command("resolve", cls=OneLineErrors,
                    help="Resolve an open complaint after checking identity documents in "
                         "person. owner_confirmed / rejected: nothing changes; "
                         "account_disabled: the account is disabled and signed out "
                         "everywhere; transferred: the complainant's proven phone replaces "
                         "the account's factors, the password must be reset with \"Quên mật "
                         "khẩu\", every session ends.")
@click.argument("key", callback=_key)
@click.option("--outcome", required=True, type=click.Choice(list(ops.OUTCOMES)))
@click.option("--note", required=True, help="What was checked and decided (required).")
@click.option("--operator", default=None,
              help="Who checked and decided (default: your login name).")
@operator_command()
def complaints_resolve(key: str, outcome: str, note: str, operator: str | None):
    who = _operator(operator)
    try:
        c = ops.resolve(key, outcome, note, who)
    except ops.ComplaintError as exc:
        raise _failed(exc) from None
    said = {"owner_confirmed": "the account is unchanged",
            "rejected": "the account is unchanged",
            "account_disabled": "the account is disabled and signed out everywhere",
            "transferred": "the account now has the complainant's phone only; they set a "
                           "password with \"Quên mật khẩu\""}[outcome]
    click.echo(f"complaint {c.id} ({c.reference}): resolved, {outcome}; {said}")
