"""Operator CLI, console script `idp` (CONTRACT.md §3); also `flask --app idp:create_app idp`.

Bad input never ends in a traceback: every error is one line, `error: FILE:LINE: field: message`
for files, and exit status 1 (a malformed argument of `audit list`: one line, exit status 2).
Imports validate everything first and then write in one transaction, so a failed import leaves
the database as it was. Commands print their own output: the app's request-log handler is set
aside while they run (logs.cli_scope).
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
from flask import Flask, current_app, has_app_context
from flask.cli import ScriptInfo
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from idp.accounts import validation
from idp.platform.config import ConfigError, load_settings
from idp.platform.db import db, now
from idp.accounts.validation import ValidationError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEMO_CLIENTS = DATA_DIR / "demo_clients.json"
DEMO_CITIZENS = DATA_DIR / "demo_citizens.jsonl"


class CliError(click.ClickException):
    """Printed as one line `error: ...` on stderr, exit status 1."""
    exit_code = 1

    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


class InputError(CliError):
    def __init__(self, path, line: int | None, message: str, field: str | None = None):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


# --- Application, database and schema ---------------------------------------------------------

def _load_app() -> Flask:
    if has_app_context():
        return current_app._get_current_object()
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


def operator_command(needs_schema: bool = True):
    """Run the command inside an app context, with one-line errors for known failures."""
    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            from idp.platform.keys import KeyError_
            from idp.platform.logs import cli_scope
            own_app = not has_app_context()
            app = _load_app()
            with app.app_context(), cli_scope():
                try:
                    if needs_schema:
                        _require_schema()
                    return f(*args, **kwargs)
                except KeyError_ as exc:
                    db.session.rollback()
                    raise CliError(str(exc)) from None
                except SQLAlchemyError as exc:
                    db.session.rollback()
                    raise _db_error(exc) from None
                finally:
                    db.session.remove()
                    if own_app:
                        db.engine.dispose()
        return wrapper
    return decorate


def _alembic_config():
    return current_app.extensions["migrate"].migrate.get_config()


def _schema_revisions() -> tuple[set[str], set[str]]:
    """(revisions the database is at, head revisions of migrations/)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, heads


def _require_schema() -> None:
    current, heads = _schema_revisions()
    if current != heads:
        raise CliError("the database schema is not up to date: run `idp init`")


def _upgrade_schema() -> str:
    from alembic import command
    from alembic.util import CommandError
    from sqlalchemy import inspect
    before, heads = _schema_revisions()
    if before == heads:
        return f"schema: up to date ({', '.join(sorted(heads))})"
    if not before and set(inspect(db.engine).get_table_names()) - {"alembic_version"}:
        raise CliError("the database has tables but no migration history; refusing to touch "
                       "it (use an empty database, or `flask --app idp:create_app db stamp` "
                       "if it really matches the current models)")
    try:
        command.upgrade(_alembic_config(), "head")
    except CommandError as exc:
        raise CliError(f"migration failed: {exc}") from None
    after, _ = _schema_revisions()
    origin = ", ".join(sorted(before)) or "empty database"
    return f"schema: upgraded {origin} -> {', '.join(sorted(after))}"


def _audit(event: str, **detail) -> None:
    from idp.platform.audit import record
    record(event, commit=False, actor="cli", **detail)


# --- Reading input files ----------------------------------------------------------------------

_decoder = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()


def _line_at(text: str, pos: int, first_line: int = 1) -> int:
    return first_line + text.count("\n", 0, pos)


def _read_text(path: str) -> str:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, None, "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # a leading BOM (Windows editors) is tolerated
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(path, line, "not valid UTF-8 text") from None
    if not text.strip():
        raise InputError(path, None, "file is empty")
    return text


