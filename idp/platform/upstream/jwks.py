"""An OIDC provider's metadata (discovery) and signing keys (JWKS), fetched at first use and
cached. An unknown `kid` refetches the JWKS once — and at most once per `REFETCH_INTERVAL`
per provider, so forged tokens with random kids cannot make us hammer the provider."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from joserfc.jwk import KeySet

from idp.platform.upstream.errors import UpstreamError
from idp.platform.upstream.settings import ProviderSettings, url_is_acceptable

REFETCH_INTERVAL = 30.0
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
              "end_session_endpoint")

Fetch = Callable[[str], Any]  # GET url → JSON (raises UpstreamError)


class Metadata:
    """The endpoints: the explicit settings, else discovery's (fetched once, lazily)."""

    def __init__(self, settings: ProviderSettings, fetch: Fetch):
        self.settings, self._fetch = settings, fetch
        self._doc: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def document(self) -> dict[str, Any]:
        s = self.settings
        if not s.discovery_url:
            return {}
        with self._lock:
            if self._doc is None:
                doc = self._fetch(s.discovery_url)
                if not isinstance(doc, dict):
                    raise UpstreamError("bad_response", f"{s.name}: discovery is not an object")
                if doc.get("issuer") != s.issuer:
                    raise UpstreamError("wrong_issuer", f"{s.name}: discovery names another "
                                                        "issuer")
                for key in _ENDPOINTS:
                    value = doc.get(key)
                    if value is not None and not (isinstance(value, str)
                                                  and url_is_acceptable(value)):
                        raise UpstreamError("bad_response", f"{s.name}: discovery {key} unusable")
                self._doc = doc
            return self._doc

    def endpoint(self, key: str) -> str:
        explicit: str = getattr(self.settings, key, "")
        if explicit:
            return explicit
        value = self.document().get(key) if self.settings.discovery_url else None
        return value if isinstance(value, str) else ""

    def flag(self, key: str) -> bool:
        return self.document().get(key) is True if self.settings.discovery_url else False


class Keys:
    def __init__(self, settings: ProviderSettings, metadata: Metadata, fetch: Fetch,
                 clock: Callable[[], float] = time.monotonic):
        self.settings, self.metadata, self._fetch, self._clock = settings, metadata, fetch, clock
        self._keys: KeySet | None = None
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def _load(self) -> KeySet:
        uri = self.metadata.endpoint("jwks_uri")
        if not uri:
            raise UpstreamError("bad_response", f"{self.settings.name}: no jwks_uri")
        doc = self._fetch(uri)
        try:
            keys = KeySet.import_key_set(doc)
        except Exception:  # joserfc raises several types for a bad key set
            raise UpstreamError("bad_response", f"{self.settings.name}: JWKS unusable") from None
        self._keys, self._fetched_at = keys, self._clock()
        return keys

    def find(self, kid: str | None, kty: str) -> Any:
        """The key `kid` (or the only key of type `kty` when the token names none)."""
        with self._lock:
            keys = self._keys or self._load()
            found = _pick(keys, kid, kty)
            if found is None and self._fetched_at is not None \
                    and self._clock() - self._fetched_at >= REFETCH_INTERVAL:
                found = _pick(self._load(), kid, kty)
            return found

    def algorithms(self) -> set[str]:
        keys = self._keys
        return {k.alg for k in keys.keys if k.alg} if keys else set()


def _pick(keys: KeySet, kid: str | None, kty: str) -> Any:
    usable = [k for k in keys.keys if k.key_type == kty
              and k.get("use", "sig") == "sig"]
    if kid is None:
        return usable[0] if len(usable) == 1 else None
    for key in usable:
        if key.kid == kid:
            return key
    return None
