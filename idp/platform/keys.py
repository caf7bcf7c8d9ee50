"""Signing keys (DESIGN.md §4).

Keys live in the database so every node signs with the same key; nodes never generate keys on
their own (only `idp init` / `idp keys rotate` do). Private parts are encrypted at rest with
AES-256-GCM under the key-encryption key (KEK): `keys/kek.key` in development (generated on
first use, git-ignored), `IDP_KEK` in production.

States per algorithm: next (published, not yet signing) -> current (signs) -> previous (still
published, so tokens and id_token_hints keep verifying) -> retired (gone from JWKS).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select

from idp.platform.db import db, now
from idp.platform.fileperms import private_dir, tighten
from idp.platform.models import SigningKey

ALGORITHMS = ("ES256", "RS256")
PUBLISHED_STATES = ("next", "current", "previous")
KEYS_DIR = Path(__file__).resolve().parents[2] / "keys"


class KeyError_(Exception):
    """An operator-facing key problem (unknown kid, wrong state, missing KEK)."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_kek(settings: dict, create: bool = False) -> bytes:
    if settings.get("kek"):
        try:
            kek = _b64d(settings["kek"].strip())
        except ValueError:
            raise KeyError_("IDP_KEK is not valid base64url") from None
        if len(kek) != 32:
            raise KeyError_("IDP_KEK must decode to 32 bytes")
        return kek
    if settings["env"] == "production":
        raise KeyError_("production: IDP_KEK must be set")
    path = Path(os.environ.get("IDP_KEK_FILE", KEYS_DIR / "kek.key"))
    if not path.exists():
        if not create:
            raise KeyError_(f"no key-encryption key at {path}: run `idp init`")
        _create_file_once(path, base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))
    else:  # made by an older version: 0600 in a 0700 keys/ (issue 11 item 6)
        tighten(path)
        if path.parent == KEYS_DIR:
            tighten(KEYS_DIR)
    kek = _b64d(path.read_text().strip())
    if len(kek) != 32:
        raise KeyError_(f"{path} does not hold a 32-byte key")
    return kek


