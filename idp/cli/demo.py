"""`idp demo reset` (issue 12 item 6): start the development demo again from its published data.

Erases what the demo accumulated — the SQLite database (accounts, sessions, tokens, flows,
counters, audit trail, outbox, signing keys), the SMS outbox file, the IdP's development cookie
key (so no cookie of before, e.g. a known-device cookie, names a citizen of after), and the demo
portals' sessions and cookie keys — then runs `idp init --demo`: new schema, new signing keys,
the demo clients and citizens exactly as in idp/data/.

Only ever the demo's own files. Refused, before anything is touched, when:
- IDP_ENV is production;
- IDP_DATABASE_URL names any database but the default SQLite file of the instance folder (a
  reset must never be one typo away from dropping a real database; there is no --force);
- IDP_REDIS_URL is set (./run uses none, and Redis would keep throttles and flows);
- an IdP answers at the (loopback) issuer: its process would keep the erased database open.
Without --yes it lists what it erases and asks. `./run --reset` calls it with --yes.
"""
from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import has_app_context

from idp.platform.config import ROOT, ConfigError, load_settings

# The demo portals' instance folders (portals/daklak.py, portals/quocgia.py) under
# PORTAL_INSTANCE_DIR (./run: <instance>/portals).
PORTALS = ("daklak", "quocgia")
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")
PROBE_TIMEOUT = 0.5


def _error(message: str) -> click.ClickException:
    """idp.cli's one-line error (imported here: idp.cli imports this module to register it)."""
    from idp.cli.common import CliError
    return CliError(message)


def instance_dir() -> Path:
    """The IdP's instance folder, as create_app() computes it."""
    return Path(os.environ.get("IDP_INSTANCE_DIR", ROOT / "instance"))


def portals_dir() -> Path:
    return Path(os.environ.get("PORTAL_INSTANCE_DIR") or instance_dir() / "portals")


def _refusal(settings: dict, database: Path) -> str | None:
    if settings["env"] == "production":
        return ("`idp demo reset` is refused with IDP_ENV=production: it erases the "
                "database")
    url = settings["database_url"]
    if url and url != f"sqlite:///{database}":
        scheme = urlsplit(url).scheme or "?"
        return (f"IDP_DATABASE_URL is set ({scheme}://…): `idp demo reset` only erases the "
                f"default SQLite file {database}; reset another database with its own tools")
    if settings["redis_url"]:
        return ("IDP_REDIS_URL is set: the demo runs without Redis (flows and throttles there "
                "would outlive the reset); unset it")
    return None


def _server_answers(issuer: str) -> bool:
    """True when something answers /healthz at a loopback issuer (./run still running)."""
    host = urlsplit(issuer).hostname or ""
    if host not in {"127.0.0.1", "localhost", "::1"}:
        return False
    try:
        urllib.request.urlopen(issuer + "/healthz", timeout=PROBE_TIMEOUT).close()
        return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def demo_files(settings: dict) -> list[Path]:
    """What a reset erases (existing or not)."""
    instance = instance_dir()
    database = instance / "idp.sqlite3"
    paths = [Path(f"{database}{suffix}") for suffix in SQLITE_SUFFIXES]
    paths.append(instance / "sms-outbox.jsonl")
    if not settings["secret_key"]:
        paths.append(instance / "secret_key")
    paths += [portals_dir() / name for name in PORTALS]
    return paths


def _erase(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        raise _error(f"cannot remove {path}: {exc.strerror or exc}") from None


@click.group(help="The development demo (./run): its data and how to start it again.")
def demo():
    pass


@demo.command("reset", help="Erase the demo database, SMS outbox and portal sessions, then "
                            "load the demo clients and citizens again (`idp init --demo`). "
                            "Development only; only the default SQLite database.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def reset(ctx: click.Context, yes: bool):
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _error(f"configuration: {exc}") from None
    database = instance_dir() / "idp.sqlite3"
    refusal = _refusal(settings, database)
    if refusal:
        raise _error(refusal)
    if _server_answers(settings["issuer"]):
        raise _error(f"an IdP answers at {settings['issuer']}: stop ./run first (Ctrl+C), "
                       "or start it with ./run --reset")
    present = [path for path in demo_files(settings) if path.exists()]
    if not yes:
        click.echo("This erases the demo data (accounts, sessions, SMS messages):")
        for path in present or [database]:
            click.echo(f"  {path}")
        click.confirm("Continue?", abort=True)
    for path in present:
        _erase(path)
    if has_app_context():  # `flask --app idp:create_app idp demo reset`: no stale connection
        from idp.platform.db import db
        db.engine.dispose()
    click.echo(f"demo data erased ({len(present)} files or folders)")
    from idp.cli.initialize import init
    ctx.invoke(init, demo=True)
