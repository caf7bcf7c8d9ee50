"""Is this signature made by this certificate's key? The two shapes certificate sign-in receives
(reference/pki.md §1, §2, §4):

- a raw signature over a SHA-256 digest we computed, as remote signers return it (SmartCA
  `signhash`, QĐ769 `sign_type` "hash"): `verify_hash_signature`;
- a CMS/PKCS#7 SignedData, as the USB plugin's `signCms` returns it: `verify_cms`, which also
  says which certificate signed, so the caller validates that certificate (trust path, time,
  revocation: validation.py) and reads who it names (idp/accounts/cert_identity.py).

Nothing here decides whether a certificate is trusted: a valid signature by an untrusted key is
still only a valid signature. asn1crypto parses the CMS (no hand-written ASN.1) and
`cryptography` does the maths. Every malformed input ends as `SignatureInvalid`, never as
another exception, so a hostile upload cannot turn into a 500.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from idp.platform.reasons import ReasonedError

# Digests a signature may be made over. SHA-1 (and MD5) are refused: collisions are practical,
# and a 2017 VNPT leaf signed with SHA-1 shows they still circulate (pki.md §5).
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class SignatureInvalid(ReasonedError):
    """The signature does not verify, or the signed message is not one we accept. `reason` is
    for logs and tests (`bad_signature`, `weak_digest`, `signer_count`, `no_signer_certificate`,
    `digest_mismatch`, `content_mismatch`, `malformed`, `unsupported`); the user is only ever
    told `message_id`, one message, since the details help an attacker more than a citizen."""

    @property
    def message_id(self) -> str:
        return "certificate.signature_invalid"


def _hash(name: str) -> hashes.HashAlgorithm:
    if name not in _HASHES:
        raise SignatureInvalid("weak_digest" if name in ("sha1", "md5") else "unsupported")
    return _HASHES[name]()


def _verify(public_key: Any, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm,
            scheme: str, *, prehashed: bool = False) -> None:
    """One signature check: `scheme` is "pkcs1v15" or "pss" (RSA keys) or "ecdsa" (EC keys);
    a key of the other kind is refused. `prehashed`: `data` is already the digest."""
    chosen: hashes.HashAlgorithm | utils.Prehashed = (
        utils.Prehashed(algorithm) if prehashed else algorithm)
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and scheme in ("pkcs1v15", "pss"):
            pad: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO) if scheme == "pss"
                else padding.PKCS1v15())
            public_key.verify(signature, data, pad, chosen)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and scheme == "ecdsa":
            public_key.verify(signature, data, ec.ECDSA(chosen))
        elif isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            raise InvalidSignature  # made with a key of another kind: not this key's
        else:
            raise SignatureInvalid("unsupported")
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        raise SignatureInvalid("bad_signature") from None


def verify_hash_signature(cert: x509.Certificate, digest: bytes, signature: bytes, *,
                          hash_alg: str = "sha256") -> None:
    """`signature` is the certificate key's signature over the precomputed `digest` (what a
    remote signer returns for the challenge digest): RSA PKCS#1 v1.5 over the DigestInfo, which
    is SmartCA's likely encoding (pki.md §4: confirm in the sandbox), else RSA-PSS (any salt
    length); ECDSA as DER. Raises `SignatureInvalid`."""
    algorithm = _hash(hash_alg)
    if not isinstance(digest, bytes) or len(digest) != algorithm.digest_size:
        raise SignatureInvalid("malformed")
    if not isinstance(signature, bytes) or not signature:
        raise SignatureInvalid("malformed")
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise SignatureInvalid("unsupported") from None
    if isinstance(key, rsa.RSAPublicKey):
        try:
            _verify(key, signature, digest, algorithm, "pkcs1v15", prehashed=True)
        except SignatureInvalid:
            _verify(key, signature, digest, algorithm, "pss", prehashed=True)
    else:
        _verify(key, signature, digest, algorithm, "ecdsa", prehashed=True)


def verify_cms(cms_der: bytes, content: bytes) -> x509.Certificate:
    """Verify a CMS SignedData over `content` (our challenge bytes) and return the signer's
    certificate, not yet validated: the caller checks its path and revocation.

    Accepted: exactly one SignerInfo; its certificate among the SignedData's certificates,
    found by the SignerInfo's sid (issuer and serial, or subject key identifier) — never taken
    from elsewhere; content attached (it must then equal `content`) or detached; with signed
    attributes (content-type `data`, messageDigest = hash of `content`, the signature over the
    attributes' DER as a SET OF, RFC 5652 §5.4) or without (the signature over `content`);
    SHA-256/384/512, RSA (PKCS#1 v1.5 or PSS) or ECDSA. Raises `SignatureInvalid`."""
    if not isinstance(cms_der, bytes) or not isinstance(content, bytes):
        raise SignatureInvalid("malformed")
    try:
        return _verify_cms(cms_der, content)
    except SignatureInvalid:
        raise
    except Exception:  # noqa: BLE001 - asn1crypto reports bad input with many exception types
        raise SignatureInvalid("malformed") from None


def cms_certificates(cms_der: bytes) -> list[x509.Certificate]:
    """Every certificate a SignedData carries (the signer's chain, as signers include it):
    untrusted intermediates for path building, never anchors. Malformed: SignatureInvalid."""
    try:
        signed = cms.ContentInfo.load(cms_der, strict=True)["content"]
        return [x509.load_der_x509_certificate(choice.chosen.dump())
                for choice in signed["certificates"] or () if choice.name == "certificate"]
    except Exception:  # noqa: BLE001 - asn1crypto reports bad input with many exception types
        raise SignatureInvalid("malformed") from None


def _verify_cms(cms_der: bytes, content: bytes) -> x509.Certificate:
    info = cms.ContentInfo.load(cms_der, strict=True)
    if info["content_type"].native != "signed_data":
        raise SignatureInvalid("malformed")
    signed = info["content"]
    signers = signed["signer_infos"]
    if len(signers) != 1:
        raise SignatureInvalid("signer_count")
    signer = signers[0]
    encap = signed["encap_content_info"]
    if encap["content_type"].native != "data":
        raise SignatureInvalid("unsupported")
    attached = encap["content"]
    if attached.native is not None and not hmac.compare_digest(attached.native, content):
        raise SignatureInvalid("content_mismatch")

    digest_name = signer["digest_algorithm"]["algorithm"].native
    algorithm = _hash(digest_name)
    scheme = _signature_scheme(signer["signature_algorithm"], digest_name)
    certificate = _signer_certificate(signed, signer["sid"])

    attrs = signer["signed_attrs"]
    if len(attrs):
        _check_signed_attributes(attrs, encap["content_type"].native, digest_name, content)
        message = attrs.untag().dump()  # [0] IMPLICIT re-tagged as SET OF (RFC 5652 §5.4)
    else:
        message = content
    _verify(certificate.public_key(), signer["signature"].native, message, algorithm, scheme)
    return certificate


def _signature_scheme(signature_algorithm: Any, digest_name: str) -> str:
    """"pkcs1v15", "pss" or "ecdsa". A signature algorithm naming its own hash
    (sha256WithRSAEncryption, ecdsa-with-SHA256, PSS parameters) must name the SignerInfo's
    digest algorithm; sha256WithRSA over a SHA-1 messageDigest is not a SHA-256 signature."""
    scheme = signature_algorithm.signature_algo
    if scheme not in ("rsassa_pkcs1v15", "rsassa_pss", "ecdsa"):
        raise SignatureInvalid("unsupported")
    if scheme == "rsassa_pss":
        params = signature_algorithm["parameters"]
        named = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1" or \
                mgf["parameters"]["algorithm"].native != digest_name:
            raise SignatureInvalid("unsupported")
    elif signature_algorithm["algorithm"].native in ("rsassa_pkcs1v15", "ecdsa"):
        named = digest_name
    else:
        named = signature_algorithm.hash_algo
    if named != digest_name:
        raise SignatureInvalid("weak_digest" if named in ("sha1", "md5") else "unsupported")
    return {"rsassa_pkcs1v15": "pkcs1v15", "rsassa_pss": "pss"}.get(scheme, scheme)


def _signer_certificate(signed: Any, sid: Any) -> x509.Certificate:
    """The one certificate of the SignedData that the sid names."""
    found = []
    certificates = signed["certificates"]
    for choice in certificates if isinstance(certificates, cms.CertificateSet) else []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            matches = (cert.issuer == sid.chosen["issuer"]
                       and cert.serial_number == sid.chosen["serial_number"].native)
        elif sid.name == "subject_key_identifier":
            matches = cert.key_identifier == sid.chosen.native
        else:
            matches = False
        if matches and all(cert.dump() != other.dump() for other in found):
            found.append(cert)
    if len(found) != 1:
        raise SignatureInvalid("no_signer_certificate")
    return x509.load_der_x509_certificate(found[0].dump())


def _check_signed_attributes(attrs: Any, content_type: str, digest_name: str,
                             content: bytes) -> None:
    """content-type and messageDigest: each exactly once with one value (RFC 5652 §11.1–11.2),
    the content type the encapsulated one, the digest that of our content."""
    values: dict[str, list[Any]] = {}
    for attr in attrs:
        values.setdefault(attr["type"].native, []).append(attr["values"])
    for name in ("content_type", "message_digest"):
        if len(values.get(name, [])) != 1 or len(values[name][0]) != 1:
            raise SignatureInvalid("malformed")
    if values["content_type"][0][0].native != content_type:
        raise SignatureInvalid("content_mismatch")
    expected = hashlib.new(digest_name, content).digest()
    if not hmac.compare_digest(values["message_digest"][0][0].native, expected):
        raise SignatureInvalid("digest_mismatch")
