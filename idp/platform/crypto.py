"""Hashing and randomness. Passwords: Argon2id (OWASP parameters, security-requirements §0.12).
High-entropy secrets (codes, tokens, client secrets, cookies): SHA-256, compared in constant
time — they cannot be guessed, so a slow hash would only cost CPU on the hot path.

Passwords are NFKC-normalised before hashing and before verifying (NIST 800-63B-4 §3.1.1.2),
so the same password typed on a keyboard that sends decomposed Vietnamese letters (NFD) or
full-width characters still matches. ASCII is unchanged by NFKC, so hashes made before this
rule verify as before."""
from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")

# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32,
                         salt_len=16, type=Type.ID)


class _HashingThread:
    """Every Argon2 computation of a process runs on one thread of its own (issue 14).

    Each hash needs a 19 MiB block. glibc gives every request thread its own malloc arena and,
    once a block that size has been freed, keeps the next ones in the arenas instead of
    returning them: four request threads held 4 x 19 MiB for good (a worker at 199 MiB). On one
    thread the block is allocated once and reused — no page faults per hash either (returning
    the memory after each hash instead costs +40 % CPU per verify, measured). Parallelism comes
    from the worker processes (several per core), not from threads inside one: a hash releases
    the GIL, so the other request threads go on meanwhile. Created lazily per process (a
    thread does not survive fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._pool: ThreadPoolExecutor | None = None

    def run(self, fn: Callable[..., T], *args: object) -> T:
        pool = self._pool
        if pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="argon2")
                    self._pid = os.getpid()
                pool = self._pool
        return pool.submit(fn, *args).result()


_thread = _HashingThread()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the account does not exist, so a wrong ID number costs the same as a
    wrong password (same answer and similar timing; OWASP Authentication Cheat Sheet)."""
    return _thread.run(_hasher.hash, secrets.token_urlsafe(16))


def normalize_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return _thread.run(_hasher.hash, normalize_password(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-work check: with no stored hash, a dummy hash is verified and False returned."""
    try:
        ok = _thread.run(_hasher.verify, stored_hash or _dummy_hash(),
                         normalize_password(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def password_needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_secret(secret: str) -> str:
    return "sha256$" + sha256_hex(secret)


def verify_secret(stored: str | None, secret: str | None) -> bool:
    if not stored or secret is None:
        # Still do the work so a missing secret is not faster than a wrong one.
        hmac.compare_digest(sha256_hex(secret or ""), "0" * 64)
        return False
    scheme, _, digest = stored.partition("$")
    if scheme != "sha256":
        return False
    return hmac.compare_digest(sha256_hex(secret), digest)


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
