"""What both remote-signer adapters do on the wire: one HTTP call whose every transport
failure becomes `SignerError("unavailable")`, and the strict decoding of what the services
send back (Base64, hex, DER certificates) whose every defect becomes
`SignerError("bad_response")` — so no upstream answer can surface as a KeyError or a 500.

Nothing here logs: the bodies hold personal data (ID numbers, phone numbers, certificates)."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import requests
from cryptography import x509

from idp.platform.signers.port import SignerCertificate, SignerError


@dataclass(frozen=True)
class Answer:
    """An HTTP answer below 500: its status and its JSON body (None when it was not JSON)."""

    status: int
    body: Any


def call(session: requests.Session, method: str, url: str, timeout: float, party: str,
         **kwargs: Any) -> Answer:
    """One request. Unreachable, timed out, redirected or 5xx → "unavailable"."""
    try:
        response = session.request(method, url, timeout=timeout, allow_redirects=False,
                                   **kwargs)
    except requests.RequestException as exc:
        raise SignerError("unavailable", f"{party} unreachable: {exc.__class__.__name__}") \
            from None
    if response.status_code >= 500 or 300 <= response.status_code < 400:
        raise SignerError("unavailable", f"{party} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(response.status_code, body)


def ok_json(answer: Answer, party: str) -> dict[str, Any]:
    """The body of a 2xx answer, which must be a JSON object: not JSON at all is a broken
    service ("unavailable": a proxy's error page), another JSON value is "bad_response"."""
    if answer.body is None:
        raise SignerError("unavailable", f"{party} answered HTTP {answer.status} without JSON")
    if not isinstance(answer.body, dict):
        raise SignerError("bad_response", f"{party} answered a JSON {type(answer.body).__name__}")
    return answer.body


def field(obj: Any, name: str, kind: type | tuple[type, ...], party: str) -> Any:
    """`obj[name]`, which must exist and be of `kind` (bool is not an int here)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise SignerError("bad_response", f"{party}: {name} missing or of the wrong type")
    return value


def b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str) or not text.strip():
        raise SignerError("bad_response", f"{what} is not Base64 text")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SignerError("bad_response", f"{what} is not Base64") from None


def certificate(leaf_der: bytes, chain: list[bytes], serial: Any, credential_id: Any,
                party: str) -> SignerCertificate:
    """A SignerCertificate from what a service sent: the leaf must parse as an X.509
    certificate (DER); the chain keeps its order, minus any copy of the leaf; a missing serial
    is taken from the leaf (lower-case hex)."""
    try:
        leaf = x509.load_der_x509_certificate(leaf_der)
        for der in chain:
            x509.load_der_x509_certificate(der)
    except ValueError:
        raise SignerError("bad_response", f"{party} sent something that is not a DER "
                          "certificate") from None
    if not isinstance(serial, str) or not serial.strip():
        serial = format(leaf.serial_number, "x")
    return SignerCertificate(leaf_der=leaf_der,
                             chain_der=tuple(der for der in chain if der != leaf_der),
                             serial=serial.strip(),
                             credential_id=credential_id if isinstance(credential_id, str)
                             else "")


def settings_of(settings: dict[str, Any], url_key: str, id_key: str, secret_key: str,
                carrier: str) -> tuple[str, str, str, float]:
    """(URL, id, secret, timeout) of a carrier's adapter from the IdP's settings; a missing or
    malformed one is a ConfigError naming the keys (the app refuses to start)."""
    from idp.platform.config import ConfigError
    url = settings.get(url_key) or ""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{url_key}: an http(s) URL is required for {carrier}")
    if not settings.get(id_key) or not settings.get(secret_key):
        raise ConfigError(f"{id_key} and {secret_key}: required for {carrier}")
    return url, settings[id_key], settings[secret_key], float(settings.get("signer_timeout", 10))
