"""The challenge a certificate holder signs, made by the IdP and bound to one flow
(reference/pki.md §1).

Why it is built here and never taken from the browser: a challenge the page chooses (as
VNPT's demo does) can be replayed — a signature captured once would sign in forever. Ours
holds a random `tx_id`, a 256-bit nonce, a short display code the user compares on the IdP
page and on the phone (SIM / SmartCA), the issuer, purpose, client and time, as canonical
JSON (UTF-8, sorted keys, no spaces). Signers receive either its SHA-256 `digest` (remote
signers: SmartCA `signhash`, QĐ769 hash signing) or the `payload` bytes themselves (the USB
plugin's signCms).

Storage: the ephemeral store, `cert-challenge:<flow_id>`, one pending challenge per flow —
issuing again replaces it (the old `tx_id` then reads as used). `cert-challenge-tx:<tx_id>`
names the owning flow, so a `tx_id` presented in another flow is told apart ("wrong_flow")
from one that expired or was used. `consume` takes the challenge with the store's atomic
`take`: of two concurrent submissions exactly one gets it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app

from idp.platform.db import now
from idp.platform.reasons import ReasonedError
from idp.platform.store import EphemeralStore

PURPOSES = ("login", "register", "link")
# No 0/O, 1/I/L: the code is read off one screen and compared with another.
DISPLAY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
DISPLAY_LENGTH = 4
DEFAULT_TTL = 300
_MAX_TX_ID = 64


class ChallengeRefused(ReasonedError):
    """The signed challenge cannot be used: "expired_or_used" (unknown, expired, replaced or
    already consumed) or "wrong_flow" (it belongs to another flow). The page shows
    `message_id` (idp/platform/messages/certificate.py)."""

    area = "certificate"


@dataclass(frozen=True)
class Challenge:
    """One issued challenge. `payload` is exactly the bytes signed (or hashed for signing);
    the other fields are read from it, so they cannot disagree with what was signed."""

    flow_id: str
    payload: bytes
    expires_at: float

    @property
    def fields(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.payload))

    def field(self, name: str) -> str:
        """One signed field as text: `tx_id`, `display_code`, `purpose`, `client_id`."""
        return str(self.fields[name])

    @property
    def tx_id(self) -> str:
        return self.field("tx_id")

    @property
    def display_code(self) -> str:
        return self.field("display_code")

    @property
    def digest(self) -> bytes:
        """SHA-256 of the payload: what a remote signer signs."""
        return hashlib.sha256(self.payload).digest()

    @property
    def digest_hex(self) -> str:
        """The digest as QĐ769's `data_to_be_signed` for hash signing (hex)."""
        return self.digest.hex()

    @property
    def digest_b64(self) -> str:
        """The digest as SmartCA's `signhash` takes it (Base64)."""
        return base64.b64encode(self.digest).decode("ascii")


def _store() -> EphemeralStore:
    return cast(EphemeralStore, current_app.extensions["idp.store"])


def _key(flow_id: str) -> str:
    return "cert-challenge:" + flow_id


def _tx_key(tx_id: str) -> str:
    return "cert-challenge-tx:" + tx_id


def canonical(fields: dict[str, Any]) -> bytes:
    """The one serialisation of a challenge: UTF-8 JSON, sorted keys, no whitespace."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def issue(flow_id: str, purpose: str, client_id: str, issuer: str,
          ttl: int = DEFAULT_TTL) -> Challenge:
    """A new challenge for `flow_id`, replacing any pending one of that flow."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown challenge purpose {purpose!r}")
    if not flow_id or ttl <= 0:
        raise ValueError("a challenge needs a flow and a positive lifetime")
    t = now()
    fields = {
        "issuer": issuer, "purpose": purpose, "client_id": client_id, "iat": int(t),
        "tx_id": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(32),
        "display_code": "".join(secrets.choice(DISPLAY_ALPHABET)
                                for _ in range(DISPLAY_LENGTH)),
    }
    challenge = Challenge(flow_id=flow_id, payload=canonical(fields), expires_at=t + ttl)
    store = _store()
    previous = store.get(_key(flow_id))
    if previous is not None:
        store.delete(_tx_key(str(previous.get("tx_id", ""))))
    store.put(_key(flow_id), {"tx_id": challenge.tx_id, "payload": challenge.payload.decode(),
                              "expires_at": challenge.expires_at}, ttl)
    store.put(_tx_key(challenge.tx_id), {"flow_id": flow_id}, ttl)
    return challenge


def pending(flow_id: str) -> Challenge | None:
    """The flow's pending challenge (to show its display code again), without consuming it."""
    record = _store().get(_key(flow_id))
    return _load(flow_id, record) if record is not None else None


def _load(flow_id: str, record: dict[str, Any]) -> Challenge:
    return Challenge(flow_id=flow_id, payload=str(record["payload"]).encode("utf-8"),
                     expires_at=float(record["expires_at"]))


def consume(flow_id: str, tx_id: str) -> Challenge:
    """The flow's challenge `tx_id`, removed so it is used exactly once. The caller then
    verifies the signature over `challenge.digest` or `challenge.payload`. A mismatch leaves
    the flow's current challenge in place (a stale tab must not burn the live one)."""
    if not isinstance(tx_id, str) or not tx_id or len(tx_id) > _MAX_TX_ID:
        raise ChallengeRefused("expired_or_used")
    store = _store()
    owner = store.get(_tx_key(tx_id))
    if owner is not None and owner.get("flow_id") != flow_id:
        raise ChallengeRefused("wrong_flow")
    current = store.get(_key(flow_id))
    if current is None or not hmac.compare_digest(str(current.get("tx_id", "")), tx_id):
        raise ChallengeRefused("expired_or_used")
    taken = store.take(_key(flow_id))
    if taken is None or not hmac.compare_digest(str(taken.get("tx_id", "")), tx_id):
        raise ChallengeRefused("expired_or_used")  # a concurrent consume or issue came first
    store.delete(_tx_key(tx_id))
    challenge = _load(flow_id, taken)
    if challenge.expires_at <= now():
        raise ChallengeRefused("expired_or_used")
    return challenge
