"""The certificate-authentication core (issue 15 item 1): from a signed challenge to the
person or organisation the certificate names, the same three steps for every carrier.

1. The flow's challenge is taken, once (challenge.consume): a replayed, expired or other
   flow's challenge stops here, and a failed attempt has used it up (the page issues a new
   one), so one challenge buys exactly one verification.
2. The signature over it: a CMS SignedData over the challenge bytes (the USB plugin's
   signCms, `by_cms`) or a raw signature over its SHA-256 (remote signers: SIM ký số,
   SmartCA, `by_digest`).
3. The certificate: path to a configured trust anchor, validity, key usage, revocation
   (platform/pki/validation.py, fail closed), then who it names (accounts/cert_identity.py).

Every refusal is a `Refusal` with the message of its reason (`pki.*`, `certificate.*`);
status 503 with a wait when the certificate's status could not be read (trying later helps),
400 otherwise. Nothing is written here: the flow decides what a proof signs in.
"""
from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

from cryptography import x509

from idp.accounts.cert_identity import CertIdentity, CertIdentityRefused, identity_of
from idp.methods.certificate import challenge as challenges
from idp.methods.refusal import Refusal
from idp.platform import audit
from idp.platform.messages import msg
from idp.platform.pki import signature, validation
from idp.platform.pki.validation import CertificateRefused, ValidatedCertificate

log = logging.getLogger("idp.certificate")
RETRY_SECONDS = 60
MAX_FIELD = 32 * 1024  # Base64 characters: a certificate chain or a CMS is a few KiB


REFUSALS = (challenges.ChallengeRefused, signature.SignatureInvalid, CertificateRefused,
            CertIdentityRefused)


@dataclass(frozen=True)
class Proven:
    """A verified signature by a valid certificate, and whom that certificate names."""

    identity: CertIdentity
    certificate: ValidatedCertificate


def decode(text: str | None) -> bytes:
    """A Base64 form field (standard or URL-safe alphabet) as bytes; a Refusal if it is not."""
    if not text or len(text) > MAX_FIELD:
        raise Refusal(msg("certificate.signature_invalid"))
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise Refusal(msg("certificate.signature_invalid")) from None


def by_cms(flow_id: str, tx_id: str, cms_der: bytes, presented: bytes | None = None) -> Proven:
    """A CMS SignedData over the flow's challenge bytes. `presented`: the certificate the
    page read from the token first (getCertInfo); the signer must be that one."""
    try:
        taken = challenges.consume(flow_id, tx_id)
        signer = signature.verify_cms(cms_der, taken.payload)
        if presented is not None and presented != _der(signer):
            raise signature.SignatureInvalid("content_mismatch")
        return _valid(signer, signature.cms_certificates(cms_der))
    except REFUSALS as exc:
        raise _refused(exc) from None


def by_digest(flow_id: str, tx_id: str, leaf_der: bytes, chain_der: tuple[bytes, ...],
              signed: bytes) -> Proven:
    """A raw signature over the SHA-256 of the flow's challenge, by `leaf_der` (a remote
    signer's certificate; `chain_der`: its untrusted intermediates)."""
    try:
        taken = challenges.consume(flow_id, tx_id)
        leaf = _certificate(leaf_der)
        signature.verify_hash_signature(leaf, taken.digest, signed)
        return _valid(leaf, [_certificate(c) for c in chain_der])
    except REFUSALS as exc:
        raise _refused(exc) from None


def _valid(leaf: x509.Certificate, intermediates: list[x509.Certificate]) -> Proven:
    validated = validation.validate(leaf, intermediates)
    return Proven(identity_of(validated.leaf), validated)


def _certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertificateRefused("malformed", "not a DER certificate") from None


def _der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return cert.public_bytes(Encoding.DER)


def _refused(exc: Exception) -> Refusal:
    """The Refusal for a core exception; logged and audited by its reason, never by the
    certificate's contents (they name a person)."""
    reason = str(getattr(exc, "reason", "malformed"))
    message_id = str(getattr(exc, "message_id", "certificate.signature_invalid"))
    log.info("certificate sign-in refused: %s (%s)", reason, type(exc).__name__)
    audit.record("certificate.refused", reason=reason)
    if reason == "revocation_unavailable":
        return Refusal(msg(message_id), 503, RETRY_SECONDS)
    return Refusal(msg(message_id))
