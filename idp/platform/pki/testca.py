"""A test PKI shaped like the Vietnamese one (reference pki.md §5, §6, §9), for tests and the
development demo: never configure its roots in production.

Two roots stand in for the two that matter: "public" for the Vietnam National Root CA (NEAC,
above every licensed public CA) with the intermediate "vnpt" (like VNPT-CA), and "government"
for "RootCA chuyên dùng Chính phủ G2" (Ban Cơ yếu) with the intermediate "gov". Leaves carry
what real ones do: `UID=CCCD:…` (OID 0.9.2342.19200300.100.1.1, UTF8String, several allowed),
telephoneNumber, C=VN, ST; CA:FALSE, a critical keyUsage, AKI/SKI, a CRL distribution point and
an OCSP address under `base_url`, where a test's loopback server answers with `crl_der` and
`ocsp_response_der` (tests/support/pki.py). So every branch of the validator — revoked, expired,
SHA-1, unknown root, responder down — is reachable without a network.

CA keys are RSA-2048 made once per process and shared by every TestPki (keys are the slow
part); certificates, serials and revocations belong to one instance. Leaf keys are always new:
a test of "the wrong certificate signed" must not pass because two leaves share a key.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    ObjectIdentifier,
)

UID = NameOID.USER_ID  # 0.9.2342.19200300.100.1.1
TELEPHONE_NUMBER = ObjectIdentifier("2.5.4.20")
# How long a CRL or an OCSP answer is fresh (its nextUpdate); a test may shorten it.
FRESH_FOR = dt.timedelta(hours=1)
# thisUpdate and notBefore lie this far in the past, so a validator's clock a little behind
# ours still accepts them (real CAs backdate too).
BACKDATE = dt.timedelta(minutes=5)

_CA_KEYS: dict[str, rsa.RSAPrivateKey] = {}

# name: (issuer or None for a root, subject CN, O)
_HIERARCHY = {
    "public": (None, "Test Vietnam National Root CA", "Test NEAC"),
    "vnpt": ("public", "Test VNPT Certification Authority", "Test VNPT Group"),
    "government": (None, "Test RootCA chuyên dùng Chính phủ G2", "Test Ban Cơ yếu Chính phủ"),
    "gov": ("government", "Test CA phục vụ các cơ quan Nhà nước G2",
            "Test Ban Cơ yếu Chính phủ"),
    # Nobody configures this one: unknown_root_leaf().
    "stranger": (None, "Test Unknown Root CA", "Test Nobody"),
    "stranger-ca": ("stranger", "Test Unknown Issuing CA", "Test Nobody"),
}
ROOTS = ("public", "government")


def _ca_key(name: str) -> rsa.RSAPrivateKey:
    if name not in _CA_KEYS:
        _CA_KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _CA_KEYS[name]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sha256_hex(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key and the intermediates a carrier would send along
    (the chain stops below the root: roots come from configuration, never from the carrier)."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


_KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment",
               "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")


def _key_usage(names) -> x509.KeyUsage:
    unknown = set(names) - set(_KEY_USAGES)
    if unknown:
        raise ValueError(f"unknown key usage {sorted(unknown)}; use {_KEY_USAGES}")
    return x509.KeyUsage(**{n: n in names for n in _KEY_USAGES},
                         encipher_only=False, decipher_only=False)


class TestPki:
    """One in-memory hierarchy. `base_url` is written into the CDP and AIA of every certificate
    issued: f"{base_url}/crl/<ca>.crl" and f"{base_url}/ocsp/<ca>"."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.cas: dict[str, Issued] = {}
        self._issued: dict[tuple[str, int], x509.Certificate] = {}
        self._revoked: dict[tuple[str, int], dt.datetime] = {}

    @classmethod
    def create(cls, base_url: str = "http://127.0.0.1:9") -> TestPki:
        pki = cls(base_url)
        for name in ("public", "vnpt", "government", "gov"):
            pki._make_ca(name)
        return pki

    # --- the hierarchy

    def _make_ca(self, name: str) -> Issued:
        parent, cn, org = _HIERARCHY[name]
        key = _ca_key(name)
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                             x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = _now()
        builder = self._builder(subject, key.public_key(), now - BACKDATE,
                                now + dt.timedelta(days=3650 if parent else 7300))
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None
                                                              if parent is None else 0),
                                        critical=True)
        builder = builder.add_extension(_key_usage(("key_cert_sign", "crl_sign")), critical=True)
        if parent is None:
            cert = builder.issuer_name(subject).sign(key, hashes.SHA256())
        else:
            issuer = self.cas[parent] if parent in self.cas else self._make_ca(parent)
            builder = self._issued_by(builder, parent)
            cert = builder.sign(issuer.key, hashes.SHA256())
            self._issued[(parent, cert.serial_number)] = cert
        self.cas[name] = Issued(cert, key)
        return self.cas[name]

    @staticmethod
    def _builder(subject: x509.Name, public_key, not_before, not_after) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder()
                .subject_name(subject)
                .public_key(public_key)
                .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
                .not_valid_before(not_before)
                .not_valid_after(not_after)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                               critical=False))

    def _issued_by(self, builder: x509.CertificateBuilder, ca: str,
                   revocation_info: bool = True) -> x509.CertificateBuilder:
        issuer = self.cas[ca].cert
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (builder
                   .issuer_name(issuer.subject)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                       ski), critical=False))
        if not revocation_info:
            return builder
        return (builder
                .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                    full_name=[x509.UniformResourceIdentifier(self.crl_url(ca))],
                    relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
                .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(self.ocsp_url(ca)))]), critical=False))

    def crl_url(self, ca: str) -> str:
        return f"{self.base_url}/crl/{ca}.crl"

    def ocsp_url(self, ca: str) -> str:
        return f"{self.base_url}/ocsp/{ca}"

    @property
    def anchors(self) -> list[x509.Certificate]:
        """The two roots a deployment would configure (pki_trust_anchors)."""
        return [self.cas[name].cert for name in ROOTS]

    @property
    def anchor_sha256(self) -> list[str]:
        """Their fingerprints, in the same order (pki_trust_anchor_sha256)."""
        return [sha256_hex(cert) for cert in self.anchors]

    def write(self, directory) -> list[Path]:
        """Write the roots as PEM files (one each) and return their paths, in `anchors` order."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in ROOTS:
            path = directory / f"{name}-root.pem"
            path.write_bytes(self.cas[name].cert.public_bytes(serialization.Encoding.PEM))
            paths.append(path)
        return paths

    # --- leaves

    def issue(self, uids=("CCCD:001200000001",), cn: str = "Nguyễn Văn A", *, ca: str = "vnpt",
              key: str = "rsa", phone: str | None = None, org: str | None = None,
              province: str = "Hà Nội", not_before: dt.datetime | None = None,
              not_after: dt.datetime | None = None,
              key_usage=("digital_signature", "content_commitment"), hash: str = "sha256",
              ca_flag: bool = False, revocation_info: bool = True) -> Issued:
        """A certificate for a person or an organisation under the CA `ca`. `hash="sha1"`
        signs it the way the 2017 VNPT sample was; `ca_flag=True` makes a CA certificate (not
        a valid sign-in certificate); `revocation_info=False` leaves out CDP and AIA."""
        if ca not in self.cas:
            self._make_ca(ca)
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if key == "rsa":
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif key == "ec":
            private_key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError("key: rsa or ec")
        attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                 x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
        attrs += [x509.NameAttribute(UID, uid, _ASN1Type.UTF8String) for uid in uids]
        if phone:
            attrs.append(x509.NameAttribute(TELEPHONE_NUMBER, phone, _ASN1Type.PrintableString))
        now, year = _now(), dt.timedelta(days=365)
        # An expired or a future certificate still spans a year, like a real one.
        not_before = not_before or min(now - BACKDATE, (not_after or now) - year)
        not_after = not_after or max(now, not_before) + year
        builder = self._builder(x509.Name(attrs), private_key.public_key(), not_before,
                                not_after)
        usages = tuple(key_usage) + (("key_cert_sign", "crl_sign") if ca_flag else ())
        builder = (builder
                   .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=0 if ca_flag
                                                        else None), critical=True)
                   .add_extension(_key_usage(usages), critical=True))
        if not ca_flag:
            builder = builder.add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                critical=False)
        builder = self._issued_by(builder, ca, revocation_info)
        if hash == "sha256":
            cert = builder.sign(self.cas[ca].key, hashes.SHA256())
        elif hash == "sha1":
            cert = _resign_sha1(builder.sign(self.cas[ca].key, hashes.SHA256()),
                                self.cas[ca].key)
        else:
            raise ValueError("hash: sha256 or sha1")
        self._issued[(ca, cert.serial_number)] = cert
        chain = [self.cas[ca].cert]
        parent = _HIERARCHY[ca][0]
        while parent is not None and _HIERARCHY[parent][0] is not None:
            chain.append(self.cas[parent].cert)
            parent = _HIERARCHY[parent][0]
        return Issued(cert, private_key, chain)

    def unknown_root_leaf(self, uids=("CCCD:001200000001",), cn: str = "Nguyễn Văn A",
                          **kwargs) -> Issued:
        """A leaf under a root that no configuration names (the chain holds its intermediate)."""
        return self.issue(uids, cn, ca="stranger-ca", **kwargs)

    # --- revocation

    def _ca_of(self, cert: x509.Certificate) -> str:
        for name, issued in self.cas.items():
            if issued.cert.subject == cert.issuer and (name, cert.serial_number) in self._issued:
                return name
        raise KeyError("not issued by this test PKI")

    def revoke(self, issued: Issued | x509.Certificate,
               when: dt.datetime | None = None) -> None:
        """From now on the issuing CA's CRL and OCSP answers say "revoked"."""
        cert = issued.cert if isinstance(issued, Issued) else issued
        self._revoked[(self._ca_of(cert), cert.serial_number)] = when or _now() - BACKDATE

    def crl_der(self, ca: str) -> bytes:
        """A freshly signed CRL of `ca` (thisUpdate a little in the past, nextUpdate FRESH_FOR
        ahead) listing what it revoked."""
        issuer = self.cas[ca]
        now = _now()
        ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(issuer.cert.subject)
                   .last_update(now - BACKDATE)
                   .next_update(now + FRESH_FOR)
                   .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                       ski), critical=False))
        for (name, serial), when in self._revoked.items():
            if name == ca:
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder().serial_number(serial)
                    .revocation_date(when).build())
        crl = builder.sign(issuer.key, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.DER)

    def ocsp_response_der(self, request_der: bytes, *, signed_by: str | None = None) -> bytes:
        """The answer of the issuing CA's OCSP responder (signed by the CA itself): good,
        revoked, or unknown for a serial it never issued; malformedRequest / unauthorized
        (no CA of ours) as unsuccessful answers. A request nonce is echoed. `signed_by`
        names another CA to sign it instead: a forged answer, which a validator must ignore."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        ca = self._ca_for_request(request)
        if ca is None:
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        issuer = self.cas[ca]
        if signed_by is not None:
            issuer = self.cas[signed_by] if signed_by in self.cas else self._make_ca(signed_by)
        serial = request.serial_number
        revoked_at = self._revoked.get((ca, serial))
        if revoked_at is not None:
            status = ocsp.OCSPCertStatus.REVOKED
        elif (ca, serial) in self._issued:
            status = ocsp.OCSPCertStatus.GOOD
        else:
            status = ocsp.OCSPCertStatus.UNKNOWN
        now = _now()
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash, issuer_key_hash=request.issuer_key_hash,
            serial_number=serial, algorithm=request.hash_algorithm, cert_status=status,
            this_update=now - BACKDATE, next_update=now + FRESH_FOR,
            revocation_time=revoked_at, revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
            builder = builder.add_extension(nonce, critical=False)
        except x509.ExtensionNotFound:
            pass
        response = builder.sign(issuer.key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def _ca_for_request(self, request: ocsp.OCSPRequest) -> str | None:
        for name, issued in self.cas.items():
            name_hash, key_hash = _issuer_hashes(issued.cert, request.hash_algorithm)
            if (name_hash, key_hash) == (request.issuer_name_hash, request.issuer_key_hash):
                return name
        return None


def _issuer_hashes(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes,
                                                                                    bytes]:
    """CertID's issuerNameHash (over the issuer's DER subject) and issuerKeyHash (over the
    subjectPublicKey BIT STRING contents, without tag, length and unused-bits byte)."""
    from asn1crypto import keys

    spki = keys.PublicKeyInfo.load(cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    name = hashes.Hash(algorithm)
    name.update(cert.subject.public_bytes())
    key = hashes.Hash(algorithm)
    key.update(spki["public_key"].contents[1:])
    return name.finalize(), key.finalize()


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER)



def _resign_sha1(cert: x509.Certificate, ca_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """The same certificate signed sha1WithRSAEncryption. cryptography no longer signs
    certificates with SHA-1, so the TBS is re-labelled and signed by hand (asn1crypto)."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.asymmetric import padding

    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["signature"] = {"algorithm": "sha1_rsa"}
    tbs_der = tbs.dump(force=True)
    signed = asn1_x509.Certificate({
        "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
        "signature_algorithm": {"algorithm": "sha1_rsa"},
        "signature_value": ca_key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA1()),
    })
    return x509.load_der_x509_certificate(signed.dump())
