"""`idp staff add|list|disable|enable|role|reset-totp|unlock`: the staff console's accounts
(issue 17 item 3; idp/accounts/staff.py has the rules). Staff accounts exist only through
these commands: the console itself creates none. `add` and `reset-totp` print the
authenticator secret (otpauth:// URI and base32) once; it is stored sealed and never shown
again. Every change is audited (`staff.created`, ..., actor=cli). A malformed argument is one
line `error: ...`, exit status 2; an action that cannot be done (unknown name, name taken),
exit status 1."""
from __future__ import annotations

import sys

import click

from idp.accounts import staff as ops
from idp.accounts.staff_roles import ROLES
from idp.cli.common import ArgumentError, CliError, OneLineErrors, done, operator_command, table
from idp.cli.common import when as utc


def _checked(check, value):  # noqa: ANN001, ANN202 - a validator of accounts/staff.py
    try:
        return check(value)
    except ops.StaffError as exc:
        raise ArgumentError(str(exc)) from None


def _member(username: str):  # noqa: ANN202
    try:
        return ops.existing(_checked(ops.clean_username, username))
    except ops.StaffError as exc:
        raise CliError(str(exc)) from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    _checked(ops.check_password, password)
    return password


def _secret_lines(member, secret: str) -> str:  # noqa: ANN001
    return (f"authenticator (shown once; scan or type it into the app now):\n"
            f"  otpauth URI: {ops.provisioning_uri(member, secret)}\n"
            f"  secret:      {secret}")


@click.group(help="Staff console accounts (clerks, support staff, administrators).")
def staff():
    pass


@staff.command("add", cls=OneLineErrors,
               help="Create a staff account; prints the authenticator secret once.")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name (shown on decisions).")
@click.option("--role", required=True, type=click.Choice(sorted(ROLES)))
@click.option("--counter", default=None, help="The counter or unit (clerks), e.g. "
                                               "\"Bưu điện tỉnh Đắk Lắk – quầy 2\".")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@operator_command()
def staff_add(username: str, full_name: str, role: str, counter: str | None,
              password_stdin: bool) -> None:
    username = _checked(ops.clean_username, username)
    if ops.find(username) is not None:
        raise CliError(f"staff member {username!r} already exists")
    password = _password(password_stdin)
    try:
        member, secret = ops.create(username, full_name, role, password, counter)
    except ops.StaffError as exc:
        raise ArgumentError(str(exc)) from None
    done("staff.created", f"staff member {username} created ({role})\n"
                          f"{_secret_lines(member, secret)}",
         staff=username, staff_id=member.id, role=role, counter=member.counter)


@staff.command("list", cls=OneLineErrors, help="List staff accounts.")
@operator_command()
def staff_list() -> None:
    rows = [(m.username, m.full_name, m.role, m.status,
             "locked" if ops.locked(m) else "", m.counter or "",
             utc(m.last_login_at) if m.last_login_at else "")
            for m in ops.listing()]
    table(("USERNAME", "NAME", "ROLE", "STATUS", "LOCK", "COUNTER", "LAST_LOGIN"), rows)


def _change(event: str, said: str, member, **detail) -> None:  # noqa: ANN001
    done(event, said, staff=member.username, staff_id=member.id, **detail)


def _status_command(name: str, status: str, help: str) -> None:  # noqa: A002
    """`idp staff disable|enable USERNAME`: set the status (a disabled member's sessions end
    at their next request)."""
    @staff.command(name, cls=OneLineErrors, help=help)
    @click.argument("username")
    @operator_command()
    def command(username: str) -> None:
        member = _member(username)
        ops.set_status(member, status)
        _change(f"staff.{name}d", f"staff member {member.username} {name}d", member)


_status_command("disable", "disabled", "Disable a staff account (signs it out).")
_status_command("enable", "active", "Enable a disabled staff account.")


@staff.command("role", cls=OneLineErrors, help="Change a staff member's role.")
@click.argument("username")
@click.argument("role")
@operator_command()
def staff_role(username: str, role: str) -> None:
    role = _checked(ops.check_role, role)
    member = _member(username)
    old, member.role = member.role, role
    _change("staff.role_changed", f"staff member {member.username}: {old} -> {role}", member,
            old_role=old, role=role)


@staff.command("reset-totp", cls=OneLineErrors,
               help="Give a new authenticator secret (printed once); the old one stops working.")
@click.argument("username")
@operator_command()
def staff_reset_totp(username: str) -> None:
    member = _member(username)
    secret = ops.reset_totp(member)
    _change("staff.totp_reset", f"staff member {member.username}: new authenticator\n"
                                f"{_secret_lines(member, secret)}", member)


@staff.command("unlock", cls=OneLineErrors, help="Clear a staff account's sign-in lock-out.")
@click.argument("username")
@operator_command()
def staff_unlock(username: str) -> None:
    member = _member(username)
    ops.unlock(member)
    _change("staff.unlocked", f"staff member {member.username} unlocked", member)
