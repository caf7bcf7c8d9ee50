"""The columns that let the account table (`citizens`, models.Citizen) hold organisations and
record how an account was verified, and those that make an `auth_methods` row a certificate
binding (issue 15 items 4 and 5): mixins of models.Citizen and models.AuthMethod.

Why an organisation is a row of `citizens` and not of a table of its own: every
authorization code, token, SSO session, consent, recovery code, complaint and outbox row
points at `citizens.id`, and the protocol (ID token, userinfo, logout), the session and the
account page read that row. A separate table would need a second (or a polymorphic) foreign
key through all of them; one more column changes none of them. So:
- `account_type`: "citizen" (every existing row: the server default), "business" (Doanh
  nghiệp) or "agency" (Cơ quan nhà nước): the national portal's LoaiTaiKhoan 1 / 2 / 3.
- `id_number` stays the unique account key. An organisation's is its certificate's code
  with the prefix: "MST:0123456787" (a branch: "MST:0123456787-001") or "MNS:1000000". The
  prefix keeps the three key spaces apart under the one unique index (an MNS's format is not
  known: reference pki.md §6), and an organisation's key never parses as a personal ID
  number, so no path that looks an account up by a typed ID number (password login, "Quên
  mật khẩu", lost phone, complaints) can reach an organisation: it signs in by certificate
  only (accounts/cert_accounts.py).
- `full_name` holds the organisation's name (the certificate's CN); `org_mst` / `org_mns`
  the plain codes the claims and pages show; `legal_representative` as typed at
  registration. An organisation's `birth_date` and `gender` are "" and its `password_hash`
  is unusable (accounts/organisations.NO_PASSWORD).
- `ial` / `verified_by`: how the identity was proven at registration: "IAL2" by "mobile"
  (the carrier's KYC), by "vssid" (the social-insurance record, accounts/bhxh.py), by
  "vnpost" (the ID card checked in person at a Vietnam Post counter: the counter and the
  clerk are on its `counter_registrations` row), "IAL3" by a certificate carrier ("usb",
  "sim", "smartca"), by "vneid" (an account created from a VNeID login: IAL2 at VNeID
  level 2). NULL for accounts made before it was recorded, or by an operator.
- `former_id_number`: the old 9-digit CMND of an account moved to its 12-digit personal
  identification number when its holder linked it to VNeID (accounts/federation.py).
"""
from __future__ import annotations

from sqlalchemy import Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class AccountKindColumns:
    """models.Citizen's columns for organisations and verification (module docstring)."""

    account_type: Mapped[str] = mapped_column(String(10), nullable=False, default="citizen",
                                              server_default="citizen")
    org_mst: Mapped[str | None] = mapped_column(String(14))
    org_mns: Mapped[str | None] = mapped_column(String(20))
    legal_representative: Mapped[str | None] = mapped_column(String(200))
    ial: Mapped[str | None] = mapped_column(String(4))
    verified_by: Mapped[str | None] = mapped_column(String(16))
    former_id_number: Mapped[str | None] = mapped_column(String(24))


class CertificateBindingColumns:
    """models.AuthMethod's columns for kind "cert": a certificate bound to the account when it
    registered with it (flows/register/certificate.py), listed and removable on the account
    page. `cert_sha256`: hex SHA-256 of the DER (indexed: the binding of a presented
    certificate); `cert_issuer`: the issuer DN (RFC 4514); `cert_serial`: hex; `cert_uids`:
    JSON list of the subject's UID values as [prefix, value]; `carrier`: the sign-in method
    id that proved it (usb, sim, smartca); `cert_removed_at`: when the owner removed it on the
    account page — the row stays, and that certificate no longer signs in to this account
    (a lost or handed-over token), while the citizen's other certificates still do."""

    cert_removed_at: Mapped[float | None] = mapped_column(Float)
    cert_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    cert_issuer: Mapped[str | None] = mapped_column(String(500))
    cert_serial: Mapped[str | None] = mapped_column(String(64))
    cert_uids: Mapped[str | None] = mapped_column(Text)
    carrier: Mapped[str | None] = mapped_column(String(20))
