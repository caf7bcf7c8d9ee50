"""Durable data (DESIGN.md §3). Instants are epoch seconds (float); secrets stored hashed."""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy import Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.platform.account_columns import AccountKindColumns, CertificateBindingColumns
from idp.platform.complaint_models import Complaint as Complaint
from idp.platform.counter_models import CounterRegistration as CounterRegistration
from idp.platform.db import db, now
from idp.platform.federated_models import FederatedIdentity as FederatedIdentity
from idp.platform.staff_models import StaffMember as StaffMember


class Citizen(AccountKindColumns, db.Model):
    """An account, a citizen's or an organisation's (platform/account_columns.py: why, keys)."""
    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Opaque, never reassigned subject identifier (OIDC Core §2); the ID number is not the sub.
    sub: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    id_number: Mapped[str] = mapped_column(String(24), unique=True, nullable=False)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    birth_date: Mapped[str] = mapped_column(String(10), nullable=False)  # YYYY-MM-DD
    gender: Mapped[str] = mapped_column(String(10), nullable=False)  # male | female
    phone: Mapped[str] = mapped_column(String(16), nullable=False)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    # Consecutive wrong second-factor codes (SMS OTP, TOTP, recovery code) across all flows;
    # reset by a success. NIST 800-63B-4 §3.2.2: at most 100 before lock-out (otp_account_cap).
    otp_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    otp_locked_until: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    # Set by a password reset proven by SMS alone: the next login must use a second factor
    # that is not SMS when the account has one (ASVS 5.0 6.4.3).
    sms_reset_pending: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Set while a complaint says the account is not its holder's (idp/complaints.py): shown to
    # operators, never a lock by itself (anyone proving a phone of the ID number could set it).
    disputed_at: Mapped[float | None] = mapped_column(Float)
    password_changed_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False, default=now, onupdate=now)

    def get_user_id(self):  # Authlib
        return self.id


class AuthMethod(CertificateBindingColumns, db.Model):
    """A phone receiving SMS codes, an authenticator app or (kind cert) a bound certificate
    (platform/account_columns.py). One phone is the default (also `Citizen.phone`)."""
    __tablename__ = "auth_methods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # sms | totp | cert
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164, for sms
    # TOTP secret, AES-GCM under the key-encryption key (nonce || ciphertext), for totp.
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Last accepted TOTP time step: a code is never accepted twice (NIST 800-63B §5.1.4.2).
    last_step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    last_used_at: Mapped[float | None] = mapped_column(Float)


class RecoveryCode(db.Model):
    """One-time recovery codes (NIST look-up secrets): shown once, stored as SHA-256."""
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    used_at: Mapped[float | None] = mapped_column(Float)


class RecoveryRequest(db.Model):
    """Assisted recovery for a lost phone: recorded online, approved by an operator after
    identity proofing at a service counter (`idp recovery approve`)."""
    __tablename__ = "recovery_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    new_phone: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    decided_at: Mapped[float | None] = mapped_column(Float)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class Client(db.Model):
    """A relying party. Metadata uses RFC 7591 / OIDC Registration names (CONTRACT.md §3)."""
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    # "sha256$<hex>" of a high-entropy secret, or None for public clients.
    client_secret_hash: Mapped[str | None] = mapped_column(String(100))
    metadata_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)

    @property
    def client_metadata(self) -> dict:
        cached = self.__dict__.get("_metadata_cache")
        if cached is None:
            cached = json.loads(self.metadata_json or "{}")
            self.__dict__["_metadata_cache"] = cached
        return cached

    def set_metadata(self, meta: dict) -> None:
        self.metadata_json = json.dumps(meta, ensure_ascii=False, sort_keys=True)
        self.__dict__.pop("_metadata_cache", None)

    # --- Authlib ClientMixin
    @property
    def client_name(self) -> str:
        return self.client_metadata.get("client_name") or self.client_id

    @property
    def redirect_uris(self) -> list[str]:
        return self.client_metadata.get("redirect_uris", [])

    @property
    def token_endpoint_auth_method(self) -> str:
        return self.client_metadata.get("token_endpoint_auth_method", "client_secret_basic")

    @property
    def id_token_signed_response_alg(self) -> str:
        return self.client_metadata.get("id_token_signed_response_alg", "ES256")

    @property
    def is_first_party(self) -> bool:
        # Portals of the government are first-party (no consent screen) unless registered
        # as third-party with "first_party": false.
        return bool(self.client_metadata.get("first_party", True))

    @property
    def default_acr_values(self) -> list[str]:
        return self.client_metadata.get("default_acr_values", [])

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        # OIDC requires redirect_uri in every request; never guess one.
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(self.client_metadata.get("scope", "openid").split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        # Exact string comparison (RFC 9700 §2.1, RFC 3986 §6.2.1).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        from idp.platform.crypto import verify_secret
        return verify_secret(self.client_secret_hash, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type):
        return response_type in self.client_metadata.get("response_types", ["code"])

    def check_grant_type(self, grant_type):
        return grant_type in self.client_metadata.get(
            "grant_types", ["authorization_code", "refresh_token"])


class AuthorizationCode(db.Model):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The grant this code starts: its tokens carry the id, a replay revokes them (6749 §4.1.2).
    grant_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            nullable=False)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    auth_time: Mapped[int] = mapped_column(Integer, nullable=False)
    acr: Mapped[str] = mapped_column(String(10), nullable=False)
    amr_json: Mapped[str] = mapped_column(String(200), nullable=False, default="[]")
    sid: Mapped[str] = mapped_column(String(64), nullable=False)
    claims_json: Mapped[str | None] = mapped_column(Text)  # `claims` request parameter
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)
    consumed_at: Mapped[float | None] = mapped_column(Float)

    # Authlib AuthorizationCodeMixin
    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return self.acr

    def get_amr(self):
        return json.loads(self.amr_json)


