"""`idp pki demo DIR`: the certificates of the development demo (issue 15), so certificate
sign-in (USB ký số, SIM ký số, VNPT SmartCA) works under ./run exactly as it will in
production — trust anchors pinned, revocation checked and failing closed — only with a test PKI
(idp/platform/pki/testca.py) instead of the national one.

What it writes under DIR, and why each file exists:

    anchors/public-root.pem, government-root.pem   the two test roots (pki_trust_anchors)
    anchors/pins.txt         their SHA-256 fingerprints (pki_trust_anchor_sha256), for reading
    pki.env                  IDP_PKI_TRUST_ANCHORS and IDP_PKI_TRUST_ANCHOR_SHA256, absolute
                             paths, for a shell to source (./run does)
    crl/<ca>.crl             a signed CRL per test CA (DER), nextUpdate CRL_VALID ahead: the
                             certificates name BASE_URL/crl/<ca>.crl as their distribution
                             point, and whoever serves DIR/crl/ there (./run: the SIM stand-in,
                             standins/web.py) lets the IdP's fail-closed check pass
    tokens.json              the USB plugin stand-in's tokens (standins/usb_token.py): one per
                             demo citizen, the first one "plugged in"
    subscribers.json         the SIM and SmartCA stand-ins' subscribers (standins/core.py): one
                             remote-signing certificate per demo citizen, with their phone
    certificates.txt         who holds which certificate, for the developer
    ca/<ca>.pem, <ca>.key    the demo CAs, kept so the next run re-signs CRLs with the same
                             keys; demo.json: what the certificates were made from

The people are ./run's demo citizens (idp/data/demo_citizens.jsonl, as the landing page lists
them) plus one person of the carrier registry without an account (idp/data/kyc_registry.csv),
whose certificate shows "no account" and can register at IAL3. The certificates are made once
and kept while DIR still matches (same base URL, same people, RENEW_BEFORE of validity left);
every run signs fresh CRLs, which takes a fraction of a second. Every key here is a published
test key: the command is refused with IDP_ENV=production.

A stand-in never imports the IdP (.importlinter), so the JSON files are written here in the
formats the stand-ins' modules document, not with their helpers.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from idp.cli.common import CliError, current_settings
from idp.platform.pki import testca

DEFAULT_BASE_URL = "http://127.0.0.1:5012/_pki"  # ./run's SIM ký số stand-in
CAS = ("public", "vnpt", "government", "gov")  # every CA whose CRL a path may need
ISSUING_CA = "vnpt"  # citizens' certificates, as VNPT-CA issues most of them
# A demo session may last days; the IdP keeps a CRL at most an hour anyway (revocation.py).
CRL_VALID = dt.timedelta(days=7)
# Certificates with less validity left are made again (they last a year, testca.issue).
RENEW_BEFORE = dt.timedelta(days=30)
SMARTCA_PASSWORD = "smartca-demo"  # the demo SmartCA login (username: the CCCD)
FORMAT = 1  # of demo.json; another value makes everything again
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
KYC_REGISTRY = DATA_DIR / "kyc_registry.csv"
PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class Person:
    id_number: str
    full_name: str
    phone: str
    has_account: bool


def demo_people() -> list[Person]:
    """The demo citizens in landing-page order, then the first registry subscriber with a
    name and no demo account (the registry's "try registration" person)."""
    from idp.flows.landing import demo_citizens

    people = [Person(c["id_number"], c["full_name"], c["phone"], True)
              for c in demo_citizens()]
    if not people:
        raise CliError("no demo citizens: idp/data/demo_citizens.jsonl is missing or empty")
    known = {p.id_number for p in people}
    with open(KYC_REGISTRY, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("full_name") and row.get("id_number") not in known:
                people.append(Person(row["id_number"], row["full_name"], row["msisdn"], False))
                break
    return people


def _province(id_number: str) -> str:
    """ST of the subject: the province of the CCCD's first three digits, as a CA writes the
    holder's province (the birth-registration province is the demo's best guess)."""
    from idp.accounts.validation import PROVINCES

    return PROVINCES.get(id_number[:3], "Hà Nội")


def _refuse_in_production() -> None:
    if current_settings()["env"] == "production":
        raise CliError("`idp pki demo` is refused with IDP_ENV=production: its CAs and keys are "
                       "published test keys, never trust anchors of a real deployment")


# --- files --------------------------------------------------------------------------------

def _write(path: Path, data: bytes | str, *, private: bool = False) -> None:
    """Write atomically (a stand-in serving or reading the file never sees half of it);
    private files (keys) readable by their owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
    os.replace(temporary, path)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1) + "\n"


def _key_pem(key) -> str:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(PEM).decode("ascii")


def _people_digest(people: list[Person]) -> str:
    return hashlib.sha256(_json([asdict(p) for p in people]).encode()).hexdigest()


def _expected_files(directory: Path) -> list[Path]:
    return ([directory / "anchors" / f"{root}-root.pem" for root in testca.ROOTS]
            + [directory / "ca" / f"{ca}.{ext}" for ca in CAS for ext in ("pem", "key")]
            + [directory / name for name in ("tokens.json", "subscribers.json",
                                             "certificates.txt")])


def _still_good(directory: Path, base_url: str, people: list[Person]) -> bool:
    """Do the certificates in `directory` still fit: same format, base URL and people, every
    file there, and RENEW_BEFORE of validity left?"""
    try:
        state = json.loads((directory / "demo.json").read_text(encoding="utf-8"))
        valid_until = dt.datetime.fromisoformat(state["valid_until"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return (state.get("format") == FORMAT and state.get("base_url") == base_url
            and state.get("people") == _people_digest(people)
            and all(path.is_file() for path in _expected_files(directory))
            and valid_until - RENEW_BEFORE > dt.datetime.now(dt.UTC))


# --- making the certificates ---------------------------------------------------------------

def _generate(directory: Path, base_url: str, people: list[Person]) -> None:
    """A new hierarchy, the people's certificates and every file but the CRLs and pki.env."""
    pki = testca.TestPki.create(base_url)
    for name in CAS:
        _write(directory / "ca" / f"{name}.pem", _cert_pem(pki.cas[name].cert))
        _write(directory / "ca" / f"{name}.key", _key_pem(pki.cas[name].key), private=True)
    pki.write(directory / "anchors")
    tokens, subscribers, listing, not_after = [], [], [], []
    for person in people:
        uid, province = (f"CCCD:{person.id_number}",), _province(person.id_number)
        # Two certificates each, as in life: one on a USB token, one held by the remote
        # signing services (SIM ký số and SmartCA share it here; the phone is in its subject).
        usb = pki.issue(uid, person.full_name, ca=ISSUING_CA, province=province)
        remote = pki.issue(uid, person.full_name, ca=ISSUING_CA, province=province,
                           phone=person.phone)
        tokens.append({"label": f"{person.full_name} (CCCD {person.id_number})",
                       "cert_pem": _cert_pem(usb.cert),
                       "chain_pem": "".join(_cert_pem(c) for c in usb.chain),
                       "key_pem": _key_pem(usb.key)})
        subscribers.append({"user_id": person.id_number, "phone": person.phone,
                            "password": SMARTCA_PASSWORD, "cert_pem": _cert_pem(remote.cert),
                            "chain_pem": [_cert_pem(c) for c in remote.chain],
                            "key_pem": _key_pem(remote.key), "status": "valid"})
        listing.append((person, format(usb.cert.serial_number, "X"),
                        format(remote.cert.serial_number, "x")))
        not_after += [usb.cert.not_valid_after_utc, remote.cert.not_valid_after_utc]
    _write(directory / "tokens.json", _json(tokens), private=True)
    _write(directory / "subscribers.json", _json(subscribers), private=True)
    _write(directory / "certificates.txt", _listing(base_url, listing))
    _write(directory / "demo.json", _json({
        "format": FORMAT, "base_url": base_url, "people": _people_digest(people),
        "valid_until": min(not_after).isoformat()}))


def _listing(base_url: str, rows: list[tuple[Person, str, str]]) -> str:
    lines = [
        "Demo certificates (test PKI; `idp pki demo`). Each person has two: a USB token",
        "(tokens.json; the USB plugin stand-in offers the first token unless told a serial) and",
        "a remote-signing certificate for SIM ký số and VNPT SmartCA (subscribers.json; SmartCA",
        f"login: the CCCD and the password {SMARTCA_PASSWORD}). CRLs: {base_url}/crl/<ca>.crl",
        "",
        f"{'CCCD':<13} {'phone':<11} {'USB token serial':<33} {'account':<8} name",
    ]
    for person, usb_serial, _ in rows:
        account = "yes" if person.has_account else "NO"
        lines.append(f"{person.id_number:<13} {person.phone:<11} {usb_serial:<33} "
                     f"{account:<8} {person.full_name}")
    return "\n".join(lines) + "\n"


def _load_ca(directory: Path, name: str) -> testca.Issued:
    cert = x509.load_pem_x509_certificate((directory / "ca" / f"{name}.pem").read_bytes())
    key = serialization.load_pem_private_key((directory / "ca" / f"{name}.key").read_bytes(),
                                             password=None)
    return testca.Issued(cert, key)


def _crl(ca: testca.Issued, now: dt.datetime) -> bytes:
    """An empty CRL of `ca`, fresh for CRL_VALID. Made here rather than by TestPki.crl_der,
    whose freshness (an hour) suits tests, not a demo left running over a weekend."""
    ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    crl = (x509.CertificateRevocationListBuilder()
           .issuer_name(ca.cert.subject)
           .last_update(now - testca.BACKDATE)
           .next_update(now + CRL_VALID)
           .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                          critical=False)
           .sign(ca.key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.DER)


def _renew(directory: Path) -> tuple[list[Path], list[str], dt.datetime]:
    """Fresh CRLs, the pins and pki.env; returns (anchor paths, pins, the CRLs' nextUpdate)."""
    now = dt.datetime.now(dt.UTC)
    for name in CAS:
        _write(directory / "crl" / f"{name}.crl", _crl(_load_ca(directory, name), now))
    anchors = [(directory / "anchors" / f"{root}-root.pem").resolve() for root in testca.ROOTS]
    pins = [testca.sha256_hex(x509.load_pem_x509_certificate(p.read_bytes())) for p in anchors]
    _write(directory / "anchors" / "pins.txt", "".join(
        f"{pin}  {path.name}  (SHA-256 of the DER certificate)\n"
        for pin, path in zip(pins, anchors)))
    _write(directory / "pki.env", "".join((
        "# Written by `idp pki demo`: the demo's trust anchors and their pins.\n",
        f"IDP_PKI_TRUST_ANCHORS={shlex.quote(','.join(str(p) for p in anchors))}\n",
        f"IDP_PKI_TRUST_ANCHOR_SHA256={','.join(pins)}\n")))
    return anchors, pins, now + CRL_VALID


# --- the command ---------------------------------------------------------------------------

@click.group()
def pki() -> None:
    """Certificates for certificate sign-in (development: the demo test PKI)."""


@pki.command("demo", help="Write the demo's test PKI into DIR (trust anchors and pins, CRLs, "
                          "the USB, SIM and SmartCA stand-ins' certificates); keep what still "
                          "fits and sign fresh CRLs. Development only.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True,
              help="Where DIR/crl/ is served: the certificates name BASE-URL/crl/<ca>.crl.")
@click.option("--force", is_flag=True, help="Make new CAs and certificates even if the old "
                                            "ones still fit.")
def demo(directory: Path, base_url: str, force: bool):
    _refuse_in_production()
    base_url = base_url.rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise CliError(f"--base-url must be an http(s) URL, not {base_url!r}")
    people = demo_people()
    try:
        kept = not force and _still_good(directory, base_url, people)
        if not kept:
            _generate(directory, base_url, people)
        anchors, pins, fresh_until = _renew(directory)
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or directory}: "
                       f"{exc.strerror or exc}") from None
    said = "kept" if kept else "created"
    click.echo(f"demo PKI {said} in {directory} ({len(people)} people: "
               f"{directory / 'certificates.txt'}); CRLs signed until "
               f"{fresh_until:%Y-%m-%d %H:%MZ}, to be served at {base_url}/crl/")
    for path, pin in zip(anchors, pins):
        click.echo(f"  trust anchor {path.name}: sha256 {pin}")
