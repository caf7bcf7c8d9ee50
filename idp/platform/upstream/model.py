"""The value types the sign-in flows exchange with an upstream provider."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Expected:
    """What the flow stores at `begin()` (server side) and hands back to `finish()`."""

    state: str
    nonce: str
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class Start:
    url: str  # where to send the browser
    expected: Expected


@dataclass(frozen=True)
class UpstreamIdentity:
    provider: str
    subject: str = field(repr=False)  # oidc: the ID token's sub; vneid-encrypted: citizenPid
    pid: str = field(repr=False)  # 12 ASCII digits
    full_name: str = field(repr=False)  # stripped, NFC
    birth_date: datetime.date | None = field(repr=False)
    account_type: str
    account_level: int | None  # 1 or 2, else None
    sid: str | None
    id_token: str | None = field(repr=False)
    access_token: str = field(repr=False)


@dataclass(frozen=True)
class LogoutRequest:
    sub: str | None
    sid: str | None
    jti: str
