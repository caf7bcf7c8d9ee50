"""`idp keys list|rotate|retire`: signing keys, next -> current -> previous -> retired."""
from __future__ import annotations

import click
from flask import current_app

from idp.cli.common import ARG_MAY_START_WITH_DASH, done, operator_command, table, when
from idp.platform import key_admin


@click.group(help="Signing keys: next -> current -> previous -> retired.")
def keys():
    pass


@keys.command("list", help="List the signing keys.")
@operator_command()
def keys_list():
    rows = key_admin.all_keys()
    table(("KID", "ALG", "STATE", "CREATED", "STATE CHANGED"),
           [(k.kid, k.alg, k.state, when(k.created_at), when(k.state_changed_at))
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
    done("keys.rotated",
         f"every node signs with the new keys within {settings['key_refresh_interval']} s",
         forced=force, changes=[f"{k}:{o}->{n}" for k, o, n in changes])


@keys.command("retire", help="Remove a previous key from the JWKS.",
              context_settings=ARG_MAY_START_WITH_DASH)
@click.argument("kid")
@operator_command()
def keys_retire(kid: str):
    from idp.platform.keys import retire
    retire(kid)
    done("keys.retired", f"{kid}: retired", kid=kid)
