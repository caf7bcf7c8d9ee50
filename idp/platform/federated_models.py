"""Durable data of the upstream broker (issue 16, "Đăng nhập bằng VNeID"): which outside
identity (an upstream provider's subject) is linked to which account. Kept apart from
models.py only for its size; the same metadata (db.Model)."""
from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.platform.db import db, now


class FederatedIdentity(db.Model):
    """An upstream identity linked to an account (accounts/federation.py). `provider`: the
    name in the upstream providers file ("vneid"); `subject`: what that provider names the
    person by (an OIDC provider's `sub`; VNeID's encrypted mode has only `citizenPid`);
    `pid`: the 12-digit personal identification number it asserted, the linking key;
    `account_level`: the upstream account level last seen (VNeID 1 or 2; NULL unknown).
    One account may hold several (one per provider); a subject belongs to one account."""
    __tablename__ = "federated_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[str] = mapped_column(String(12), nullable=False)
    account_level: Mapped[int | None] = mapped_column(Integer)
    # how the link was made: "created" (the account came from the upstream), "id_number"
    # (an account with that number existed), "cmnd" (an old 9-digit account, proven)
    linked_by: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    last_login_at: Mapped[float | None] = mapped_column(Float)
