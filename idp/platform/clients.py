"""The registered relying parties (portals), looked up by client id.

Below the protocol on purpose: the OAuth server (idp.protocol.oauth2) authenticates clients
with this lookup, and the interaction screens (login, second factor, consent, registration)
show the portal's name with it, without importing the protocol.
"""
from __future__ import annotations

from flask import g
from sqlalchemy import select

from idp.platform.db import db
from idp.platform.models import Client


def query_client(client_id: str | None) -> Client | None:
    """One query per request and client: Authlib asks several times while validating.
    Ids that cannot be real (empty, over 100 characters, with a NUL) are not looked up."""
    if not client_id or len(client_id) > 100 or "\x00" in client_id:
        return None
    memo: dict[str, Client | None] = g.setdefault("idp_clients", {})
    if client_id not in memo:
        memo[client_id] = db.session.execute(
            select(Client).where(Client.client_id == client_id)).scalar()
    return memo[client_id]
