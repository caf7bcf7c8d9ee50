"""Fetching revocation information (OCSP answers, CRLs) for certificates whose path to a
configured anchor is already verified, and keeping it until its nextUpdate.

What this module decides, and why:

- It only fetches; judging is the path validator's (validation.py hands what was fetched to
  pyhanko-certvalidator, which checks the signature, the issuer and the freshness). The CAs
  publish over plain HTTP (`http://ocsp.vnpt-ca.vn/responder`, pki.md §5), so what arrives is
  untrusted bytes until then; that is also why it enters the cache only after validation used
  it (`remember`), never straight off the wire: a forged answer cannot pin a failure for days.
- Server-side request forgery: the addresses come from the certificate, which the citizen's
  browser or a carrier hands us. `fetch_for` is called only for certificates of a verified
  path (a stranger cannot mint one with a URL of their choosing), http(s) only, no redirects,
  and, when the operator sets `pki_revocation_allowed_hosts`, only to those hosts.
- OCSP first (one small answer per certificate), the CRL only when no OCSP answer is usable
  (a national CA's CRL can run to megabytes).
- A deadline for all requests of one validation together (`pki_revocation_timeout`), so a
  responder that hangs costs a login at most that long; the caller then fails closed.
- The cache is per process, bounded in entries and bytes (least recently used goes first), and
  an entry lives until the answer's nextUpdate, at most MAX_CACHE_SECONDS: a second login with
  the same certificate makes no request, and a new revocation is seen within the hour even
  from a CA whose CRL claims a week.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

MAX_CACHE_SECONDS = 3600
MAX_CACHE_ENTRIES = 512
MAX_CACHE_BYTES = 64 * 1024 * 1024
MAX_OCSP_BYTES = 64 * 1024
MAX_CRL_BYTES = 32 * 1024 * 1024


class FetchRefused(Exception):
    """A URL this module will not call (scheme, host not allowed)."""


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [d.access_location.value for d in aia
            if d.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(d.access_location, x509.UniformResourceIdentifier)]


def crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in cdp for name in point.full_name or ()
            if isinstance(name, x509.UniformResourceIdentifier)]


def check_url(url: str, allowed_hosts: frozenset[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchRefused(f"not an http(s) URL: {url!r}")
    if parts.username or parts.password:
        raise FetchRefused("credentials in a revocation URL")
    if allowed_hosts and parts.hostname.rstrip(".").lower() not in allowed_hosts:
        raise FetchRefused(f"host {parts.hostname!r} is not in pki_revocation_allowed_hosts")


@dataclass
class _Entry:
    kind: str  # "ocsp" | "crl"
    der: bytes
    expires: float


class _Cache:
    """Bounded LRU of validated answers: key -> _Entry (thread-safe; Flask serves with threads)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> _Entry | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            if entry.expires <= time.time():
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: _Entry) -> None:
        if entry.expires <= time.time() or len(entry.der) > MAX_CACHE_BYTES:
            return
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = entry
            self._bytes += len(entry.der)
            while len(self._items) > MAX_CACHE_ENTRIES or self._bytes > MAX_CACHE_BYTES:
                self._drop(next(iter(self._items)))

    def _drop(self, key: tuple) -> None:
        self._bytes -= len(self._items.pop(key).der)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


_cache = _Cache()


def clear_cache() -> None:
    """Forget every cached answer (tests; an operator's reload gets a new process anyway)."""
    _cache.clear()


def _ocsp_key(url: str, cert: x509.Certificate) -> tuple:
    return ("ocsp", url, cert.fingerprint(hashes.SHA256()))


def _crl_key(url: str) -> tuple:
    return ("crl", url)


def _expiry(next_update: dt.datetime | None) -> float:
    if next_update is None:
        return 0.0  # no promise of freshness: ask again next time
    return min(next_update.timestamp(), time.time() + MAX_CACHE_SECONDS)


