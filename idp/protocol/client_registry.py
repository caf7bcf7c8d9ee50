"""Registered relying parties as operators manage them (`idp clients ...`): the queries the
CLI needs, so the CLI has no SQL of its own."""
from __future__ import annotations

from sqlalchemy import delete, select, update

from idp.platform.crypto import hash_secret
from idp.platform.db import db, now
from idp.platform.models import AuthorizationCode, Client, Consent, SessionClient, Token


def existing(client_ids: list[str]) -> dict[str, Client]:
    """The clients among client_ids that are already registered, by client_id."""
    return {c.client_id: c for c in db.session.scalars(
        select(Client).where(Client.client_id.in_(client_ids)))}


def exists(client_id: str) -> bool:
    return bool(db.session.scalar(select(Client.id).where(Client.client_id == client_id)))


def store(meta: dict, secret: str | None, existing_client: Client | None = None) -> Client:
    """Add (or overwrite) a client from validated metadata; only the secret's hash is kept."""
    client = existing_client or Client(client_id=meta["client_id"])
    client.set_metadata(meta)
    client.client_secret_hash = hash_secret(secret) if secret else None
    db.session.add(client)
    return client


def all_clients() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.client_id)))


def remove(client_id: str) -> int | None:
    """Delete the client, revoke its live tokens and forget its codes, consents and sessions.
    Returns the number of tokens revoked, None if there is no such client (not committed)."""
    client = db.session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        return None
    db.session.delete(client)
    revoked = db.session.execute(
        update(Token).where(Token.client_id == client_id, Token.revoked_at.is_(None))
        .values(revoked_at=now())).rowcount
    for model in (AuthorizationCode, Consent, SessionClient):
        db.session.execute(delete(model).where(model.client_id == client_id))
    return revoked
