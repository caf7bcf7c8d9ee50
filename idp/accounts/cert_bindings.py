"""Certificates bound to an account (`AuthMethod` rows of kind "cert", columns in
platform/account_columns.py): made when an account registers by signing with a certificate
(flows/register/certificate.py), listed and removed on the account page through the
certificate methods' `enrolments` / `remove` (methods/certificate/method.py).

What a binding records is what identifies the certificate without keeping it: issuer DN,
serial, SHA-256 of the DER, the subject's UID values, and the carrier that proved it.

Sign-in does not require a binding: a valid certificate naming the account's ID number or
organisation code is the identity evidence (accounts/cert_accounts.py), so a citizen who
registered with a phone signs in with a new token the day they get it. Each certificate that
signs in is recorded (`admit`: a new binding, or the known one's last use), so the account
page lists every certificate that has been used. Removing one there keeps its row, marked
removed: that certificate is refused for this account from then on (a lost token, a
certificate handed to someone else), the account's other certificates still sign in.
"""
from __future__ import annotations

import json
from typing import Any

from cryptography import x509
from sqlalchemy import select

from idp.platform.db import db, now
from idp.platform.models import AuthMethod, Citizen

KIND = "cert"


def facts(carrier: str, sha256: str, issuer: str, serial: int,
          uids: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """What a binding stores, as JSON-able values (a flow keeps them until the account is
    created)."""
    return {"carrier": carrier, "sha256": sha256, "issuer": issuer,
            "serial": format(serial, "X"), "uids": [list(u) for u in uids]}


def new(citizen_id: int, record: dict[str, Any]) -> AuthMethod:
    """The binding row of `record` (`facts`), not added to the session."""
    return AuthMethod(citizen_id=citizen_id, kind=KIND, cert_sha256=record["sha256"],
                      cert_issuer=record["issuer"][:500], cert_serial=record["serial"][:64],
                      cert_uids=json.dumps(record["uids"], ensure_ascii=False),
                      carrier=record["carrier"], created_at=now())


class CertificateRemoved(Exception):
    """The owner removed this certificate from the account: it does not sign in here."""


def admit(citizen: Citizen, sha256: str, record: dict[str, Any]) -> None:
    """Before a certificate signs in to `citizen`: refuse one the owner removed, note the use
    of a known one, record a new one (`record`: `facts`; staged, committed with the sign-in).
    Raises CertificateRemoved."""
    row = db.session.scalars(select(AuthMethod).where(
        AuthMethod.citizen_id == citizen.id, AuthMethod.kind == KIND,
        AuthMethod.cert_sha256 == sha256).order_by(AuthMethod.id)).first()
    if row is None:
        db.session.add(new(citizen.id, record))
    elif row.cert_removed_at is not None:
        raise CertificateRemoved()
    else:
        row.last_used_at = now()


def rows(citizen: Citizen, carrier: str | None = None) -> list[AuthMethod]:
    """The account's bindings still in use (of one carrier), oldest first."""
    query = select(AuthMethod).where(AuthMethod.citizen_id == citizen.id,
                                     AuthMethod.kind == KIND,
                                     AuthMethod.cert_removed_at.is_(None))
    if carrier is not None:
        query = query.where(AuthMethod.carrier == carrier)
    return list(db.session.scalars(query.order_by(AuthMethod.id)))


def label(row: AuthMethod) -> str:
    """"<issuer CN> · <serial>": how the account page names a bound certificate (the issuer's
    common name, not the whole DN; the serial as the CA prints it, in hex)."""
    issuer = row.cert_issuer or ""
    try:
        names = x509.Name.from_rfc4514_string(issuer).get_attributes_for_oid(
            x509.NameOID.COMMON_NAME)
        issuer = str(names[0].value) if names else issuer
    except ValueError:
        pass
    return f"{issuer} · {row.cert_serial or ''}"


def remove(citizen: Citizen, row_id: int, carrier: str) -> bool:
    """Stage the removal of the binding `row_id` of this account and carrier (the caller
    commits, with its notice): marked, not deleted, so that certificate stays refused (module
    docstring). False when there is no such binding in use."""
    row = next((r for r in rows(citizen, carrier) if r.id == row_id), None)
    if row is None:
        return False
    row.cert_removed_at = now()
    return True