@dataclass
class Gathered:
    """What one validation found for its path: the DER answers to hand to the validator, the
    cache entries to keep if the validator accepts them, and the certificates for which
    nothing usable was found (with why, for the log)."""

    ocsps: list[bytes] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    fresh: list[tuple[tuple, _Entry]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def _get(url: str, deadline: _Deadline, limit: int, *, body: bytes | None = None) -> bytes:
    """One GET (or, with a body, an OCSP POST), no redirects, at most `limit` bytes, within
    what is left of the deadline; any failure raises (the caller records it and moves on)."""
    import requests

    left = deadline.left()
    if left <= 0:
        raise TimeoutError("revocation deadline passed")
    headers = {"Accept": "application/ocsp-response" if body else "application/pkix-crl"}
    if body is not None:
        headers["Content-Type"] = "application/ocsp-request"
    with requests.request("POST" if body is not None else "GET", url, data=body,
                          headers=headers, timeout=left, allow_redirects=False,
                          stream=True) as response:
        if response.status_code != 200:
            raise ConnectionError(f"HTTP {response.status_code}")
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise ValueError(f"answer over {limit} bytes")
            if deadline.left() <= 0:
                raise TimeoutError("revocation deadline passed")
            chunks.append(chunk)
    return b"".join(chunks)


def _usable_ocsp(der: bytes, cert: x509.Certificate) -> ocsp.OCSPResponse | None:
    """A successful answer about this certificate saying good or revoked (unknown is no
    answer: the CRL may still know)."""
    try:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return None
        for single in response.responses:
            if (single.serial_number == cert.serial_number
                    and single.certificate_status != ocsp.OCSPCertStatus.UNKNOWN):
                return response
    except ValueError:
        return None
    return None


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    # SHA-1 CertID: the one every responder must understand (RFC 5019 §2.1.1, RFC 6960 B.1).
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    return request.public_bytes(serialization.Encoding.DER)


def _first_answer(kind: str, urls, key_of, fetch, deadline, allowed, found: Gathered,
                  errors) -> bool:
    """The first usable answer among `urls` (OCSP responders or CRL distribution points):
    from the cache, else fetched; `fetch(der)` returns the answer's nextUpdate, or None when
    the answer is not usable. Failures are noted in `errors` and the next address is tried."""
    into = found.ocsps if kind == "ocsp" else found.crls
    for url in urls:
        key = key_of(url)
        entry = _cache.get(key)
        if entry is not None:
            into.append(entry.der)
            return True
        try:
            check_url(url, allowed)
            der, next_update = fetch(url)
        except Exception as exc:  # noqa: BLE001 - any failure: try the next source
            errors.append(f"{kind.upper()} {url}: {exc.__class__.__name__}: {exc}")
            continue
        if der is None:
            errors.append(f"{kind.upper()} {url}: no usable answer")
            continue
        into.append(der)
        found.fresh.append((key, _Entry(kind, der, _expiry(next_update))))
        return True
    return False


def _from_ocsp(cert, issuer, urls, deadline, allowed, found: Gathered, errors) -> bool:
    def fetch(url):
        der = _get(url, deadline, MAX_OCSP_BYTES, body=_ocsp_request(cert, issuer))
        response = _usable_ocsp(der, cert)
        return (der, response.next_update_utc) if response is not None else (None, None)
    return _first_answer("ocsp", urls, lambda url: _ocsp_key(url, cert), fetch, deadline,
                         allowed, found, errors)


def _from_crl(urls, deadline, allowed, found: Gathered, errors) -> bool:
    def fetch(url):
        der = _get(url, deadline, MAX_CRL_BYTES)
        return der, x509.load_der_x509_crl(der).next_update_utc
    return _first_answer("crl", urls, _crl_key, fetch, deadline, allowed, found, errors)


def fetch_for(pairs: Iterable[tuple[x509.Certificate, x509.Certificate]], *, timeout: float,
              allowed_hosts: frozenset[str] = frozenset()) -> Gathered:
    """Revocation information for each (certificate, its issuer) of a verified path, from
    the cache or the addresses the certificate names. A certificate that names none is not
    reported missing here: the validator's policy decides what that means."""
    found, deadline = Gathered(), _Deadline(timeout)
    for cert, issuer in pairs:
        o_urls, c_urls = ocsp_urls(cert), crl_urls(cert)
        if not o_urls and not c_urls:
            continue
        errors: list[str] = []
        if _from_ocsp(cert, issuer, o_urls, deadline, allowed_hosts, found, errors):
            continue
        if _from_crl(c_urls, deadline, allowed_hosts, found, errors):
            continue
        found.missing.append(f"{cert.subject.rfc4514_string()}: " + "; ".join(errors))
    return found


def remember(found: Gathered) -> None:
    """Keep what the validator accepted, until its nextUpdate (bounded by MAX_CACHE_SECONDS)."""
    for key, entry in found.fresh:
        _cache.put(key, entry)
