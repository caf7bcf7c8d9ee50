"""The complaints table ("khiếu nại khi không sở hữu tài khoản", accounts/complaints.py), kept
apart from models.py (the other tables) by size only; models.py re-exports it."""
from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.platform.db import db, now


class Complaint(db.Model):
    """"Khiếu nại khi không sở hữu tài khoản" (seed §1 step 4; idp/complaints.py): someone who
    proved at registration (SMS code, then carrier KYC) a phone the carrier registers to an ID
    number that already has an account says the account is not theirs. Worked by operators
    (`idp complaints list|show|resolve`). `full_name`/`birth_date` are as typed at
    registration; `phone` is the number the SMS code proved (the contact number)."""
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    # The account complained about; kept (NULL) if the account row is ever deleted.
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    id_number: Mapped[str] = mapped_column(String(12), nullable=False)
    phone: Mapped[str] = mapped_column(String(16), nullable=False)  # E.164, proven by OTP
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    birth_date: Mapped[str] = mapped_column(String(10), nullable=False)  # YYYY-MM-DD
    email: Mapped[str | None] = mapped_column(String(254))
    description: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open", index=True)
    # owner_confirmed | account_disabled | transferred | rejected
    outcome: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)  # the operator's
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    resolved_at: Mapped[float | None] = mapped_column(Float)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
