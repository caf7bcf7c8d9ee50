"""VNeID's encrypted payloads (reference/vneid.md §3).

- An envelope is a JSON object with exactly two string members, `data` and `key`, both
  standard Base64: `key` is an AES key wrapped with RSA PKCS#1 v1.5 under *our* public key,
  `data` the UTF-8 JSON body encrypted with AES-ECB (no IV) and PKCS#7 padding.
- An encrypted authorization code is the same pair in the callback: `code` = Base64(AES-ECB
  (plain code)), `encrypt_key` = Base64(RSA(AES key)).

Any failure — Base64, RSA unwrap, key length, AES padding, UTF-8, JSON — is the one reason
"bad_envelope" with the same detail (a padding oracle must learn nothing), and nothing
decrypted is ever logged. Nothing here is signed: integrity rests on TLS alone.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from idp.platform.upstream.errors import UpstreamError

MAX_ENVELOPE = 1024 * 1024  # bytes of Base64 in `data`
MAX_CODE = 4096
_AES_KEY_SIZES = (16, 24, 32)
_DETAIL = "encrypted payload could not be decrypted"


def is_envelope(obj: Any) -> bool:
    """The object has the envelope's shape: exactly `data` and `key`, both strings."""
    return (isinstance(obj, dict) and set(obj) == {"data", "key"}
            and all(isinstance(v, str) for v in obj.values()))


def looks_like_envelope(obj: Any) -> bool:
    """Names `data` or `key` (even malformed): then it must decrypt, or it is refused."""
    return isinstance(obj, dict) and ("data" in obj or "key" in obj)


def _b64(text: str) -> bytes:
    # standard alphabet; a '+' that a query decoder turned into ' ' is put back
    return base64.b64decode(text.replace(" ", "+"), validate=True)


def _unwrap_key(private_key: rsa.RSAPrivateKey, wrapped: str) -> bytes:
    key = private_key.decrypt(_b64(wrapped), padding.PKCS1v15())
    if len(key) not in _AES_KEY_SIZES:
        raise ValueError("key length")
    return key


def _aes_ecb_decrypt(key: bytes, data: bytes) -> bytes:
    if not data or len(data) % 16:
        raise ValueError("block length")
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()  # noqa: S305 (VNeID's)
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def decrypt_pair(private_key: rsa.RSAPrivateKey | None, data: str, wrapped_key: str,
                 limit: int = MAX_ENVELOPE) -> bytes:
    """The plaintext of one (data, key) pair, or UpstreamError("bad_envelope")."""
    if private_key is None:
        raise UpstreamError("bad_envelope", "no private key configured for encrypted payloads")
    if len(data) > limit or len(wrapped_key) > 4096:
        raise UpstreamError("bad_envelope", _DETAIL)
    try:
        return _aes_ecb_decrypt(_unwrap_key(private_key, wrapped_key), _b64(data))
    except (ValueError, TypeError, binascii.Error):
        raise UpstreamError("bad_envelope", _DETAIL) from None


def open_envelope(private_key: rsa.RSAPrivateKey | None, obj: Any,
                  limit: int = MAX_ENVELOPE) -> dict[str, Any]:
    """The JSON object inside an envelope (`{"data", "key"}`), or "bad_envelope"."""
    if not is_envelope(obj):
        raise UpstreamError("bad_envelope", _DETAIL)
    plain = decrypt_pair(private_key, obj["data"], obj["key"], limit)
    try:
        body = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UpstreamError("bad_envelope", _DETAIL) from None
    if not isinstance(body, dict):
        raise UpstreamError("bad_envelope", _DETAIL)
    return body


def decrypt_code(private_key: rsa.RSAPrivateKey | None, code: str, encrypt_key: str) -> str:
    """The plain authorization code from the callback's `code` and `encrypt_key`."""
    plain = decrypt_pair(private_key, code, encrypt_key, MAX_CODE)
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise UpstreamError("bad_envelope", _DETAIL) from None
    if not text or not text.isprintable():
        raise UpstreamError("bad_envelope", _DETAIL)
    return text
