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
from idp.platform.models import AuthorizationCode, SessionClient, Token

log = logging.getLogger("idp.oauth2")


# Built once: executed with a parameter dict, not rebuilt with .values() per request.
INSERT_TOKEN = Token.__table__.insert()
INSERT_CODE = AuthorizationCode.__table__.insert()
_REMEMBER_CLIENT = {name: insert(SessionClient.__table__).on_conflict_do_nothing()
                    for name, insert in (("postgresql", postgresql.insert),
                                         ("sqlite", sqlite.insert))}


def remember_session_client(sid: str, client_id: str, t: float) -> None:
    """Record that `client_id` got tokens from SSO session `sid` (logout), once per pair; in
    the caller's transaction."""
    db.session.connection().execute(_REMEMBER_CLIENT[db.engine.dialect.name],
                                    {"sid": sid, "client_id": client_id, "created_at": t})


def revoke_grant(grant_id: str, reason: str, client_id: str | None = None) -> int:
    result = db.session.execute(update(Token).where(Token.grant_id == grant_id,
                                                    Token.revoked_at.is_(None))
                                .values(revoked_at=now()))
    db.session.commit()
    audit.record("tokens.revoked_family", client_id=client_id, reason=reason,
                 count=result.rowcount)
    return result.rowcount


def _consume_statement(model, hash_column: str, used_column: str, *still_valid: str):
    """UPDATE … SET <used> = :t WHERE <hash> = :digest AND client_id = :client AND <used> IS
    NULL AND <still valid at :t> RETURNING every column — built once (issue 14: building a
    statement costs more than running it on the token path), on the table's own columns so
    that it runs as plain Core, not through the ORM's bulk-update machinery. `still_valid`:
    names of columns that must be NULL, or `name>` for a column that must be later than :t."""
    c = model.__table__.c
    conditions = [c[name[:-1]] > bindparam("t") if name.endswith(">") else c[name].is_(None)
                  for name in still_valid]
    return (update(model.__table__)
            .where(c[hash_column] == bindparam("digest"), c.client_id == bindparam("client"),
                   c[used_column].is_(None), *conditions)
            .values({used_column: bindparam("t")})
            .returning(*model.__table__.columns))


CONSUME_CODE = _consume_statement(AuthorizationCode, "code_hash", "consumed_at", "expires_at>")
CONSUME_REFRESH = _consume_statement(Token, "refresh_token_hash", "refresh_used_at",
                                     "revoked_at", "refresh_expires_at>")


def consume_once(model, statement, hash_column, used_column, digest: str, client_id: str,
                 *, now: float, reason: str):
    """Mark a single-use credential used in one statement (`statement`, from
    `_consume_statement`): of two concurrent redemptions exactly one gets the row (the other
    waits for the row lock, then matches nothing). The transaction stays open and commits
    together with the tokens in `save_token`, so a failure in between burns nothing and issues
    nothing. Returns a detached, read-only copy of the row. Presenting one that was already used
    is a replay: revoke its whole token family (RFC 6749 §4.1.2, RFC 9700 §4.14.2) and return
    None, as for an unknown one."""
    row = db.session.connection().execute(statement, {"digest": digest, "client": client_id,
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
