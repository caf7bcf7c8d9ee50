"""The trust anchors of certificate sign-in: the roots named in configuration
(`pki_trust_anchors`, PEM files), each pinned by its SHA-256 fingerprint
(`pki_trust_anchor_sha256`, same order).

Why pinned: the anchor decides who may sign in as any citizen. A file swapped on disk (a wrong
download, a tampered image, a test root left in place) must stop the service at start-up, not
quietly widen whom it trusts; the fingerprint is the value an operator compares with the one
the root's publisher prints (rootca.gov.vn, ca.gov.vn). Outside production the fingerprints may
be left out (demo and tests), inside they are required (config.validate).

Anchors come only from here: certificates a carrier sends along are untrusted intermediates
(validation.py), and the operating system's TLS store is never consulted.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from idp.platform.config import ROOT, ConfigError

_HEX = re.compile(r"[0-9a-f]{64}")


class TrustAnchorError(ConfigError):
    """A configured anchor file is missing, unreadable, not one CA certificate, or not the
    certificate its pinned fingerprint names. One line, for the operator."""


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 over the DER certificate, lower-case hex: `openssl x509 -fingerprint -sha256`
    without the colons."""
    return cert.fingerprint(hashes.SHA256()).hex()


def normalise_fingerprint(value: str) -> str:
    """Accept the forms operators copy: upper or lower case, with or without colons or spaces
    (openssl prints AB:CD:…)."""
    return re.sub(r"[\s:]", "", value).lower()


def is_fingerprint(value: str) -> bool:
    return bool(_HEX.fullmatch(normalise_fingerprint(value)))


def _read_one(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrustAnchorError(f"pki_trust_anchors: cannot read {path}: "
                               f"{exc.strerror or exc}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TrustAnchorError(f"pki_trust_anchors: {path} is not a PEM certificate") from None
    if len(certs) != 1:
        # One certificate, one pin: a bundle would let a second root ride on the first's pin.
        raise TrustAnchorError(f"pki_trust_anchors: {path} holds {len(certs)} certificates; "
                               "put each root in a file of its own")
    cert = certs[0]
    try:
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        ca = False
    if not ca:
        raise TrustAnchorError(f"pki_trust_anchors: {path} is not a CA certificate")
    return cert


def load_anchors(paths: Sequence[str | Path], fingerprints: Sequence[str] = (), *,
                 require_pins: bool = False) -> tuple[x509.Certificate, ...]:
    """The anchor certificates, in configuration order. With fingerprints (one per file, same
    order) every file must match its pin; without them only when `require_pins` is false.
    Relative paths are relative to the project directory (like ./run's working directory)."""
    if fingerprints and len(fingerprints) != len(paths):
        raise TrustAnchorError(f"pki_trust_anchor_sha256: {len(fingerprints)} fingerprints for "
                               f"{len(paths)} files in pki_trust_anchors (one each, same order)")
    if paths and not fingerprints and require_pins:
        raise TrustAnchorError("pki_trust_anchor_sha256: required for every trust anchor "
                               "(production)")
    anchors = []
    for index, raw in enumerate(paths):
        path = Path(raw)
        if not path.is_absolute():
            path = ROOT / path
        cert = _read_one(path)
        if fingerprints:
            wanted = normalise_fingerprint(fingerprints[index])
            actual = fingerprint(cert)
            if actual != wanted:
                raise TrustAnchorError(f"pki_trust_anchors: {path} has SHA-256 {actual}, not "
                                       f"the pinned {wanted}; refusing to trust it")
        anchors.append(cert)
    return tuple(anchors)


def anchors_from_settings(settings: dict[str, Any]) -> tuple[x509.Certificate, ...]:
    return load_anchors(settings["pki_trust_anchors"], settings["pki_trust_anchor_sha256"],
                        require_pins=settings["env"] == "production")
