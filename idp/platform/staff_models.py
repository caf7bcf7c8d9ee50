"""Durable data of the staff console (issue 17 item 3): the accounts of counter clerks,
support operators and administrators. Kept apart from models.py only for its size; the same
metadata (db.Model). Staff are not citizens: their own table, sign-in and session."""
from __future__ import annotations

from sqlalchemy import Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.platform.db import db, now


class StaffMember(db.Model):
    """A staff account (accounts/staff.py). `role`: clerk | support | admin
    (accounts/staff_roles.py says what each may do); `counter`: the counter or unit where a
    clerk works, as printed on slips ("Bưu điện tỉnh Đắk Lắk – quầy 2"); `totp_secret_enc`:
    the authenticator seed sealed under the key-encryption key (AAD "staff-totp:<id>"), like a
    citizen's; `totp_last_step`: the last accepted time step (a code works once)."""
    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    counter: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    last_login_at: Mapped[float | None] = mapped_column(Float)