class Token(db.Model):
    """One access token and, optionally, the refresh token issued with it. Rotation: a refresh
    token is used once (refresh_used_at); presenting a used one revokes the whole family."""
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grant_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    auth_time: Mapped[int] = mapped_column(Integer, nullable=False)
    acr: Mapped[str] = mapped_column(String(10), nullable=False)
    amr_json: Mapped[str] = mapped_column(String(200), nullable=False, default="[]")
    issued_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    access_expires_at: Mapped[float] = mapped_column(Float, nullable=False)
    refresh_expires_at: Mapped[float | None] = mapped_column(Float)
    refresh_used_at: Mapped[float | None] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)

    # Authlib TokenMixin (introspection / revocation)
    def check_client(self, client):
        return self.client_id == client.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return int(self.access_expires_at - self.issued_at)

    def is_expired(self):
        return self.access_expires_at <= now()

    def is_revoked(self):
        return self.revoked_at is not None


class SsoSession(db.Model):
    """The browser's login at the IdP. Kept in SQL (not only the ephemeral store) because it is
    listed per account, revoked in bulk (password reset, "sign out the others") and joined to
    the clients that received tokens from it (back-channel logout)."""
    __tablename__ = "sso_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # sha256 of the cookie value; the cookie itself is never stored.
    cookie_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    auth_time: Mapped[int] = mapped_column(Integer, nullable=False)
    acr: Mapped[str] = mapped_column(String(10), nullable=False)
    amr_json: Mapped[str] = mapped_column(String(200), nullable=False, default="[]")
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    last_seen_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)
    revoked_at: Mapped[float | None] = mapped_column(Float)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))

    @property
    def amr(self) -> list[str]:
        return json.loads(self.amr_json)


class SessionClient(db.Model):
    """Which clients received tokens from which SSO session (for logout)."""
    __tablename__ = "session_clients"
    __table_args__ = (sa.UniqueConstraint("sid", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid: Mapped[str] = mapped_column(ForeignKey("sso_sessions.sid", ondelete="CASCADE"),
                                     nullable=False, index=True)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)


class Consent(db.Model):
    __tablename__ = "consents"
    __table_args__ = (sa.UniqueConstraint("citizen_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                            nullable=False)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    granted_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)


class SigningKey(db.Model):
    """States: next -> current -> previous -> retired (DESIGN.md §4)."""
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10), nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False)
    public_jwk: Mapped[str] = mapped_column(Text, nullable=False)
    # AES-256-GCM(nonce || ciphertext) of the private key in PKCS#8 DER, AAD = kid.
    private_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    state_changed_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    citizen_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")


class Ephemeral(db.Model):
    """The SQL implementation of the ephemeral store (flows, captchas, counters)."""
    __tablename__ = "ephemeral"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False, default="")
    counter: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rev: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False, index=True)


class OutboxMessage(db.Model):
    """Work that must not be lost (idp/outbox.py): an SMS or a back-channel logout, written in
    the transaction of its cause and delivered by `idp worker`, at least once, under the stable
    `message_id` (the SMS port's message_id, the logout token's jti)."""
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # sms | backchannel
    purpose: Mapped[str] = mapped_column(String(40), nullable=False)  # reset, notify:..., logout
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    # AES-256-GCM(nonce || ciphertext) under the key-encryption key, AAD "outbox:<message_id>",
    # of the JSON payload (an SMS text holds a code); NULL once delivered or dead.
    payload_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    citizen_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    due_at: Mapped[float] = mapped_column(Float, nullable=False, default=now)
    # A claim: the worker that holds the row and until when; an expired lease is claimable.
    lease_until: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    done_at: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(String(200))
