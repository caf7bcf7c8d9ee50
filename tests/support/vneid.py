"""The VNeID stand-in (standins/vneid.py) in tests: the RP's RSA key (one per process), the
stand-in served on a loopback port, its /_control/ endpoints, a browser-like login through
its citizen page, and the RP-side decryption of its envelopes and codes."""
from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from standins import vneid
from tests.support.standins import serve_wsgi


class RpKey:
    """The relying party's RSA key pair (VNeID wraps its AES keys for the public half)."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def pem_private(self) -> str:
        return self.private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()

    def pem_public(self) -> str:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def unwrap(self, key_b64: str) -> bytes:
        """The AES key of an envelope's `key` or a callback's `encrypt_key`."""
        return self.private.decrypt(base64.b64decode(key_b64), asym.PKCS1v15())

    def decrypt(self, data_b64: str, key_b64: str) -> bytes:
        aes_key = self.unwrap(key_b64)
        decryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()  # noqa: S305
        padded = decryptor.update(base64.b64decode(data_b64)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()

    def open_envelope(self, body: dict[str, Any]) -> Any:
        """The JSON inside a {data, key} envelope."""
        return json.loads(self.decrypt(body["data"], body["key"]).decode("utf-8"))


@functools.cache
def rp_key() -> RpKey:
    return RpKey()


class VneidControl:
    """The stand-in's /_control/ endpoints."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/") + "/_control"

    def settings(self, **changes: Any) -> dict:
        r = requests.post(f"{self.base}/settings", json=changes, timeout=5)
        r.raise_for_status()
        return r.json()

    def current(self) -> dict:
        return requests.get(f"{self.base}/settings", timeout=5).json()

    def reset(self) -> None:
        requests.post(f"{self.base}/reset", timeout=5).raise_for_status()

    def requests(self) -> list[dict]:
        return requests.get(f"{self.base}/requests", timeout=5).json()

    def citizens(self, entries: list[dict]) -> None:
        requests.post(f"{self.base}/citizens", json=entries, timeout=5).raise_for_status()

    def rotate_key(self, keep_old: bool = False) -> dict:
        r = requests.post(f"{self.base}/rotate-key", json={"keep_old": keep_old}, timeout=5)
        r.raise_for_status()
        return r.json()

    def backchannel_logout(self, **who: str) -> dict:
        """who: citizenPid=… or sid=…; {"status": the RP's HTTP status, "sent": [...]}."""
        r = requests.post(f"{self.base}/backchannel-logout", json=who, timeout=10)
        r.raise_for_status()
        return r.json()

    def backchannel_sent(self) -> list[dict]:
        return requests.get(f"{self.base}/backchannel", timeout=5).json()


@dataclass
class VneidService:
    url: str
    control: VneidControl
    client_id: str
    client_secret: str
    redirect_uri: str

    def authorize_url(self, **params: str) -> str:
        from urllib.parse import urlencode
        query = {"response_type": "code", "client_id": self.client_id,
                 "redirect_uri": self.redirect_uri, "scope": "openid",
                 "state": "state-1", **params}
        return f"{self.url}/authorize?{urlencode(query)}"


@contextlib.contextmanager
def serve_vneid(mode: str, *, redirect_uri: str, client_id: str = "idp-test",
                client_secret: str = "vneid-secret", post_logout_redirect_uri: str = "",
                backchannel_logout_uri: str = "", rp_public_key_pem: str | None = None,
                **settings: Any) -> Iterator[VneidService]:
    """The stand-in in `mode` ("vneid-encrypted" | "oidc") on a loopback port for the block.
    In vneid-encrypted mode the RP key defaults to rp_key()'s public half; `settings` are
    any further start values (issuer, citizens, encrypt_code, token_code, fault …)."""
    if rp_public_key_pem is None:
        rp_public_key_pem = rp_key().pem_public() if mode == "vneid-encrypted" else ""
    app = vneid.create_app({
        "mode": mode, "client_id": client_id, "client_secret": client_secret,
        "redirect_uri": redirect_uri, "post_logout_redirect_uri": post_logout_redirect_uri,
        "backchannel_logout_uri": backchannel_logout_uri,
        "rp_public_key_pem": rp_public_key_pem, **settings})
    with serve_wsgi(app) as url:
        yield VneidService(url=url, control=VneidControl(url), client_id=client_id,
                           client_secret=client_secret, redirect_uri=redirect_uri)


def _hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = _unescape(value.group(1) if value else "")
    return fields


def _unescape(text: str) -> str:
    import html
    return html.unescape(text)


def _submit(session: requests.Session, authorize_url: str, choice: dict[str, str]) -> str:
    page = session.get(authorize_url, allow_redirects=False, timeout=10)
    if page.status_code == 302:
        return page.headers["Location"]
    assert page.status_code == 200, f"the login page answered {page.status_code}"
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert action, "no form on the VNeID login page"
    target = urljoin(page.url, _unescape(action.group(1)))
    answer = session.post(target, data={**_hidden_fields(page.text), **choice},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, f"the login POST answered {answer.status_code}"
    return answer.headers["Location"]


def fake_login(session: requests.Session, authorize_url: str, citizen_pid: str) -> str:
    """Open the stand-in's login page at `authorize_url` and pick `citizen_pid`, as a browser
    would; the redirect's Location, not followed (a 302 straight from /authorize — an error
    redirect — is returned as it is)."""
    return _submit(session, authorize_url, {"citizen": citizen_pid})


def cancel_login(session: requests.Session, authorize_url: str) -> str:
    """Press "Hủy" on the login page; the redirect's Location (error=…&state=…)."""
    return _submit(session, authorize_url, {"cancel": "1"})


def raw_param(location: str, name: str) -> str | None:
    """A query parameter of `location` read from the raw query, percent-decoding but keeping
    a literal `+` (what an RP must do with VNeID's Base64 code)."""
    from urllib.parse import unquote, urlsplit
    for part in urlsplit(location).query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return unquote(value)
    return None