def _object_key_lines(text: str, start: int, path, first_line: int) -> dict[str, int]:
    """Line of each top-level key of the (already valid) JSON object at text[start]."""
    lines: dict[str, int] = {}
    i = _skip_ws(text, start + 1)
    while text[i] != "}":
        key, end = _decoder.raw_decode(text, i)
        line = _line_at(text, i, first_line)
        if key in lines:
            raise InputError(path, line, "duplicate key in the same object", key)
        lines[key] = line
        i = _skip_ws(text, _skip_ws(text, end) + 1)  # past ':'
        _, end = _decoder.raw_decode(text, i)
        i = _skip_ws(text, end)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
    return lines


def _json_error(path, exc: json.JSONDecodeError, first_line: int = 1) -> InputError:
    return InputError(path, exc.lineno + first_line - 1,
                      f"invalid JSON: {exc.msg} (column {exc.colno})")


def read_json_list(path: str) -> list[tuple[int, object, dict[str, int]]]:
    """A JSON array of objects -> [(line of the object, object, {key: line})]."""
    text = _read_text(path)
    try:
        data = _decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise _json_error(path, exc) from None
    if not isinstance(data, list):
        raise InputError(path, _line_at(text, _skip_ws(text, 0)),
                         "expected a JSON list ([...]) of objects")
    items = []
    i = _skip_ws(text, _skip_ws(text, 0) + 1)  # past '['
    while text[i] != "]":
        value, end = _decoder.raw_decode(text, i)
        keys = _object_key_lines(text, i, path, 1) if isinstance(value, dict) else {}
        items.append((_line_at(text, i), value, keys))
        i = _skip_ws(text, end)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
    if not items:
        raise InputError(path, None, "the list is empty")
    return items


def read_json_lines(path: str) -> list[tuple[int, object]]:
    """One JSON value per line; blank lines are skipped -> [(line number, value)]."""
    text = _read_text(path)
    items = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = _decoder.decode(line)
        except json.JSONDecodeError as exc:
            raise _json_error(path, exc, number) from None
        if isinstance(value, dict):
            _object_key_lines(line, _skip_ws(line, 0), path, number)  # duplicate keys
        items.append((number, value))
    return items


# --- Clients ----------------------------------------------------------------------------------

def _validate_client(path, line: int, data, key_lines: dict[str, int]) -> tuple[dict, str | None]:
    try:
        meta = validation.validate_client_metadata(data, _backchannel_check(),
                                                   _lowest_acr_floor())
    except ValidationError as exc:
        raise InputError(path, key_lines.get(exc.field, line), exc.message, exc.field) from None
    return meta, validation.client_secret_of(data)


def _backchannel_check():
    """Where logout tokens may go, as this deployment's configuration says (idp/netguard.py)."""
    from idp.platform.netguard import Policy, check_url
    policy = Policy.from_settings(current_app.config["IDP"])
    return lambda uri: check_url(uri, policy.allowed_hosts, policy.production)


def _lowest_acr_floor() -> str:
    """The lowest `login_acr_floor` this deployment registers (policy.lowest_client_floor:
    LoA1 only with allow_loa1_clients)."""
    from idp.interaction.policy import lowest_client_floor
    return lowest_client_floor(current_app.config["IDP"])


def _store_client(meta: dict, secret: str | None, existing=None):
    from idp.platform.crypto import hash_secret
    from idp.platform.models import Client
    client = existing or Client(client_id=meta["client_id"])
    client.set_metadata(meta)
    client.client_secret_hash = hash_secret(secret) if secret else None
    db.session.add(client)
    return client


