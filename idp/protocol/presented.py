"""Tokens a client presents back to us (RFC 7009 revocation, RFC 7662 introspection), found
by the SHA-256 of their value: only hashes are stored."""
from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import bindparam, select

from idp.platform.crypto import sha256_hex
from idp.platform.db import db
from idp.platform.models import Citizen, Token


# The token row and its account's `sub` in one prebuilt statement, one per kind of token
# (issue 14).
def _presented_lookup(column):
    return (select(*Token.__table__.columns, Citizen.sub)
            .join(Citizen, Citizen.id == Token.citizen_id).where(column == bindparam("digest")))


_LOOKUP = {"refresh_token": _presented_lookup(Token.__table__.c.refresh_token_hash),
           "access_token": _presented_lookup(Token.__table__.c.access_token_hash)}


class Presented(NamedTuple):
    """A token a client presented: its row (with the account's `sub`) and which kind it is."""
    row: Any
    kind: str

    def check_client(self, client) -> bool:  # Authlib's revocation endpoint asks
        return bool(self.row.client_id == client.client_id)


def presented_token(token_string: str | None, hint: str | None = None) -> Presented | None:
    if not token_string or len(token_string) > 200:
        return None
    digest = sha256_hex(token_string)
    kinds = ("access_token", "refresh_token") if hint == "access_token" else \
        ("refresh_token", "access_token")
    connection = db.session.connection()
    for kind in kinds:
        row = connection.execute(_LOOKUP[kind], {"digest": digest}).first()
        if row is not None:
            return Presented(row, kind)
    return None
