"""Is this certificate one a citizen may sign in with? `validate(leaf, intermediates)` answers
with a ValidatedCertificate or raises CertificateRefused(reason), `reason` a short stable code
whose user-facing text is the message `pki.<reason>` (messages/pki.py).

The path logic is pyhanko-certvalidator's (RFC 5280 §6.1), not ours. What this module adds is
policy, in the order that keeps the network out of reach of strangers:

1. Path: build and verify a path from the leaf to a configured anchor (trust.py) using the
   carrier's certificates as untrusted intermediates only; every signature, every validity
   period at `purpose_time`, no SHA-1/MD5 signature (pyhanko's weak-algorithm policy), no
   revocation yet, nothing fetched (no AIA chasing: a missing intermediate is "untrusted").
2. The leaf: not a CA (a CA certificate is not a person's), keyUsage with digitalSignature or
   nonRepudiation (a VNPT leaf has both; extended key usage is not required: pki.md §5), and
   an RSA key of at least 2048 bits.
3. Revocation, only now that the path is verified: OCSP or CRL for every certificate below the
   anchor, fetched by revocation.py from the addresses in the certificates, then judged by
   pyhanko on the same path (signature, issuer, thisUpdate/nextUpdate). `pki_revocation =
   "require"` (default) fails closed: no usable answer is "revocation_unavailable", and the
   login waits for the responder rather than admitting a certificate that may be revoked.
   "soft-fail" is the operator's switch for a CA outage: unreachable responders are
   tolerated (the result says revocation_checked=False), but a revoked answer still refuses.

The module is cheap to import (the serving worker's memory is measured): pyhanko, asn1crypto
and requests load inside the functions, with the first certificate presented.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from idp.platform.pki import revocation, trust
from idp.platform.reasons import ReasonedError

log = logging.getLogger("idp.pki")

T = TypeVar("T")
REASONS = ("untrusted", "expired", "not_yet_valid", "revoked", "key_usage", "weak_algorithm",
           "revocation_unavailable", "malformed", "not_end_entity")
# Clocks of CAs, responders and this node disagree by seconds; a minute either way is accepted.
CLOCK_SKEW = dt.timedelta(seconds=60)
MIN_RSA_BITS = 2048

CertificateInput = bytes | x509.Certificate


class CertificateRefused(ReasonedError):
    """The certificate may not be used to sign in. `reason` is one of REASONS (stable: tests,
    audit and the message id `pki.<reason>` use it); `detail` is for the log, never shown."""

    area = "pki"
    reasons = REASONS


@dataclass(frozen=True)
class ValidatedCertificate:
    """A certificate that passed every check. `path` runs from the leaf to the anchor;
    `sha256` (hex of the DER), `issuer` (RFC 4514) and `serial` are what a binding stores."""

    leaf: x509.Certificate
    path: tuple[x509.Certificate, ...]
    sha256: str
    issuer: str
    serial: int
    revocation_checked: bool

    @property
    def anchor(self) -> x509.Certificate:
        return self.path[-1]


@dataclass(frozen=True)
class Policy:
    """The settings of validation, read once per app (init_app) or given by a caller/test."""

    anchors: tuple[x509.Certificate, ...]
    revocation: str = "require"  # "require" | "soft-fail"
    timeout: float = 5.0
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Policy:
        return cls(anchors=trust.anchors_from_settings(settings),
                   revocation=settings["pki_revocation"],
                   timeout=float(settings["pki_revocation_timeout"]),
                   allowed_hosts=frozenset(h.strip().rstrip(".").lower() for h in
                                           settings["pki_revocation_allowed_hosts"]))


def init_app(app) -> None:
    """Load and check the trust anchors at start-up: a wrong pin stops the app there, not at
    the first certificate login."""
    app.extensions["idp.pki"] = Policy.from_settings(app.config["IDP"])


def current_policy() -> Policy:
    from flask import current_app

    policy = current_app.extensions.get("idp.pki")
    if policy is None:
        policy = current_app.extensions["idp.pki"] = Policy.from_settings(
            current_app.config["IDP"])
    return policy


def _run(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run pyhanko-certvalidator's coroutine from synchronous code. A request thread has no
    event loop (gunicorn's threads); where the calling thread already runs one (an asyncio
    server, Playwright's sync API in the tests) the coroutine gets a loop on a thread of its
    own instead, since asyncio.run refuses to nest."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine())
    with ThreadPoolExecutor(1, thread_name_prefix="pki") as pool:
        return pool.submit(lambda: asyncio.run(coroutine())).result()


def _load(value: CertificateInput) -> x509.Certificate:
    if isinstance(value, x509.Certificate):
        return value
    if not isinstance(value, bytes | bytearray | memoryview):
        raise CertificateRefused("malformed", f"expected DER bytes, got {type(value).__name__}")
    try:
        return x509.load_der_x509_certificate(bytes(value))
    except ValueError as exc:
        raise CertificateRefused("malformed", str(exc)) from None


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _asn1(cert: x509.Certificate):
    from asn1crypto import x509 as asn1_x509

    try:
        parsed = asn1_x509.Certificate.load(_der(cert))
        parsed.native  # noqa: B018 - parse it all now: a lazy parse error would surface later
    except ValueError as exc:
        raise CertificateRefused("malformed", str(exc)) from None
    return parsed


def validate(leaf: CertificateInput, intermediates: Sequence[CertificateInput] = (), *,
             purpose_time: dt.datetime | None = None,
             policy: Policy | None = None) -> ValidatedCertificate:
    """Validate `leaf` (DER or a cryptography certificate) with the carrier-supplied
    `intermediates`. Raises CertificateRefused.

    `purpose_time` (aware datetime) validates at that moment instead of now, pyhanko's
    point-in-time model: validity periods at that time, and a revocation dated after it does
    not count (the signature was made before). A login leaves it None: revoked is revoked."""
    policy = policy or current_policy()
    if purpose_time is not None and purpose_time.utcoffset() is None:
        raise ValueError("purpose_time must be timezone-aware")
    cert = _load(leaf)
    others = [_load(c) for c in intermediates]
    if not policy.anchors:
        raise CertificateRefused("untrusted", "no trust anchors configured (pki_trust_anchors)")
    path = _run(lambda: _verified_path(cert, others, policy, purpose_time))
    _check_leaf(cert)
    chain = [x509.load_der_x509_certificate(c.dump()) for c in
             path.iter_certs(include_root=True)]  # anchor first, leaf last
    checked = _check_revocation(path, chain, policy, purpose_time)
    return ValidatedCertificate(
        leaf=cert, path=tuple(reversed(chain)), sha256=trust.fingerprint(cert),
        issuer=cert.issuer.rfc4514_string(), serial=cert.serial_number,
        revocation_checked=checked)


def _context(policy: Policy, others, moment, *, rule, crls=(), ocsps=()):
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy

    leaf_rule, ca_rule = rule
    return ValidationContext(
        trust_roots=[_asn1(a) for a in policy.anchors], other_certs=others, moment=moment,
        # retroactive: an answer produced after `moment` counts (a SmartCA approval can take
        # minutes; the status now is what a login needs). Stale answers are still refused.
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(leaf_rule, ca_rule),
                                          retroactive_revinfo=True),
        crls=list(crls), ocsps=list(ocsps), time_tolerance=CLOCK_SKEW, allow_fetching=False)


async def _verified_path(cert: x509.Certificate, others: list[x509.Certificate],
                         policy: Policy, moment: dt.datetime | None):
    from pyhanko_certvalidator import CertificateValidator, errors
    from pyhanko_certvalidator.policy_decl import RevocationCheckingRule as Rule

    leaf = _asn1(cert)
    intermediates = [_asn1(c) for c in others]
    context = _context(policy, intermediates, moment, rule=(Rule.NO_CHECK, Rule.NO_CHECK))
    try:
        return await CertificateValidator(leaf, validation_context=context).async_validate_path()
    except errors.DisallowedAlgorithmError as exc:
        raise CertificateRefused("weak_algorithm", str(exc)) from None
    except errors.ExpiredError as exc:
        raise CertificateRefused("expired", str(exc)) from None
    except errors.NotYetValidError as exc:
        raise CertificateRefused("not_yet_valid", str(exc)) from None
    except (errors.PathBuildingError, errors.ValidationError) as exc:
        raise CertificateRefused("untrusted", str(exc)) from None
    except (ValueError, TypeError) as exc:  # asn1crypto meeting a field it cannot parse
        raise CertificateRefused("malformed", f"{exc.__class__.__name__}: {exc}") from None


def _check_leaf(cert: x509.Certificate) -> None:
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        raise CertificateRefused("not_end_entity", "basicConstraints CA:TRUE")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateRefused("key_usage", "no keyUsage extension") from None
    if not (usage.digital_signature or usage.content_commitment):
        raise CertificateRefused("key_usage", "neither digitalSignature nor nonRepudiation")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise CertificateRefused("weak_algorithm", f"RSA-{key.key_size} key")
    if isinstance(key, dsa.DSAPublicKey):
        raise CertificateRefused("weak_algorithm", "DSA key")


def _check_revocation(path, chain: list[x509.Certificate], policy: Policy,
                      moment: dt.datetime | None) -> bool:
    """Fetch (revocation.py) and judge (pyhanko, on the verified path). True when the leaf's
    status was read from its CA and every declared source of the path answered; False only
    under soft-fail."""
    from pyhanko_certvalidator import errors
    from pyhanko_certvalidator.policy_decl import RevocationCheckingRule as Rule

    pairs = [(chain[i], chain[i - 1]) for i in range(len(chain) - 1, 0, -1)]  # leaf first
    found = revocation.fetch_for(pairs, timeout=policy.timeout,
                                 allowed_hosts=policy.allowed_hosts)
    if policy.revocation == "soft-fail":
        rule = (Rule.CHECK_IF_DECLARED_SOFT, Rule.CHECK_IF_DECLARED_SOFT)
    else:
        # The leaf must have an answer, whatever it declares; a CA certificate must when it
        # names a CRL or a responder (some roots' intermediates name none).
        rule = (Rule.CRL_OR_OCSP_REQUIRED, Rule.CHECK_IF_DECLARED)
    others = [_asn1(c) for c in chain[1:-1]]
    context = _context(policy, others, moment, rule=rule, crls=found.crls, ocsps=found.ocsps)
    try:
        _run(lambda: _judge(context, path))
    except errors.RevokedError as exc:
        revocation.remember(found)  # a signed "revoked" is as good an answer as "good"
        raise CertificateRefused("revoked", str(exc)) from None
    except errors.ValidationError as exc:
        detail = "; ".join(found.missing) or str(exc)
        log.warning("certificate revocation status unavailable: %s", detail)
        raise CertificateRefused("revocation_unavailable", detail) from None
    revocation.remember(found)
    if found.missing:
        log.warning("certificate accepted without revocation check (pki_revocation = "
                    "soft-fail): %s", "; ".join(found.missing))
    leaf = chain[-1]
    return not found.missing and bool(revocation.ocsp_urls(leaf) or revocation.crl_urls(leaf))


async def _judge(context, path) -> None:
    from pyhanko_certvalidator.validate import async_validate_path

    await async_validate_path(context, path)