def import_clients(path: str, replace: bool = False, skip_existing: bool = False) -> list[str]:
    """Validate every client of the file, then insert (or replace) them in one transaction.
    Returns a line per client for the operator."""
    from idp.platform.models import Client
    parsed, seen = [], {}
    for line, data, key_lines in read_json_list(path):
        meta, secret = _validate_client(path, line, data, key_lines)
        cid = meta["client_id"]
        if cid in seen:
            raise InputError(path, key_lines.get("client_id", line),
                             f"trùng với client ở dòng {seen[cid]}.", "client_id")
        seen[cid] = line
        parsed.append((line, key_lines, meta, secret))
    existing = {c.client_id: c for c in db.session.scalars(
        select(Client).where(Client.client_id.in_(list(seen))))}
    report, stored = [], []
    for line, key_lines, meta, secret in parsed:
        cid = meta["client_id"]
        if cid in existing and skip_existing:
            report.append(f"client {cid}: exists, skipped")
            continue
        if cid in existing and not replace:
            raise InputError(path, key_lines.get("client_id", line),
                             "client đã tồn tại (dùng --replace để thay thế).", "client_id")
        _store_client(meta, secret, existing.get(cid))
        stored.append(cid)
        report.append(f"client {cid}: {'replaced' if cid in existing else 'added'}")
    if stored:
        _audit("clients.imported", file=os.path.basename(path), client_ids=stored)
    _commit_or_conflict(path)
    return report


def _commit_or_conflict(path) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InputError(path, None, "a record was added concurrently with the same id; "
                                     "nothing was imported, run the import again") from None


# --- Citizens ---------------------------------------------------------------------------------

def _hash_all(passwords: list[str]) -> list[str]:
    """Argon2id is deliberately slow; argon2-cffi releases the GIL, so threads use every core."""
    from idp.platform.crypto import hash_password
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(hash_password, passwords))


def import_citizens(path: str, skip_existing: bool = False) -> tuple[int, int]:
    """Validate every line, then create all accounts in one transaction.
    Returns (imported, skipped)."""
    from idp.platform.models import Citizen
    records, seen = [], {}
    for line, data in read_json_lines(path):
        try:
            record = validation.validate_citizen(data)
        except ValidationError as exc:
            raise InputError(path, line, exc.message, exc.field) from None
        if record["id_number"] in seen:
            raise InputError(path, line, f"trùng với dòng {seen[record['id_number']]}.",
                             "id_number")
        seen[record["id_number"]] = line
        records.append((line, record))
    if not records:
        raise InputError(path, None, "no citizens in the file")
    existing: set[str] = set()
    numbers = list(seen)
    for i in range(0, len(numbers), 500):
        existing.update(db.session.scalars(
            select(Citizen.id_number).where(Citizen.id_number.in_(numbers[i:i + 500]))))
    new = []
    for line, record in records:
        if record["id_number"] in existing:
            if skip_existing:
                continue
            raise InputError(path, line, "đã có tài khoản với số định danh này.", "id_number")
        new.append(record)
    hashes = _hash_all([r.pop("password") for r in new])
    for record, password_hash in zip(new, hashes):
        db.session.add(Citizen(sub=str(uuid.uuid4()), password_hash=password_hash, **record))
    if new:
        _audit("citizens.imported", file=os.path.basename(path), count=len(new))
    _commit_or_conflict(path)
    return len(new), len(records) - len(new)


# --- Commands ---------------------------------------------------------------------------------

@click.group(help="Operator commands of the identity provider (CONTRACT.md §3).")
def main():
    # Alembic's env.py leaves logging alone once the root logger has a handler.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _refuse_demo_in_production() -> None:
    """The demo clients and citizens have published secrets and passwords: never load them
    into a production database. Checked before anything is created or written."""
    if has_app_context() or click.get_current_context().find_object(ScriptInfo) is not None:
        settings = _load_app().config["IDP"]
    else:
        try:
            settings = load_settings()
        except ConfigError as exc:
            raise CliError(f"configuration: {exc}") from None
    if settings["env"] == "production":
        raise CliError("`idp init --demo` is refused with IDP_ENV=production (the demo clients "
                       "and citizens have published secrets); run `idp init` without --demo")


@main.command(help="Create or upgrade the schema; create the first signing keys if none.")
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


@main.group(help="Signing keys: next -> current -> previous -> retired.")
def keys():
    pass


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


@keys.command("list", help="List the signing keys.")
@operator_command()
def keys_list():
    from idp.platform.models import SigningKey
    rows = db.session.scalars(select(SigningKey).order_by(SigningKey.alg, SigningKey.created_at))
    _table(("KID", "ALG", "STATE", "CREATED", "STATE CHANGED"),
           [(k.kid, k.alg, k.state, _when(k.created_at), _when(k.state_changed_at))
            for k in rows])


