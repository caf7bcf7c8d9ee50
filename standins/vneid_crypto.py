"""VNeID's payload encryption (vneid.md §3), as the stand-in produces it, and the ways a test
may ask it to go wrong.

- envelope: `{"data": Base64(AES-ECB-PKCS7(UTF-8 JSON)), "key": Base64(RSA-PKCS1v1.5(RP public
  key, AES key))}`, a fresh AES-256 key per response;
- encrypted code: `code` = Base64(AES-ECB-PKCS7(plain code)), `encrypt_key` = the wrapped key.

Also a minimal RS256 JWT signer and JWK export for the OIDC mode (no third-party JOSE library).
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ENVELOPE_FAULTS = ("corrupt_key", "corrupt_data", "bad_padding", "truncated",
                   "missing_member", "oversized")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the RP key must be an RSA public key")
    return key


def aes_ecb(key: bytes, data: bytes, pad: bool = True) -> bytes:
    if pad:
        padder = padding.PKCS7(128).padder()
        data = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 (VNeID's)
    return encryptor.update(data) + encryptor.finalize()


def wrap_key(public_key: rsa.RSAPublicKey, aes_key: bytes) -> str:
    return b64(public_key.encrypt(aes_key, asym.PKCS1v15()))


def plain_code() -> str:
    """What VNeID's codes look like inside: GUIDs joined by a dot."""
    return f"{uuid.uuid4()}.{uuid.uuid4()}"


def encrypt_code(public_key: rsa.RSAPublicKey, code: str) -> tuple[str, str]:
    """(Base64 encrypted code, encrypt_key)."""
    aes_key = os.urandom(32)
    return b64(aes_ecb(aes_key, code.encode())), wrap_key(public_key, aes_key)


def envelope(public_key: rsa.RSAPublicKey, payload: Any, fault: str = "") -> bytes:
    """The response body: the JSON envelope of `payload`, spoilt as `fault` names."""
    aes_key = os.urandom(32)
    body = json.dumps(payload, ensure_ascii=False).encode()
    if fault == "oversized":
        body = json.dumps({**payload, "padding": "x" * (2 * 1024 * 1024)}).encode()
    data = aes_ecb(aes_key, body)
    if fault == "bad_padding":
        # a whole number of blocks whose last byte is no PKCS#7 padding
        raw = body + b"\x00" * (16 - len(body) % 16) if len(body) % 16 else body
        raw = raw[:-1] + b"\x00"
        data = aes_ecb(aes_key, raw, pad=False)
    key = wrap_key(public_key, aes_key)
    if fault == "corrupt_key":
        wrapped = bytearray(base64.b64decode(key))
        wrapped[len(wrapped) // 2] ^= 0xFF
        key = b64(bytes(wrapped))
    if fault == "corrupt_data":
        data = bytes([data[0] ^ 0xFF]) + data[1:-16] + os.urandom(16)
    out: dict[str, str] = {"data": b64(data), "key": key}
    if fault == "truncated":
        out["data"] = out["data"][: len(out["data"]) // 2 - 1]
    if fault == "missing_member":
        del out["key"]
    return json.dumps(out).encode()


class SigningKey:
    """An RSA key for RS256 with its kid."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()

        def whole(n: int) -> str:
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": whole(numbers.n), "e": whole(numbers.e)}

    def sign(self, claims: dict[str, Any], bad_signature: bool = False) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        head = b64url(json.dumps(header, separators=(",", ":")).encode())
        body = b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        signing_input = f"{head}.{body}".encode()
        signature = self.private.sign(signing_input, asym.PKCS1v15(), hashes.SHA256())
        if bad_signature:
            signature = bytes([signature[0] ^ 0x01]) + signature[1:]
        return f"{head}.{body}.{b64url(signature)}"
