"""Durable data of counter registration (issue 17 item 2, "Bưu điện Việt Nam"): a clerk at a
counter checked the citizen's ID card in person and entered the registration; the citizen
completes it online with the activation code (accounts/counter.py has the rules). Kept apart
from models.py only for its size; the same metadata (db.Model).

States: `phone_pending` (the phone's code was sent; the citizen reads it to the clerk) →
`issued` (the phone is proven; the activation code went by SMS and on the printed slip) →
`activated` (the citizen set a password: `citizen_id`) | `expired` (not activated within
counter_activation_ttl) | `cancelled` (a newer registration of the same ID number, or the
clerk). Codes are stored as keyed HMACs (accounts/counter.py `_digest`), never in clear."""
from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.platform.db import db, now


class CounterRegistration(db.Model):
    """One registration entered at a counter. `reference`: 8 Crockford base32 characters,
    printed on the slip and typed with the activation code; `counter`: the clerk's counter as
    their staff account names it; `staff_full_name`: the clerk's name at the time (the account
    page shows it, whatever becomes of the staff account)."""
    __tablename__ = "counter_registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(8), unique=True, nullable=False)
    id_number: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    birth_date: Mapped[str] = mapped_column(String(10), nullable=False)  # YYYY-MM-DD
    gender: Mapped[str] = mapped_column(String(10), nullable=False)
    phone: Mapped[str] = mapped_column(String(16), nullable=False)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    counter: Mapped[str] = mapped_column(String(200), nullable=False)
    staff_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    staff_username: Mapped[str] = mapped_column(String(64), nullable=False)
    staff_full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="phone_pending")
    # The phone's code (6 digits), proven at the counter.
    phone_code_hash: Mapped[str | None] = mapped_column(String(64))
    phone_code_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    phone_code_sends: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    phone_code_sent_at: Mapped[float | None] = mapped_column(Float)
    phone_code_expires_at: Mapped[float | None] = mapped_column(Float)
    # The activation code (10 digits), typed by the citizen online.
    activation_code_hash: Mapped[str | None] = mapped_column(String(64))
    activation_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    activation_expires_at: Mapped[float | None] = mapped_column(Float)
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    issued_at: Mapped[float | None] = mapped_column(Float)
    activated_at: Mapped[float | None] = mapped_column(Float)
