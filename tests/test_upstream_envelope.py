"""VNeID's encrypted payloads (idp/platform/upstream/envelope.py, reference/vneid.md §3):
round trips with every AES key size, and one uniform refusal ("bad_envelope", same detail)
for every kind of damage."""
from __future__ import annotations

import base64
import json
import os
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from idp.platform.upstream import envelope
from idp.platform.upstream.errors import UpstreamError


@cache
def rp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def aes_ecb(key: bytes, plain: bytes, pad: bool = True) -> bytes:
    if pad:
        padder = sym_padding.PKCS7(128).padder()
        plain = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(plain) + encryptor.finalize()


def wrap(key: bytes, public: rsa.RSAPublicKey | None = None) -> str:
    return b64((public or rp_key().public_key()).encrypt(key, padding.PKCS1v15()))


def seal(body: Any, key_size: int = 32, public: rsa.RSAPublicKey | None = None) -> dict:
    """`body` as VNeID sends it: {"data": AES-ECB(JSON), "key": RSA(AES key)}."""
    key = os.urandom(key_size)
    data = aes_ecb(key, json.dumps(body, ensure_ascii=False).encode("utf-8"))
    return {"data": b64(data), "key": wrap(key, public)}


def encrypt_code(code: str, key_size: int = 32) -> tuple[str, str]:
    """(code, encrypt_key) as the callback carries them."""
    key = os.urandom(key_size)
    return b64(aes_ecb(key, code.encode("ascii"))), wrap(key)


@pytest.mark.parametrize("size", [16, 24, 32])
def test_round_trip_every_key_size(size):
    body = {"citizenPid": "001200000001", "fullName": "Nguyễn Thị Ánh"}
    assert envelope.open_envelope(rp_key(), seal(body, size)) == body


@pytest.mark.parametrize("size", [16, 24, 32])
def test_encrypted_code_round_trip(size):
    plain = "3f2a8c9e-1b7d-4c55-9a0e-6f1d2b3c4d5e.0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    code, key = encrypt_code(plain, size)
    assert envelope.decrypt_code(rp_key(), code, key) == plain


def test_a_plus_turned_into_a_space_is_restored():
    for _ in range(50):
        code, key = encrypt_code("abc-123")
        if "+" in code:
            break
    assert envelope.decrypt_code(rp_key(), code.replace("+", " "), key) == "abc-123"


def _damaged() -> dict[str, Any]:
    good = seal({"a": 1})
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key16 = os.urandom(16)
    cases: dict[str, Any] = {
        "corrupt key": {**good, "key": b64(os.urandom(256))},
        "key for another RP": seal({"a": 1}, public=other.public_key()),
        "corrupt data": {**good, "data": b64(os.urandom(48))},
        "bad padding": {"data": b64(aes_ecb(key16, b"x" * 32, pad=False)), "key": wrap(key16)},
        "wrong AES key length": {"data": b64(aes_ecb(key16, b"{}")), "key": wrap(os.urandom(20))},
        "truncated base64 data": {**good, "data": good["data"][:-3]},
        "truncated base64 key": {**good, "key": good["key"][:-5]},
        "data not a block multiple": {**good, "data": b64(base64.b64decode(good["data"])[:-1])},
        "missing key": {"data": good["data"]},
        "missing data": {"key": good["key"]},
        "extra member": {**good, "iv": "AAAA"},
        "member not a string": {**good, "data": 5},
        "not JSON inside": {"data": b64(aes_ecb(key16, b"not json")), "key": wrap(key16)},
        "JSON but not an object": {"data": b64(aes_ecb(key16, b"[1]")), "key": wrap(key16)},
        "oversized": {"data": "A" * (envelope.MAX_ENVELOPE + 4), "key": good["key"]},
        "not an object": ["data", "key"],
    }
    return cases


DAMAGED = _damaged()


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_every_damage_is_the_same_refusal(case):
    with pytest.raises(UpstreamError) as caught:
        envelope.open_envelope(rp_key(), DAMAGED[case])
    assert caught.value.reason == "bad_envelope"
    assert caught.value.detail in ("encrypted payload could not be decrypted",)


@pytest.mark.parametrize("damage", ["key", "code", "padding", "length"])
def test_damaged_code_is_the_same_refusal(damage):
    code, key = encrypt_code("abc")
    key16 = os.urandom(16)
    if damage == "key":
        key = b64(os.urandom(256))
    elif damage == "code":
        code = code[:-4]
    elif damage == "padding":
        code, key = b64(aes_ecb(key16, b"y" * 16, pad=False)), wrap(key16)
    else:
        code = "A" * 8000
    with pytest.raises(UpstreamError) as caught:
        envelope.decrypt_code(rp_key(), code, key)
    assert caught.value.reason == "bad_envelope"


def test_no_private_key_means_bad_envelope():
    with pytest.raises(UpstreamError) as caught:
        envelope.open_envelope(None, seal({"a": 1}))
    assert caught.value.reason == "bad_envelope"


def test_shape_detection():
    assert envelope.is_envelope({"data": "x", "key": "y"})
    assert not envelope.is_envelope({"data": "x", "key": "y", "z": 1})
    assert envelope.looks_like_envelope({"data": 1, "key": "y", "z": 1})
    assert envelope.looks_like_envelope({"data": "x"})
    assert not envelope.looks_like_envelope({"access_token": "t"})
