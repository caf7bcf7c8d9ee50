"""The registered relying parties (portals), looked up by client id.

Below the protocol on purpose: the OAuth server (idp.protocol.oauth2) authenticates clients
with this lookup, and the interaction screens (login, second factor, consent, registration)
show the portal's name with it, without importing the protocol.

Every token, refresh, introspection and revocation request looks its client up, so the rows
are cached per process (issue 14): a found client is kept, detached from any session, for
`CACHE_SECONDS`; a commit that adds, changes or deletes a `Client` in this process empties the
cache at once (ORM events below); a change made elsewhere — `idp clients …` in its own process,
another node — is seen within `CACHE_SECONDS`. Unknown ids are never cached (no growth from
made-up ids) and the cache holds at most `CACHE_SIZE` clients. The bound is short on purpose:
a rotated secret or a removed client stops working everywhere within a second, and a removed
client's tokens and codes are revoked in the database at once (accounts of `idp clients
remove`).
"""
from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app, g
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from idp.platform.db import db
from idp.platform.models import Client

CACHE_SECONDS = 1.0
CACHE_SIZE = 1024

_generation = 0  # bumped by any commit that touched a Client, in any app of this process
_generation_lock = threading.Lock()


class ClientCache:
    """client_id → (client, loaded at, generation) for one app."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Client, float, int]] = {}

    def get(self, client_id: str) -> Client | None:
        found = self._rows.get(client_id)
        if found is None:
            return None
        client, loaded_at, generation = found
        if generation != _generation or time.monotonic() - loaded_at >= CACHE_SECONDS:
            self._rows.pop(client_id, None)
            return None
        return client

    def keep(self, client: Client, generation: int) -> None:
        if len(self._rows) >= CACHE_SIZE:
            self._rows.clear()
        self._rows[client.client_id] = (client, time.monotonic(), generation)


def _cache() -> ClientCache:
    cache: ClientCache | None = current_app.extensions.get("idp.client_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("idp.client_cache", ClientCache())
    return cache


def query_client(client_id: str | None) -> Client | None:
    """The client `client_id`, or None. Ids that cannot be real (empty, over 100 characters,
    with a NUL) are not looked up; within a request the answer is memoised (Authlib asks
    several times while validating)."""
    if not client_id or len(client_id) > 100 or "\x00" in client_id:
        return None
    memo: dict[str, Client | None] = g.setdefault("idp_clients", {})
    if client_id not in memo:
        memo[client_id] = _lookup(client_id)
    return memo[client_id]


def _lookup(client_id: str) -> Client | None:
    cache = _cache()
    client = cache.get(client_id)
    if client is not None:
        return client
    generation = _generation  # read before the query: a commit meanwhile invalidates it
    client = db.session.execute(select(Client).where(Client.client_id == client_id)).scalar()
    if client is not None:
        client.client_metadata  # noqa: B018 - parse the metadata once, while attached
        db.session.expunge(client)  # later commits must not expire the cached copy
        cache.keep(client, generation)
    return client


@event.listens_for(Session, "after_flush")
def _note_client_changes(session: Session, _context: Any) -> None:
    if any(isinstance(obj, Client)
           for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info["idp_clients_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_clients(session: Session) -> None:
    global _generation
    if session.info.pop("idp_clients_changed", False):
        with _generation_lock:
            _generation += 1


@event.listens_for(Session, "after_rollback")
def _drop_note(session: Session) -> None:
    session.info.pop("idp_clients_changed", None)
