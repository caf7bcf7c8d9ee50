"""The test tokens the USB-plugin stand-in (standins/usb_plugin.py) holds, and what a token
does: report its certificate and sign. Kept apart from the websocket code so the cryptography
is read (and reviewed) on its own.

A token directory holds `tokens.json`, a JSON list of entries
`{"cert_pem": …, "chain_pem": …, "key_pem": …, "label": …}`. Each PEM value is either the PEM
text itself or a file name relative to the directory; `chain_pem` (intermediates, may be
several certificates) and `label` are optional, and `key_pem` may be null: a certificate
whose private key is not on the token (the plugin's code 4). The first entry is the token
plugged in; the real plugin shows a chooser, the stand-in takes the first unless told a serial.

Signatures are CMS SignedData (RFC 5652), SHA-256 unless a signHash digest says otherwise,
with signed attributes (content type, signing time, message digest) and the signer's
certificate plus its chain, as a Windows CSP-based plugin produces them (assessment:
reference pki.md §2 says the real output's shape is unknown):
- `sign_cms(content)`: made by `cryptography`'s PKCS7SignatureBuilder; ATTACHED by default
  (the content travels inside, as VNPT's demo page relies on: it posts only the CMS), detached
  on request so the server's detached path can be exercised too;
- `sign_digest(digest)`: a signHash over a digest the page computed; no builder signs a
  precomputed digest, so the SignedData is assembled with asn1crypto: always detached, its
  messageDigest attribute the given digest, so it verifies against the content hashed.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

TOKENS_FILE = "tokens.json"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# signHash: the digest's length names its algorithm (the page sends only the bytes).
_DIGESTS: dict[int, tuple[str, type[hashes.HashAlgorithm]]] = {
    32: ("sha256", hashes.SHA256), 48: ("sha384", hashes.SHA384), 64: ("sha512", hashes.SHA512)}


class TokenError(Exception):
    """The token cannot do what was asked; `code` is the plugin's result code for it."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Token:
    """One USB token: a certificate, the intermediates above it, and (usually) its key."""

    cert: x509.Certificate
    key: PrivateKey | None
    chain: list[x509.Certificate] = field(default_factory=list)
    label: str = ""

    @property
    def serial(self) -> str:
        """Upper-case hex, as Windows tools print a serial number."""
        return format(self.cert.serial_number, "X")

    def cert_info(self) -> dict[str, str]:
        """GetCertInfo's reply object (field names from VNPT's demo page, reference pki.md §2);
        `notAfter` in ISO 8601 UTC, which the page's `new Date(...)` reads (the real format
        is unknown)."""
        return {
            "base64": _b64(self.cert.public_bytes(serialization.Encoding.DER)),
            "serial": self.serial,
            "subjectCN": _common_name(self.cert.subject),
            "issuerCN": _common_name(self.cert.issuer),
            "notBefore": self.cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "notAfter": self.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def _require_key(self) -> PrivateKey:
        if self.key is None:
            raise TokenError(4, "the certificate has no private key on this token")
        return self.key

    def sign_cms(self, content: bytes, *, detached: bool = False) -> bytes:
        """DER CMS SignedData over `content`, SHA-256, with the certificate and chain."""
        key = self._require_key()
        builder = (pkcs7.PKCS7SignatureBuilder().set_data(content)
                   .add_signer(self.cert, key, hashes.SHA256()))
        for cert in self.chain:
            builder = builder.add_certificate(cert)
        options = [pkcs7.PKCS7Options.Binary]
        if detached:
            options.append(pkcs7.PKCS7Options.DetachedSignature)
        return builder.sign(serialization.Encoding.DER, options)

    def sign_digest(self, digest: bytes) -> bytes:
        """DER CMS SignedData, detached, whose messageDigest is `digest` (SHA-256/384/512 by
        length); raises TokenError(1) for a digest of any other length."""
        key = self._require_key()
        if len(digest) not in _DIGESTS:
            raise TokenError(1, "the digest is not SHA-256, SHA-384 or SHA-512")
        name, algorithm = _DIGESTS[len(digest)]
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": now})]}),
            cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
        ])
        # RFC 5652 §5.4: the signature covers the attributes' DER encoded as a SET OF.
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(attrs.dump(), padding.PKCS1v15(), algorithm())
            signature_algorithm = "rsassa_pkcs1v15"
        else:
            signature = key.sign(attrs.dump(), ec.ECDSA(algorithm()))
            signature_algorithm = f"{name}_ecdsa"
        cert = asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
                {"issuer": cert.issuer, "serial_number": cert.serial_number})}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": name}),
            "signed_attrs": attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": signature_algorithm}),
            "signature": signature,
        })
        certificates = [cert] + [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in self.chain]
        signed = cms.SignedData({
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": name})],
            "encap_content_info": {"content_type": "data"},
            "certificates": certificates,
            "signer_infos": [signer],
        })
        return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _pem(value: str | None, directory: Path) -> bytes | None:
    if not value:
        return None
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii")
    return (directory / value).read_bytes()


def load_tokens(directory: str | Path) -> list[Token]:
    """The tokens described by `directory`/tokens.json, in order (the first is plugged in)."""
    directory = Path(directory)
    entries = json.loads((directory / TOKENS_FILE).read_text(encoding="utf-8"))
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{directory / TOKENS_FILE}: expected a non-empty JSON list")
    tokens = []
    for entry in entries:
        cert_pem = _pem(entry.get("cert_pem"), directory)
        if cert_pem is None:
            raise ValueError(f"{directory / TOKENS_FILE}: an entry has no cert_pem")
        key_pem = _pem(entry.get("key_pem"), directory)
        key = serialization.load_pem_private_key(key_pem, None) if key_pem else None
        if key is not None and not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("only RSA and EC token keys are supported")
        chain_pem = _pem(entry.get("chain_pem"), directory)
        chain = x509.load_pem_x509_certificates(chain_pem) if chain_pem else []
        tokens.append(Token(x509.load_pem_x509_certificate(cert_pem), key, chain,
                            str(entry.get("label", ""))))
    return tokens


def token_entry(cert: x509.Certificate, key: PrivateKey | None,
                chain: Sequence[x509.Certificate] = (), label: str = "") -> dict[str, str | None]:
    """One tokens.json entry with the PEMs inline (test keys only: unencrypted)."""
    pem = serialization.Encoding.PEM
    return {
        "label": label,
        "cert_pem": cert.public_bytes(pem).decode("ascii"),
        "chain_pem": "".join(c.public_bytes(pem).decode("ascii") for c in chain) or None,
        "key_pem": key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode("ascii")
        if key is not None else None,
    }


def write_tokens(directory: str | Path, entries: list[dict[str, str | None]]) -> Path:
    """Write `entries` (from `token_entry`) as `directory`/tokens.json; returns its path."""
    path = Path(directory) / TOKENS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
