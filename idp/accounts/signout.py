"""Ending SSO sessions from anywhere below the protocol: the account page's "Đăng xuất các
phiên khác", a password reset, a complaint upheld, and the logout endpoint itself
(idp/protocol/logout.py). The session rows are revoked and, in the same transaction, one
back-channel logout job per portal that received tokens from them is written to the outbox;
the protocol layer's handler signs and delivers those logout tokens (OIDC Back-Channel
Logout 1.0)."""
from __future__ import annotations

from sqlalchemy import select, update

from idp.platform import outbox
from idp.platform.crypto import random_token
from idp.platform.db import db, now
from idp.platform.models import Citizen, Client, SessionClient, SsoSession, Token


def end_sessions(sids, reason: str, revoke_tokens: bool = True, commit: bool = True) -> dict:
    """End the SSO sessions `sids`: revoke them (and, with `revoke_tokens`, their tokens
    except offline_access grants), then notify every client that received tokens from them
    and registered a back-channel logout URI. Returns counts for the audit trail."""
    sids = [s for s in dict.fromkeys(sids) if s]
    if not sids:
        return {"sessions": 0, "tokens": 0, "notified": 0}
    t = now()
    sessions = db.session.execute(update(SsoSession).where(
        SsoSession.sid.in_(sids), SsoSession.revoked_at.is_(None))
        .values(revoked_at=t)).rowcount
    tokens = 0
    if revoke_tokens:
        rows = db.session.execute(select(Token.id, Token.scope).where(
            Token.sid.in_(sids), Token.revoked_at.is_(None))).all()
        ids = [r.id for r in rows if "offline_access" not in (r.scope or "").split()]
        if ids:
            tokens = db.session.execute(update(Token).where(Token.id.in_(ids))
                                        .values(revoked_at=t)).rowcount
    owners = dict(db.session.execute(
        select(SsoSession.sid, Citizen.sub).join(Citizen, Citizen.id == SsoSession.citizen_id)
        .where(SsoSession.sid.in_(sids))).all())
    citizen_ids = dict(db.session.execute(
        select(SsoSession.sid, SsoSession.citizen_id).where(SsoSession.sid.in_(sids))).all())
    pairs = db.session.execute(select(SessionClient.sid, SessionClient.client_id).where(
        SessionClient.sid.in_(sids))).all()
    clients = {c.client_id: c for c in db.session.scalars(select(Client).where(
        Client.client_id.in_({p.client_id for p in pairs})))} if pairs else {}
    notified = 0
    for sid, client_id in pairs:
        client = clients.get(client_id)
        uri = client.client_metadata.get("backchannel_logout_uri") if client else None
        if uri and sid in owners:
            # In this transaction: the revocation and its notices commit together.
            outbox.enqueue("backchannel", "logout", {
                "uri": uri, "alg": client.id_token_signed_response_alg, "sub": owners[sid],
                "sid": sid}, message_id=random_token(18), citizen_id=citizen_ids.get(sid),
                client_id=client_id)
            notified += 1
    if commit:
        db.session.commit()
    return {"sessions": sessions, "tokens": tokens, "notified": notified, "reason": reason}
