"""Signatures made by a certificate's key (idp/platform/pki/signature.py): raw signatures over
a digest (SmartCA, QĐ769 hash signing) and CMS SignedData (the USB plugin's signCms), each
refusal with its reason, and no malformed input escaping as anything but SignatureInvalid."""
from __future__ import annotations

import hashlib

import pytest
from asn1crypto import algos, cms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import pkcs7

from idp.platform.messages import CATALOGUE
from idp.platform.pki import testca
from idp.platform.pki.signature import SignatureInvalid, verify_cms, verify_hash_signature

CONTENT = b'{"nonce":"n","purpose":"login","tx_id":"t"}'
DIGEST = hashlib.sha256(CONTENT).digest()
DETACHED = pkcs7.PKCS7Options.DetachedSignature
NO_ATTRIBUTES = pkcs7.PKCS7Options.NoAttributes
BINARY = pkcs7.PKCS7Options.Binary


@pytest.fixture(scope="module")
def pki():
    return testca.TestPki.create(base_url="http://127.0.0.1:1")


@pytest.fixture(scope="module", params=["rsa", "ec"])
def leaf(pki, request):
    return pki.issue(uids=("CCCD:001200000001",), key=request.param)


@pytest.fixture(scope="module")
def other(pki):
    return pki.issue(uids=("CCCD:079085000123",), cn="Trần Thị B", key="rsa")


def reason(fn, *args, **kwargs) -> str:
    with pytest.raises(SignatureInvalid) as info:
        fn(*args, **kwargs)
    assert info.value.message_id in CATALOGUE
    return info.value.reason


def sign_digest(key, digest: bytes = DIGEST, pss: bool = False) -> bytes:
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        pad = (padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH) if pss
               else padding.PKCS1v15())
        return key.sign(digest, pad, prehashed)
    return key.sign(digest, ec.ECDSA(prehashed))


def signed_cms(*signers, content: bytes = CONTENT, options=()) -> bytes:
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content)
    for cert, key in signers:
        builder = builder.add_signer(cert, key, hashes.SHA256())
    return builder.sign(serialization.Encoding.DER, [BINARY, *options])


def altered(der: bytes, change) -> bytes:
    """The CMS with `change(signed_data, signer_info)` applied, re-encoded (asn1crypto)."""
    info = cms.ContentInfo.load(der)
    signed = info["content"]
    change(signed, signed["signer_infos"][0])
    return info.dump(force=True)


# --- raw signatures over a digest ------------------------------------------------------------

def test_hash_signature_verifies(leaf):
    verify_hash_signature(leaf.cert, DIGEST, sign_digest(leaf.key))


def test_rsa_pss_hash_signature_verifies(pki):
    rsa_leaf = pki.issue(key="rsa")
    verify_hash_signature(rsa_leaf.cert, DIGEST, sign_digest(rsa_leaf.key, pss=True))


def test_tampered_hash_signature_is_refused(leaf):
    signature = bytearray(sign_digest(leaf.key))
    signature[len(signature) // 2] ^= 0x01
    assert reason(verify_hash_signature, leaf.cert, DIGEST, bytes(signature)) in (
        "bad_signature", "malformed")


def test_hash_signature_by_another_key_is_refused(leaf, other):
    assert reason(verify_hash_signature, leaf.cert, DIGEST,
                  sign_digest(other.key)) == "bad_signature"


def test_hash_signature_over_another_digest_is_refused(leaf):
    elsewhere = hashlib.sha256(b"another challenge").digest()
    assert reason(verify_hash_signature, leaf.cert, DIGEST,
                  sign_digest(leaf.key, elsewhere)) == "bad_signature"


@pytest.mark.parametrize("digest, signature, hash_alg, expected", [
    (DIGEST[:20], b"x", "sha256", "malformed"),
    (DIGEST, b"", "sha256", "malformed"),
    (hashlib.sha1(CONTENT).digest(), b"x", "sha1", "weak_digest"),
    (DIGEST, b"\x30\x03\x02\x01", "sha256", "bad_signature"),
])
def test_bad_hash_signature_inputs(leaf, digest, signature, hash_alg, expected):
    assert reason(verify_hash_signature, leaf.cert, digest, signature,
                  hash_alg=hash_alg) == expected


# --- CMS SignedData --------------------------------------------------------------------------

@pytest.mark.parametrize("options", [(), (DETACHED,), (NO_ATTRIBUTES,),
                                     (NO_ATTRIBUTES, DETACHED)],
                         ids=["attached", "detached", "attached-no-attrs", "detached-no-attrs"])
def test_cms_verifies_and_names_its_signer(leaf, options):
    assert verify_cms(signed_cms((leaf.cert, leaf.key), options=options), CONTENT) == leaf.cert


@pytest.mark.parametrize("options, expected", [
    ((), "content_mismatch"),                      # attached content is not our challenge
    ((DETACHED,), "digest_mismatch"),              # messageDigest is another content's
    ((NO_ATTRIBUTES,), "content_mismatch"),
    ((NO_ATTRIBUTES, DETACHED), "bad_signature"),  # signed something else
])
def test_cms_over_other_content_is_refused(leaf, options, expected):
    der = signed_cms((leaf.cert, leaf.key), options=options)
    assert reason(verify_cms, der, CONTENT + b" ") == expected


@pytest.mark.parametrize("options", [(), (NO_ATTRIBUTES,)], ids=["attrs", "no-attrs"])
def test_tampered_cms_signature_is_refused(leaf, options):
    def flip(_signed, signer):
        signature = bytearray(signer["signature"].native)
        signature[len(signature) // 2] ^= 0x01
        signer["signature"] = bytes(signature)
    der = altered(signed_cms((leaf.cert, leaf.key), options=options), flip)
    assert reason(verify_cms, der, CONTENT) == "bad_signature"


def test_cms_signed_by_a_key_other_than_its_certificates_is_refused(leaf, other):
    der = signed_cms((leaf.cert, other.key))
    assert reason(verify_cms, der, CONTENT) == "bad_signature"


def test_cms_with_two_signers_is_refused(leaf, other):
    der = signed_cms((leaf.cert, leaf.key), (other.cert, other.key))
    assert reason(verify_cms, der, CONTENT) == "signer_count"


def test_cms_with_a_sha1_digest_is_refused(leaf):
    def sha1(_signed, signer):
        signer["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": "sha1"})
    der = altered(signed_cms((leaf.cert, leaf.key)), sha1)
    assert reason(verify_cms, der, CONTENT) == "weak_digest"


def test_cms_with_a_sha1_signature_algorithm_is_refused(pki):
    rsa_leaf = pki.issue(key="rsa")
    def sha1_rsa(_signed, signer):
        signer["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"})
    der = altered(signed_cms((rsa_leaf.cert, rsa_leaf.key)), sha1_rsa)
    assert reason(verify_cms, der, CONTENT) == "weak_digest"


