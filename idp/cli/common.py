"""What every command group shares: one-line errors, the app context an operator command runs
in, and the plain-text table and time formats of the output (CONTRACT.md §3)."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import Flask, current_app, has_app_context
from flask.cli import ScriptInfo
from sqlalchemy.exc import SQLAlchemyError

from idp.platform import schema, transaction
from idp.platform.config import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

VN_TIME = dt.timezone(dt.timedelta(hours=7), "+07:00")  # Asia/Ho_Chi_Minh, no DST since 1975

# A kid (RFC 7638 thumbprint, base64url) or client_id may start with "-": take it as the
# argument instead of an unknown option.
ARG_MAY_START_WITH_DASH = {"ignore_unknown_options": True}


class CliError(click.ClickException):
    """Printed as one line `error: ...` on stderr, exit status 1."""
    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class InputError(CliError):
    """A bad input file: `FILE:LINE: field: message`, so the operator can go to the line."""

    def __init__(self, path: Any, line: int | None, message: str, field: str | None = None):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class ArgumentError(click.UsageError):
    """A bad argument: one line `error: ...` on stderr, exit status 2, no usage text."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineErrors(click.Command):
    """Reports click's own usage errors (unknown option, missing value, bad number) as one
    line too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except ArgumentError:
            raise
        except click.UsageError as exc:
            raise ArgumentError(exc.format_message(), ctx) from None


# --- Application, database and schema ---------------------------------------------------------

def current_settings() -> dict:
    """The IdP's settings without building an app when none is running (a check that must
    come before anything is created); a bad configuration is one line."""
    if has_app_context() or click.get_current_context().find_object(ScriptInfo) is not None:
        return load_app().config["IDP"]
    from idp.platform.config import load_settings
    try:
        return load_settings()
    except ConfigError as exc:
        raise CliError(f"configuration: {exc}") from None


def load_app() -> Flask:
    """The app of `flask ... idp` or of an enclosing context, else a new one: a bad
    configuration is one line, not a traceback."""
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    info = click.get_current_context().find_object(ScriptInfo)  # run as `flask ... idp`
    from idp.platform.keys import KeyError_
    try:
        if info is not None:
            return info.load_app()
        from idp import create_app
        return create_app()
    except (ConfigError, KeyError_) as exc:
        raise CliError(f"configuration: {exc}") from None


def _db_error(exc: SQLAlchemyError) -> CliError:
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return CliError(f"the database has no schema yet: run `idp init` ({text})")
    return CliError(f"database unavailable: {text}")


def require_schema() -> None:
    """Commands refuse to run on a database migrations/ has not brought up to date."""
    current, heads = schema.revisions()
    if current != heads:
        raise CliError("the database schema is not up to date: run `idp init`")


def operator_command(needs_schema: bool = True) -> Callable[[F], F]:
    """Run the command inside an app context, with one-line errors for known failures."""
    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from idp.platform.keys import KeyError_
            from idp.platform.logs import cli_scope
            own_app = not has_app_context()
            app = load_app()
            with app.app_context(), cli_scope():
                try:
                    if needs_schema:
                        require_schema()
                    return f(*args, **kwargs)
                except KeyError_ as exc:
                    transaction.rollback()
                    raise CliError(str(exc)) from None
                except SQLAlchemyError as exc:
                    transaction.rollback()
                    raise _db_error(exc) from None
                finally:
                    transaction.release(dispose_engine=own_app)
        return wrapper  # type: ignore[return-value]
    return decorate


def audit(event: str, **detail: Any) -> None:
    """Record what the operator did, in the command's transaction (committed with it)."""
    from idp.platform.audit import record
    record(event, commit=False, actor="cli", **detail)


def done(event: str, said: str, **detail: Any) -> None:
    """The end of a change: audit `event`, commit it with the change, then say `said`."""
    audit(event, **detail)
    transaction.commit()
    click.echo(said)


def commit_or_conflict(path: Any) -> None:
    """Commit an import; a concurrent insert of the same id undoes all of it, in one line."""
    if not transaction.commit_unless_conflict():
        raise InputError(path, None, "a record was added concurrently with the same id; "
                                     "nothing was imported, run the import again")


# --- Output -----------------------------------------------------------------------------------

def when(ts: float) -> str:
    """UTC time of keys and recovery requests (operators compare them with server logs)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Columns padded to the widest value: readable, and still easy to cut/awk."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


def masked(value: Any) -> Any:
    """ID numbers and phones masked wherever they appear in printed values."""
    from idp.platform.logs import mask_text
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    return value
