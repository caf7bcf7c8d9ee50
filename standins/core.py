"""What both signing stand-ins share: the subscribers they serve, real signatures made with
the subscribers' test keys, and the signing transactions the "phone" approves or not.

`DATA_DIR/subscribers.json` is a list of
    {"user_id": CCCD, "phone": "09…", "password": SmartCA demo login,
     "cert_pem": leaf, "chain_pem": [intermediates…], "key_pem": the leaf's private key,
     "status": "valid" | "revoked", "signatures_left": optional int (SmartCA service pack)}
and is re-read on reset. A subscriber may appear several times, once per certificate.

Time is the stand-in's own clock: wall time plus an offset a test may move (/_control/), so
"a code older than 15 s" or "a request not answered in its lifetime" need no sleeping.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

FINAL = ("approved", "rejected", "expired", "failed")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def utc_stamp(moment: datetime | float) -> str:
    """yyyyMMddHHmmssZ, as both services write certificate dates and signing times."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def national_phone(text: str) -> str:
    """0912345678 from +84912345678, 84912345678 or 0912 345 678."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits.startswith("84") and len(digits) == 11:
        return "0" + digits[2:]
    return digits


@dataclass
class Subscriber:
    user_id: str
    phone: str
    password: str
    cert: x509.Certificate
    chain: list[x509.Certificate]
    key: Any
    status: str = "valid"
    signatures_left: int | None = None

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def chain_der(self) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.DER) for c in self.chain]

    @property
    def serial(self) -> str:
        return format(self.cert.serial_number, "x")

    @property
    def credential_id(self) -> str:
        """Stable across resets, distinct per certificate."""
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self.user_id}/{self.serial}"))

    def answers_to(self, who: str) -> bool:
        """Is `who` this subscriber's user id, or their phone in any spelling?"""
        who = (who or "").strip()
        return bool(who) and (who == self.user_id or (
            bool(self.phone) and national_phone(who) == national_phone(self.phone)))


def load_subscribers(data_dir: Path) -> list[Subscriber]:
    path = Path(data_dir) / "subscribers.json"
    entries = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: a JSON list of subscribers is expected")
    found = []
    for entry in entries:
        chain = [x509.load_pem_x509_certificate(pem.encode()) for pem in
                 entry.get("chain_pem") or []]
        key = serialization.load_pem_private_key(entry["key_pem"].encode(), password=None)
        if entry.get("status", "valid") not in ("valid", "revoked"):
            raise ValueError(f"{path}: status must be valid or revoked")
        found.append(Subscriber(
            user_id=str(entry["user_id"]), phone=str(entry.get("phone") or ""),
            password=str(entry.get("password") or ""),
            cert=x509.load_pem_x509_certificate(entry["cert_pem"].encode()), chain=chain,
            key=key, status=entry.get("status", "valid"),
            signatures_left=entry.get("signatures_left")))
    return found


def sign_digest(key: Any, digest: bytes) -> bytes:
    """What the HSM or SIM does: sign the SHA-256 digest it was given (never the data) —
    RSA PKCS#1 v1.5 over the DigestInfo, or ECDSA (DER)."""
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, padding.PKCS1v15(), prehashed)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(digest, ec.ECDSA(prehashed))
    raise ValueError("the stand-ins sign with RSA or EC keys")


@dataclass
class Transaction:
    """One signing request waiting for (or past) the citizen's answer on the phone. `items`
    are (label, SHA-256 digest) pairs: QĐ769 doc_ids, SmartCA data names."""

    id: str
    subscriber: Subscriber
    items: list[tuple[str, bytes]]
    display: str
    created: float
    state: str = "pending"
    detail: str = ""
    signatures: list[bytes] = field(default_factory=list)
    finished: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """For /_control/ listings: no key material, the digests in hex."""
        return {"id": self.id, "user_id": self.subscriber.user_id,
                "phone": self.subscriber.phone, "display": self.display, "state": self.state,
                "detail": self.detail, "created": self.created, "finished": self.finished,
                "items": [[label, digest.hex()] for label, digest in self.items],
                "signed": bool(self.signatures), "extra": self.extra}


class Stand:
    """The mutable state of one stand-in, behind one lock. `on_final(tx)` runs once per
    transaction, when it leaves "pending" (SmartCA's notifyUrl), outside the lock."""

    def __init__(self, data_dir: Path, lifetime: float = 120.0,
                 on_final: Callable[[Transaction], None] | None = None):
        self.data_dir = Path(data_dir)
        self.default_lifetime = lifetime
        self.on_final = on_final
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.subscribers = load_subscribers(self.data_dir)
            self.transactions: dict[str, Transaction] = {}
            self.requests: list[dict[str, Any]] = []
            self.latency = 0.0
            self.clock_offset = 0.0
            self.fault = ""
            self.lifetime = self.default_lifetime

    def now(self) -> float:
        return time.time() + self.clock_offset

    def find(self, who: str) -> list[Subscriber]:
        return [s for s in self.subscribers if s.answers_to(who)]

    def add(self, subscriber: Subscriber, items: list[tuple[str, bytes]], display: str,
            **extra: Any) -> Transaction:
        tx = Transaction(id=str(uuid.uuid4()), subscriber=subscriber, items=items,
                         display=display, created=self.now(), extra=extra)
        with self.lock:
            self.transactions[tx.id] = tx
        return tx

    def finish(self, tx_id: str, state: str, detail: str = "") -> Transaction | None:
        """Move a pending transaction to a final state (approved: sign every item with the
        subscriber's key). A transaction already final stays as it is: None."""
        if state not in FINAL:
            raise ValueError(f"state must be one of {FINAL}")
        with self.lock:
            tx = self.transactions.get(tx_id)
            if tx is None or tx.state != "pending":
                return None
            if state == "approved":
                tx.signatures = [sign_digest(tx.subscriber.key, d) for _, d in tx.items]
            tx.state, tx.detail, tx.finished = state, detail, self.now()
        if self.on_final is not None:
            self.on_final(tx)
        return tx

    def sweep(self) -> None:
        """Expire what waited longer than its lifetime (noticed at the next request)."""
        with self.lock:
            late = [tx.id for tx in self.transactions.values()
                    if tx.state == "pending" and self.now() - tx.created > self.lifetime]
        for tx_id in late:
            self.finish(tx_id, "expired", "not answered in time")

    def pending_for(self, who: str) -> list[Transaction]:
        with self.lock:
            return [tx for tx in self.transactions.values()
                    if tx.state == "pending" and tx.subscriber.answers_to(who)]
