"""Single-use credentials (authorization codes, refresh tokens) consumed in one statement,
and the revocation of a token family when one is presented again.

Split out of protocol/oauth2.py (issue 14): the statements are built once, in SQLAlchemy Core,
because on the token path building an ORM statement cost more than running it.
"""
from __future__ import annotations

import logging

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from idp.platform import audit
from idp.platform.db import db, now
from idp.platform.models import AuthorizationCode, Token

log = logging.getLogger("idp.oauth2")


def insert_ignoring_duplicates(model):
    dialect = db.engine.dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    return stmt.on_conflict_do_nothing()


def revoke_grant(grant_id: str, reason: str, client_id: str | None = None) -> int:
    result = db.session.execute(update(Token).where(Token.grant_id == grant_id,
                                                    Token.revoked_at.is_(None))
                                .values(revoked_at=now()))
    db.session.commit()
    audit.record("tokens.revoked_family", client_id=client_id, reason=reason,
                 count=result.rowcount)
    return result.rowcount


def _consume_statement(model, hash_column, used_column, *still_valid):
    """UPDATE … SET <used> = :t WHERE <hash> = :digest AND client_id = :client AND <used> IS
    NULL AND <still valid at :t> RETURNING every column — built once (issue 14: building a
    statement costs more than running it on the token path), SQLAlchemy Core, no ORM."""
    table = model.__table__
    return (update(table)
            .where(hash_column == bindparam("digest"), model.client_id == bindparam("client"),
                   used_column.is_(None), *still_valid)
            .values({used_column.key: bindparam("t")})
            .returning(*table.columns))


CONSUME_CODE = _consume_statement(
    AuthorizationCode, AuthorizationCode.code_hash, AuthorizationCode.consumed_at,
    AuthorizationCode.expires_at > bindparam("t"))
CONSUME_REFRESH = _consume_statement(
    Token, Token.refresh_token_hash, Token.refresh_used_at, Token.revoked_at.is_(None),
    Token.refresh_expires_at > bindparam("t"))


def consume_once(model, statement, hash_column, used_column, digest: str, client_id: str,
                 *, now: float, reason: str):
    """Mark a single-use credential used in one statement (`statement`, from
    `_consume_statement`): of two concurrent redemptions exactly one gets the row (the other
    waits for the row lock, then matches nothing). The transaction stays open and commits
    together with the tokens in `save_token`, so a failure in between burns nothing and issues
    nothing. Returns a detached, read-only copy of the row. Presenting one that was already used
    is a replay: revoke its whole token family (RFC 6749 §4.1.2, RFC 9700 §4.14.2) and return
    None, as for an unknown one."""
    row = db.session.execute(statement, {"digest": digest, "client": client_id,
                                         "t": now}).first()
    if row is not None:
        return model(**row._mapping)
    db.session.rollback()
    replayed = db.session.execute(select(model.grant_id).where(
        hash_column == digest, model.client_id == client_id, used_column.is_not(None))).scalar()
    if replayed:
        log.warning("%s by %s: revoking the token family", reason, client_id)
        revoke_grant(replayed, reason, client_id)
    return None