@keys.command("rotate", help="next -> current, current -> previous, and a new next key.")
@click.option("--force", is_flag=True,
              help="Rotate even if the next key was published less than jwks_max_age ago.")
@operator_command()
def keys_rotate(force: bool):
    from idp.platform.keys import load_kek, rotate
    settings = current_app.config["IDP"]
    changes = rotate(load_kek(settings), min_next_age=0 if force else settings["jwks_max_age"])
    for kid, old, new in changes:
        click.echo(f"{kid}: {old} -> {new}")
    _audit("keys.rotated", forced=force, changes=[f"{k}:{o}->{n}" for k, o, n in changes])
    db.session.commit()
    click.echo(f"every node signs with the new keys within {settings['key_refresh_interval']} s")


# A kid (RFC 7638 thumbprint, base64url) or client_id may start with "-": take it as the
# argument instead of an unknown option.
_ARG_MAY_START_WITH_DASH = {"ignore_unknown_options": True}


@keys.command("retire", help="Remove a previous key from the JWKS.",
              context_settings=_ARG_MAY_START_WITH_DASH)
@click.argument("kid")
@operator_command()
def keys_retire(kid: str):
    from idp.platform.keys import retire
    retire(kid)
    _audit("keys.retired", kid=kid)
    db.session.commit()
    click.echo(f"{kid}: retired")


@main.group(help="Relying parties (RFC 7591 metadata names).")
def clients():
    pass


@clients.command("import", help="Import a JSON list of client metadata objects.")
@click.argument("file")
@click.option("--replace", is_flag=True, help="Replace clients whose client_id exists.")
@operator_command()
def clients_import(file: str, replace: bool):
    for line in import_clients(file, replace=replace):
        click.echo(line)


@clients.command("add", help="Register one client.")
@click.option("--client-id", required=True)
@click.option("--name", "client_name", required=True, help="Shown to citizens.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--auth-method", "token_endpoint_auth_method", default="client_secret_basic",
              show_default=True, help="client_secret_basic, client_secret_post or none.")
@click.option("--scope", default=None, help=f"Default: {validation.DEFAULT_SCOPE!r}.")
@click.option("--alg", "id_token_signed_response_alg", default="ES256", show_default=True)
@click.option("--acr", "default_acr_values", multiple=True, help="LoA1, LoA2 or LoA3.")
@click.option("--login-acr-floor", "login_acr_floor", default=None,
              help="Level this client's logins end at when it asks for less. LoA1 (password "
                   "only) is refused unless the deployment sets allow_loa1_clients = true.")
@click.option("--backchannel-logout-uri", default=None)
@click.option("--third-party", is_flag=True, help="Not a government portal: ask for consent.")
@click.option("--secret", default=None,
              help="The client secret (≥ 32 characters); generated and printed once if omitted.")
@operator_command()
def clients_add(third_party: bool, secret: str | None, **options):
    from idp.platform.models import Client
    data = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()
            if v not in (None, ())}
    data["first_party"] = not third_party
    if data.get("backchannel_logout_uri"):
        data["backchannel_logout_session_required"] = True
    generated = secret is None and data["token_endpoint_auth_method"] != "none"
    if secret is not None or generated:
        data["client_secret"] = secret if secret is not None else secrets.token_urlsafe(32)
    try:
        meta = validation.validate_client_metadata(data, _backchannel_check(),
                                                   _lowest_acr_floor())
    except ValidationError as exc:
        raise CliError(str(exc)) from None
    if db.session.scalar(select(Client.id).where(Client.client_id == meta["client_id"])):
        raise CliError(f"client_id: client {meta['client_id']} đã tồn tại.")
    _store_client(meta, data.get("client_secret"))
    _audit("client.added", client_id=meta["client_id"])
    _commit_or_conflict("clients add")
    click.echo(f"client {meta['client_id']}: added")
    if generated:
        click.echo(f"client_secret: {data['client_secret']}")
        click.echo("(shown once: only its hash is stored)")


