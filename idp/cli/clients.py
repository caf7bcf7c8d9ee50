"""`idp clients import|add|list|remove`: the relying parties (RFC 7591 metadata names)."""
from __future__ import annotations

import os
import secrets

import click
from flask import current_app

from idp.accounts.validation import ValidationError
from idp.cli.common import (
    ARG_MAY_START_WITH_DASH,
    CliError,
    InputError,
    audit,
    commit_or_conflict,
    done,
    operator_command,
    table,
)
from idp.cli.reading import read_json_list
from idp.protocol import client_metadata, client_registry


def _validate_client(path, line: int, data, key_lines: dict[str, int]) -> tuple[dict, str | None]:
    try:
        meta = client_metadata.validate_client_metadata(data, _backchannel_check(),
                                                   _lowest_acr_floor())
    except ValidationError as exc:
        raise InputError(path, key_lines.get(exc.field, line), exc.message, exc.field) from None
    return meta, client_metadata.client_secret_of(data)


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


def import_clients(path: str, replace: bool = False, skip_existing: bool = False) -> list[str]:
    """Validate every client of the file, then insert (or replace) them in one transaction.
    Returns a line per client for the operator."""
    parsed, seen = [], {}
    for line, data, key_lines in read_json_list(path):
        meta, secret = _validate_client(path, line, data, key_lines)
        cid = meta["client_id"]
        if cid in seen:
            raise InputError(path, key_lines.get("client_id", line),
                             f"trùng với client ở dòng {seen[cid]}.", "client_id")
        seen[cid] = line
        parsed.append((line, key_lines, meta, secret))
    existing = client_registry.existing(list(seen))
    report, stored = [], []
    for line, key_lines, meta, secret in parsed:
        cid = meta["client_id"]
        if cid in existing and skip_existing:
            report.append(f"client {cid}: exists, skipped")
            continue
        if cid in existing and not replace:
            raise InputError(path, key_lines.get("client_id", line),
                             "client đã tồn tại (dùng --replace để thay thế).", "client_id")
        client_registry.store(meta, secret, existing.get(cid))
        stored.append(cid)
        report.append(f"client {cid}: {'replaced' if cid in existing else 'added'}")
    if stored:
        audit("clients.imported", file=os.path.basename(path), client_ids=stored)
    commit_or_conflict(path)
    return report


@click.group(help="Relying parties (RFC 7591 metadata names).")
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
@click.option("--scope", default=None, help=f"Default: {client_metadata.DEFAULT_SCOPE!r}.")
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
    data = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()
            if v not in (None, ())}
    data["first_party"] = not third_party
    if data.get("backchannel_logout_uri"):
        data["backchannel_logout_session_required"] = True
    generated = secret is None and data["token_endpoint_auth_method"] != "none"
    if secret is not None or generated:
        data["client_secret"] = secret if secret is not None else secrets.token_urlsafe(32)
    try:
        meta = client_metadata.validate_client_metadata(data, _backchannel_check(),
                                                   _lowest_acr_floor())
    except ValidationError as exc:
        raise CliError(str(exc)) from None
    if client_registry.exists(meta["client_id"]):
        raise CliError(f"client_id: client {meta['client_id']} đã tồn tại.")
    client_registry.store(meta, data.get("client_secret"))
    audit("client.added", client_id=meta["client_id"])
    commit_or_conflict("clients add")
    click.echo(f"client {meta['client_id']}: added")
    if generated:
        click.echo(f"client_secret: {data['client_secret']}")
        click.echo("(shown once: only its hash is stored)")


@clients.command("list", help="List the clients.")
@operator_command()
def clients_list():
    rows = []
    for c in client_registry.all_clients():
        m = c.client_metadata
        rows.append((c.client_id, m.get("token_endpoint_auth_method", ""),
                     "first" if m.get("first_party", True) else "third",
                     m.get("id_token_signed_response_alg", ""),
                     " ".join(m.get("redirect_uris", [])), c.client_name))
    table(("CLIENT_ID", "AUTH", "PARTY", "ALG", "REDIRECT_URIS", "NAME"), rows)


@clients.command("remove", help="Remove a client; its tokens are revoked.",
                 context_settings=ARG_MAY_START_WITH_DASH)
@click.argument("client_id")
@operator_command()
def clients_remove(client_id: str):
    if (revoked := client_registry.remove(client_id)) is None:
        raise CliError(f"no client with client_id {client_id}")
    done("client.removed", f"client {client_id}: removed ({revoked} tokens revoked)",
         client_id=client_id)
