"""Who a signing certificate names: the identifiers in its subject, read from the DER
attributes (reference/pki.md §6–§7). Never from the printed DN: a quoted CN can hold a comma,
and CAs print the RDNs in either order, so string splitting reads the wrong person.

Identifiers live in `UID` attributes (0.9.2342.19200300.100.1.1), `PREFIX:number`, possibly
several per subject. Prefixes, with the aliases one vendor emits (accepted, never emitted):

    CCCD (CZN)  personal ID number, 12 digits      CMND (PID)  old ID card, 9 or 12 digits
    HC (PPT)    passport                           MST (TIN)   tax code, 10 digits or a branch
    MNS (BDG)   budget-relationship unit code      BHXH        social-insurance code
    QĐ, MDV     establishment decision, unit code (recorded, identify no one)

Classification (`CertIdentity.kind`):
- "citizen": a personal ID (CCCD/CMND) — the account keyed by that number. With an MST too,
  it is a person acting for a business (an employee's certificate, SmartCA accType 2): still
  kind "citizen", `mst` set, and signing in signs in the *person*; linking the business is a
  separate decision the business approves (pki.md §7).
- "business": an MST (valid check digit) and no personal UID.
- "agency": an MNS (usually with an MST) and no personal UID.
A passport does not key an account here: a certificate whose only personal UID is a passport
names no one, even with an MST (a person's certificate must never sign in as the business).
BHXH (person or organisation) is recorded in `uids` and decides nothing.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.vn import mst as stdnum_mst

from idp.accounts.validation import ValidationError, normalize_phone, parse_id_number
from idp.platform.reasons import ReasonedError

TELEPHONE_NUMBER = ObjectIdentifier("2.5.4.20")

# Every prefix we read, alias -> canonical name (pki.md §6).
PREFIXES: dict[str, str] = {
    "CCCD": "CCCD", "CZN": "CCCD", "CMND": "CMND", "PID": "CMND", "HC": "HC", "PPT": "HC",
    "MST": "MST", "TIN": "MST", "MNS": "MNS", "BDG": "MNS", "BHXH": "BHXH", "QĐ": "QĐ",
    "MDV": "MDV"}
PERSONAL = ("CCCD", "CMND", "HC")


class CertIdentityRefused(ReasonedError):
    """The certificate names no one we can sign in. `reason`: "no_identifier",
    "invalid_id_number", "invalid_mst", "conflicting_identifiers"; the page shows
    `message_id` (idp/platform/messages/certificate.py)."""

    area = "certificate"


@dataclass(frozen=True)
class CertIdentity:
    """`id_number`: the 12-digit CCCD, else the CMND (9 or 12 digits), for a citizen;
    `mst`: 10 digits, or `0123456787-001` for a branch; `uids`: every UID read, as
    (canonical prefix, value), in subject order — what registration stores (pki.md §1)."""

    kind: str
    id_number: str | None
    mst: str | None
    mns: str | None
    name: str | None
    organisation: str | None
    phone: str | None
    uids: tuple[tuple[str, str], ...] = ()


def _text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return unicodedata.normalize("NFC", value).strip()


def _uid(value: str) -> tuple[str, str] | None:
    """("CCCD", "001200000001") from "CCCD:001200000001"; None without a known prefix."""
    prefix, sep, number = value.partition(":")
    canonical = PREFIXES.get(prefix.strip().upper())
    if not sep or canonical is None:
        return None
    return canonical, number.strip()


def _one(values: list[str]) -> str | None:
    """The single distinct value, None for none; different values name different parties."""
    distinct = set(values)
    if len(distinct) > 1:
        raise CertIdentityRefused("conflicting_identifiers")
    return distinct.pop() if distinct else None


def _mst(value: str) -> str:
    try:
        return str(stdnum_mst.format(stdnum_mst.validate(value)))
    except StdnumError:
        raise CertIdentityRefused("invalid_mst") from None


def _id_number(uids: dict[str, list[str]]) -> str | None:
    """The CCCD, else the CMND. A 12-digit CMND is the same number as the CCCD (domain.md
    §1.3), so it must agree with it; a 9-digit CMND next to a CCCD is the old card's number."""
    try:
        cccd = _one([parse_id_number(v) for v in uids.get("CCCD", [])])
        cmnd = _one([parse_id_number(v) for v in uids.get("CMND", [])])
    except ValidationError:
        raise CertIdentityRefused("invalid_id_number") from None
    if cccd is not None and len(cccd) != 12:
        raise CertIdentityRefused("invalid_id_number")
    if cccd and cmnd and len(cmnd) == 12 and cmnd != cccd:
        raise CertIdentityRefused("conflicting_identifiers")
    return cccd or cmnd


def _phone(value: str | None) -> str | None:
    """The subject's telephoneNumber in E.164 when it is a Vietnamese mobile ("0912…",
    "84912…", "+84912…"), else None: informative only, never an identifier."""
    if not value:
        return None
    digits = value.replace(" ", "")
    if digits.startswith("84") and len(digits) == 11:
        digits = "+" + digits
    try:
        return normalize_phone(digits)
    except ValidationError:
        return None


def identity_of_name(subject: x509.Name) -> CertIdentity:
    """Classify a subject name (module docstring). Raises `CertIdentityRefused`."""
    uids: list[tuple[str, str]] = []
    first: dict[ObjectIdentifier, str] = {}
    for attribute in subject:
        value = _text(attribute.value)
        if attribute.oid == NameOID.USER_ID:
            found = _uid(value)
            if found:
                uids.append(found)
        else:
            first.setdefault(attribute.oid, value)
    by_prefix: dict[str, list[str]] = {}
    for prefix, number in uids:
        by_prefix.setdefault(prefix, []).append(number)

    mst = _one([_mst(v) for v in by_prefix.get("MST", [])])
    mns = _one(by_prefix.get("MNS", []))
    id_number = _id_number(by_prefix)
    if id_number:
        kind = "citizen"
    elif any(p in by_prefix for p in PERSONAL):
        raise CertIdentityRefused("no_identifier")  # a passport only: no account key
    elif mns:
        kind = "agency"
    elif mst:
        kind = "business"
    else:
        raise CertIdentityRefused("no_identifier")
    return CertIdentity(kind=kind, id_number=id_number, mst=mst, mns=mns,
                        name=first.get(NameOID.COMMON_NAME) or None,
                        organisation=first.get(NameOID.ORGANIZATION_NAME) or None,
                        phone=_phone(first.get(TELEPHONE_NUMBER)), uids=tuple(uids))


def identity_of(cert: x509.Certificate) -> CertIdentity:
    """Who `cert` names (its subject). A subject that cannot be decoded names no one."""
    try:
        subject = cert.subject
    except ValueError:
        raise CertIdentityRefused("no_identifier") from None
    return identity_of_name(subject)