@clients.command("list", help="List the clients.")
@operator_command()
def clients_list():
    from idp.platform.models import Client
    rows = []
    for c in db.session.scalars(select(Client).order_by(Client.client_id)):
        m = c.client_metadata
        rows.append((c.client_id, m.get("token_endpoint_auth_method", ""),
                     "first" if m.get("first_party", True) else "third",
                     m.get("id_token_signed_response_alg", ""),
                     " ".join(m.get("redirect_uris", [])), c.client_name))
    _table(("CLIENT_ID", "AUTH", "PARTY", "ALG", "REDIRECT_URIS", "NAME"), rows)


@clients.command("remove", help="Remove a client; its tokens are revoked.",
                 context_settings=_ARG_MAY_START_WITH_DASH)
@click.argument("client_id")
@operator_command()
def clients_remove(client_id: str):
    from idp.platform.models import AuthorizationCode, Client, Consent, SessionClient, Token
    client = db.session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise CliError(f"no client with client_id {client_id}")
    db.session.delete(client)
    revoked = db.session.execute(
        update(Token).where(Token.client_id == client_id, Token.revoked_at.is_(None))
        .values(revoked_at=now())).rowcount
    for model in (AuthorizationCode, Consent, SessionClient):
        db.session.execute(delete(model).where(model.client_id == client_id))
    _audit("client.removed", client_id=client_id)
    db.session.commit()
    click.echo(f"client {client_id}: removed ({revoked} tokens revoked)")


@main.group(help="Citizen accounts.")
def users():
    pass


@users.command("import", help="Import citizens, one JSON object per line.")
@click.argument("file")
@operator_command()
def users_import(file: str):
    added, _ = import_citizens(file)
    click.echo(f"citizens: {added} imported")


@users.command("unlock", help="Lift a second-factor lock-out (after checking the citizen's "
                               "identity), and forget the login failures of the ID number.")
@click.argument("id_number")
@operator_command()
def users_unlock(id_number: str):
    from idp.accounts import lockout
    from idp.platform.models import Citizen
    citizen = db.session.scalars(select(Citizen).where(Citizen.id_number == id_number)).first()
    if citizen is None:
        raise CliError(f"no citizen with ID number {id_number[:3]}…")
    db.session.execute(update(Citizen).where(Citizen.id == citizen.id)
                       .values(otp_failures=0, otp_locked_until=0.0))
    lockout.clear(id_number)
    _audit("citizen.unlocked", citizen_id=citizen.id)
    db.session.commit()
    click.echo(f"citizen {citizen.id}: unlocked")