def test_cms_message_digest_mismatch_is_refused(leaf):
    def other_digest(_signed, signer):
        for attr in signer["signed_attrs"]:
            if attr["type"].native == "message_digest":
                attr["values"] = [hashlib.sha256(b"something else").digest()]
    der = altered(signed_cms((leaf.cert, leaf.key), options=(DETACHED,)), other_digest)
    assert reason(verify_cms, der, CONTENT) == "digest_mismatch"


def test_cms_without_content_type_attribute_is_refused(leaf):
    def drop(_signed, signer):
        signer["signed_attrs"] = [a for a in signer["signed_attrs"]
                                  if a["type"].native != "content_type"]
    der = altered(signed_cms((leaf.cert, leaf.key)), drop)
    assert reason(verify_cms, der, CONTENT) == "malformed"


def test_cms_whose_certificate_is_not_the_signers_is_refused(leaf, other):
    def swap(signed, _signer):
        signed["certificates"] = [cms.Certificate.load(other.der)]
    der = altered(signed_cms((leaf.cert, leaf.key)), swap)
    assert reason(verify_cms, der, CONTENT) == "no_signer_certificate"


def test_cms_without_certificates_is_refused(leaf):
    def strip(signed, _signer):
        signed["certificates"] = None
    der = altered(signed_cms((leaf.cert, leaf.key)), strip)
    assert reason(verify_cms, der, CONTENT) == "no_signer_certificate"


def test_cms_signer_found_by_subject_key_identifier(leaf, other):
    ski = cms.Certificate.load(leaf.der).key_identifier
    assert ski, "test CA leaves carry a subject key identifier"
    def by_ski(signed, signer):
        signer["sid"] = cms.SignerIdentifier({"subject_key_identifier": ski})
        signed["certificates"] = [cms.Certificate.load(other.der), cms.Certificate.load(leaf.der)]
    der = altered(signed_cms((leaf.cert, leaf.key)), by_ski)
    assert verify_cms(der, CONTENT) == leaf.cert


def test_cms_among_several_certificates_takes_the_sids(leaf, other):
    def add(signed, _signer):
        signed["certificates"] = [cms.Certificate.load(other.der),
                                  *(cms.Certificate.load(c.public_bytes(
                                      serialization.Encoding.DER)) for c in leaf.chain),
                                  cms.Certificate.load(leaf.der)]
    der = altered(signed_cms((leaf.cert, leaf.key)), add)
    assert verify_cms(der, CONTENT) == leaf.cert


def test_cms_of_other_content_type_is_refused(leaf):
    def relabel(signed, _signer):
        signed["encap_content_info"]["content_type"] = "signed_data"
    der = altered(signed_cms((leaf.cert, leaf.key), options=(DETACHED,)), relabel)
    assert reason(verify_cms, der, CONTENT) == "unsupported"


@pytest.mark.parametrize("der", [
    b"", b"garbage", b"\x30\x00", b"\x30\x80\x00\x00", b"\x06\x03\x55\x04\x03",
    b"\x30\x82\xff\xff" + b"\x00" * 8,
])
def test_malformed_cms_is_refused_cleanly(der):
    assert reason(verify_cms, der, CONTENT) == "malformed"


def test_truncated_or_extended_cms_is_refused_cleanly(leaf):
    der = signed_cms((leaf.cert, leaf.key))
    for broken in (der[:len(der) // 2], der[:-1], der + b"\x00", leaf.der):
        assert reason(verify_cms, broken, CONTENT) in ("malformed", "no_signer_certificate")


def test_every_byte_flip_is_refused_or_harmless(leaf):
    """Fuzz lite: flipping a byte never raises anything but SignatureInvalid. (A flip inside
    the embedded certificate may still verify and return that altered certificate: its CA
    signature no longer holds, which the caller's path validation refuses.)"""
    der = signed_cms((leaf.cert, leaf.key), options=(DETACHED,))
    for i in range(0, len(der), 7):
        broken = bytearray(der)
        broken[i] ^= 0x41
        try:
            verify_cms(bytes(broken), CONTENT)
        except SignatureInvalid:
            pass
