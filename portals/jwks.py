"""The IdP's signing keys for the back-channel logout receiver, with forced refetches throttled.

Authlib caches the JWKS of the discovery document; a logout token signed by a key not in the
cache (the IdP rotated) needs one refetch. Anyone can POST a token with an invented `kid`, so
at most one forced refetch per `interval` seconds reaches the IdP, whatever the traffic.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from authlib.integrations.flask_client import FlaskOAuth2App
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet

JWKS_REFETCH_INTERVAL = 10.0  # at most one forced JWKS refetch per 10 s from the receiver


@dataclass
class IdpKeys:
    """One per portal application (shared by its threads, hence the lock)."""

    client: FlaskOAuth2App
    interval: float = JWKS_REFETCH_INTERVAL
    _last_forced: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def keyset(self, force: bool = False) -> KeySet:
        """The cached key set, or (force) a fresh one unless one was fetched too recently:
        then InvalidKeyIdError, which the caller reports as an invalid token."""
        if not force:
            return KeySet.import_key_set(self.client.fetch_jwk_set())
        with self._lock:
            if time.monotonic() - self._last_forced < self.interval:
                raise InvalidKeyIdError("unknown kid (JWKS refetched recently)")
            self._last_forced = time.monotonic()
            return KeySet.import_key_set(self.client.fetch_jwk_set(force=True))