@main.group(help="Lost-phone recovery requests (approve after identity proofing at a "
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
    from idp.platform.models import Citizen, RecoveryRequest
    query = select(RecoveryRequest, Citizen.id_number).join(
        Citizen, Citizen.id == RecoveryRequest.citizen_id).order_by(RecoveryRequest.id)
    if status != "all":
        query = query.where(RecoveryRequest.status == status)
    if id_number:
        query = query.where(Citizen.id_number == id_number.strip())
    rows = [(str(r.id), _when(r.created_at), r.status, mask_id_number(number),
             mask_phone(r.new_phone), r.decided_by or "", (r.note or "").replace("\n", " "))
            for r, number in db.session.execute(query)]
    _table(("ID", "CREATED", "STATUS", "ID_NUMBER", "NEW_PHONE", "DECIDED_BY", "NOTE"), rows)


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


# --- Audit trail ------------------------------------------------------------------------------

VN_TIME = dt.timezone(dt.timedelta(hours=7), "+07:00")  # Asia/Ho_Chi_Minh, no DST since 1975
_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class ArgumentError(click.UsageError):
    """A bad argument: one line `error: ...` on stderr, exit status 2, no usage text."""

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineErrors(click.Command):
    """Reports click's own usage errors (unknown option, missing value, bad number) as one
    line too."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except ArgumentError:
            raise
        except click.UsageError as exc:
            raise ArgumentError(exc.format_message(), ctx) from None


def _since(ctx, param, value: str | None) -> float | None:
    """`24h`, `7d`, `30m` ... before now, or an ISO 8601 date/time (Vietnam time unless it has
    an offset) -> epoch seconds."""
    if value is None:
        return None
    text = value.strip()
    if m := _DURATION.fullmatch(text):
        return dt.datetime.now(dt.timezone.utc).timestamp() - int(m[1]) * _SECONDS[m[2]]
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


def _masked(value):
    from idp.platform.logs import mask_text
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


def _detail(raw: str) -> dict:
    try:
        detail = json.loads(raw or "{}")
    except ValueError:
        detail = {"raw": raw}
    return _masked(detail if isinstance(detail, dict) else {"value": detail})


def _local_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, VN_TIME).isoformat(sep=" ", timespec="seconds")


def _detail_text(detail: dict) -> str:
    def show(v):
        if isinstance(v, str) and v and not any(c.isspace() for c in v) and '"' not in v:
            return v
        return json.dumps(v, ensure_ascii=False)
    return " ".join(f"{k}={show(v)}" for k, v in sorted(detail.items()))


@main.group(help="The audit trail (ID numbers and phones masked).")
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
    from idp.platform.models import AuditEvent, Citizen
    query = select(AuditEvent, Citizen.id_number).outerjoin(
        Citizen, Citizen.id == AuditEvent.citizen_id)
    if id_number is not None:
        citizen_id = db.session.scalar(select(Citizen.id).where(Citizen.id_number == id_number))
        if citizen_id is None:
            raise CliError(f"no citizen with ID number {mask_id_number(id_number)}")
        query = query.where(AuditEvent.citizen_id == citizen_id)
    if prefix:
        query = query.where(AuditEvent.event.startswith(prefix, autoescape=True))
    if client_id is not None:
        query = query.where(AuditEvent.client_id == client_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    for event, number in db.session.execute(query):
        detail = _detail(event.detail_json)
        masked_number = mask_id_number(number) if number else None
        if as_json:
            click.echo(json.dumps({
                "id": event.id, "at": dt.datetime.fromtimestamp(event.at, VN_TIME).isoformat(
                    timespec="seconds"),
                "event": event.event, "citizen_id": event.citizen_id,
                "id_number": masked_number, "client_id": _masked(event.client_id),
                "ip": event.ip, "detail": detail}, ensure_ascii=False))
            continue
        who = (f"citizen={event.citizen_id} ({masked_number})" if masked_number
               else f"citizen={event.citizen_id if event.citizen_id is not None else '-'}")
        line = "  ".join([_local_time(event.at), event.event, who,
                          f"client={event.client_id or '-'}", f"ip={event.ip or '-'}",
                          _detail_text(detail)])
        click.echo(_masked(line).rstrip())


# --- Outbox delivery (idp/outbox.py, idp/worker.py) -------------------------------------------

@main.command("worker", help="Deliver the outbox (SMS notices and reset codes, back-channel "
                             "logouts) until SIGTERM; dead letters are audited as outbox.dead.")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--status", is_flag=True, help="Print the rows per state and the latest dead "
                                             "letters, then exit.")
@operator_command()
def worker(once: bool, status: bool):
    from idp.platform import worker as outbox_worker
    if status:
        for line in outbox_worker.status_lines():
            click.echo(_masked(line))
        return
    outbox_worker.run(once)


def register_flask_commands(app: Flask) -> None:
    """The same commands as `flask --app idp:create_app idp ...`, sharing that app."""
    app.cli.add_command(main, "idp")


from idp.cli.demo import demo  # noqa: E402 - `idp demo reset` (issue 12 item 6)
main.add_command(demo)


# --- Complaints (idp/cli_complaints.py) -------------------------------------------------------
from idp.cli.complaints import complaints as _complaints  # noqa: E402 - uses the helpers above

main.add_command(_complaints)