def _create_file_once(path: Path, content: str) -> None:
    """Write a complete file under `path` unless one exists; safe when several processes
    start at once (the first link wins, the others read its content)."""
    private_dir(path.parent, tighten_existing=path.parent == KEYS_DIR)  # 0700 (issue 11 item 6)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kek-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        os.chmod(tmp, 0o600)
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def seal(kek: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM under the key-encryption key: nonce || ciphertext (other secrets at rest,
    e.g. TOTP seeds, use the same envelope as the signing keys)."""
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, plaintext, aad)


def unseal(kek: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(kek).decrypt(sealed[:12], sealed[12:], aad)


def _generate(alg: str):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise KeyError_(f"unsupported algorithm {alg}")


def _public_jwk(private, alg: str) -> dict:
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    key = (ECKey if alg == "ES256" else RSAKey).import_key(pem)
    jwk = key.as_dict(private=False)
    # kid = algorithm + RFC 7638 thumbprint: unique, derived from the key itself, and never
    # starting with "-" (which a command line would read as an option).
    jwk["kid"] = f"{alg}-{key.thumbprint()}"
    jwk["alg"] = alg
    jwk["use"] = "sig"
    return jwk


def create_key(kek: bytes, alg: str, state: str) -> SigningKey:
    private = _generate(alg)
    jwk = _public_jwk(private, alg)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    enc = seal(kek, der, jwk["kid"].encode())
    row = SigningKey(kid=jwk["kid"], alg=alg, state=state,
                     public_jwk=json.dumps(jwk, sort_keys=True), private_enc=enc)
    db.session.add(row)
    return row


def ensure_keys(kek: bytes) -> list[str]:
    """`idp init`: for each algorithm without keys, a current and a next key. Returns new kids."""
    created = []
    for alg in ALGORITHMS:
        states = {k.state for k in db.session.scalars(
            select(SigningKey).where(SigningKey.alg == alg))}
        if "current" not in states:
            created.append(create_key(kek, alg, "current").kid)
        if "next" not in states:
            created.append(create_key(kek, alg, "next").kid)
    db.session.commit()
    return created


def rotate(kek: bytes, min_next_age: float = 0.0) -> list[tuple[str, str, str]]:
    """next -> current, current -> previous, and a fresh next, for every algorithm, in one
    transaction. Refuses when a next key has been published for less than `min_next_age`
    seconds (RPs that cached the JWKS could not yet verify tokens signed with it)."""
    changes = []
    t = now()
    keys = db.session.scalars(select(SigningKey).where(SigningKey.state.in_(("next", "current")))
                              .with_for_update()).all()
    for alg in ALGORITHMS:
        nxt = [k for k in keys if k.alg == alg and k.state == "next"]
        cur = [k for k in keys if k.alg == alg and k.state == "current"]
        if not nxt or not cur:
            db.session.rollback()
            raise KeyError_(f"no current/next {alg} key: run `idp init` first")
        age = t - nxt[0].state_changed_at
        if age < min_next_age:
            db.session.rollback()
            raise KeyError_(
                f"the next {alg} key {nxt[0].kid} has been published for {int(age)} s only; "
                f"relying parties cache the JWKS for {int(min_next_age)} s "
                f"(use --force for an emergency rotation)")
        for k in cur:
            k.state, k.state_changed_at = "previous", t
            changes.append((k.kid, "current", "previous"))
        nxt[0].state, nxt[0].state_changed_at = "current", t
        changes.append((nxt[0].kid, "next", "current"))
        fresh = create_key(kek, alg, "next")
        changes.append((fresh.kid, "-", "next"))
    db.session.commit()
    return changes


def retire(kid: str) -> SigningKey:
    key = db.session.get(SigningKey, kid)
    if key is None:
        raise KeyError_(f"no key with kid {kid}")
    if key.state == "current":
        raise KeyError_(f"{kid} is the current signing key: rotate first, then retire it")
    if key.state == "retired":
        raise KeyError_(f"{kid} is already retired")
    if key.state == "next":
        raise KeyError_(f"{kid} is the next key: rotate or replace it instead of retiring it")
    key.state, key.state_changed_at = "retired", now()
    db.session.commit()
    return key


class KeyRing:
    """A node's read-only view of the keys, re-read from the database every `refresh` seconds
    (so every node signs with the new key within that bound after a rotation)."""

    def __init__(self, kek: bytes, refresh: float, jwks_max_age: int):
        self._kek = kek
        self._refresh = refresh
        self._max_age = jwks_max_age
        self._lock = threading.Lock()
        self._loaded_at = -1.0
        self._signing: dict[str, tuple[str, object]] = {}
        self._public: dict[str, object] = {}
        self._private_cache: dict[str, object] = {}
        self.jwks_bytes = b'{"keys":[]}'
        self.jwks_etag = '""'

    def invalidate(self):
        self._loaded_at = -1.0

    def published(self) -> tuple[bytes, str] | None:
        """The JWKS bytes and ETag while they are fresh, without touching the database; None
        when a reload is due (the caller then goes through `jwks()`, inside an app context)."""
        return (self.jwks_bytes, self.jwks_etag) if self._fresh() else None

    def _fresh(self) -> bool:
        return time.monotonic() - self._loaded_at < self._refresh

    def _maybe_reload(self):
        if self._fresh():
            return
        with self._lock:
            if self._fresh():
                return
            rows = db.session.execute(
                select(SigningKey.kid, SigningKey.alg, SigningKey.state, SigningKey.public_jwk,
                       SigningKey.private_enc)
                .where(SigningKey.state.in_(PUBLISHED_STATES))
                .order_by(SigningKey.alg, SigningKey.created_at)).all()
            db.session.commit()
            public, signing, jwks = {}, {}, []
            for kid, alg, state, public_jwk, private_enc in rows:
                jwk = json.loads(public_jwk)
                jwks.append(jwk)
                public[kid] = (ECKey if alg == "ES256" else RSAKey).import_key(jwk)
                if state == "current":
                    signing[alg] = (kid, self._private(kid, private_enc))
            body = json.dumps({"keys": jwks}, separators=(",", ":"), sort_keys=True).encode()
            self._public, self._signing = public, signing
            self.jwks_bytes = body
            self.jwks_etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            self._loaded_at = time.monotonic()

    def _private(self, kid: str, enc: bytes):
        key = self._private_cache.get(kid)
        if key is None:
            der = unseal(self._kek, enc, kid.encode())
            private = serialization.load_der_private_key(der, password=None)
            pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
            key = (ECKey if isinstance(private, ec.EllipticCurvePrivateKey)
                   else RSAKey).import_key(pem)
            self._private_cache[kid] = key
        return key

    def jwks(self) -> tuple[bytes, str]:
        self._maybe_reload()
        return self.jwks_bytes, self.jwks_etag

    def sign(self, claims: dict, alg: str = "ES256", typ: str | None = None) -> str:
        self._maybe_reload()
        try:
            kid, key = self._signing[alg]
        except KeyError:
            raise KeyError_(f"no current {alg} signing key: run `idp init`") from None
        header = {"alg": alg, "kid": kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, key, algorithms=[alg])

    def verify(self, token: str) -> dict:
        """Verify a JWT we signed (any published key); returns its claims or raises ValueError."""
        self._maybe_reload()
        keyset = KeySet(list(self._public.values()))
        try:
            return jwt.decode(token, keyset, algorithms=list(ALGORITHMS)).claims
        except Exception as exc:  # joserfc raises several types; all mean "not ours / invalid"
            raise ValueError(str(exc)) from None
