"""Account types (issue 15 item 5): "citizen" (Công dân), "business" (Doanh nghiệp), "agency"
(Cơ quan nhà nước), and the account key each one has in `citizens.id_number`
(platform/account_columns.py says why organisations share the account table).

Keys, from the certificate's subject (accounts/cert_identity.py, reference pki.md §7):
- a citizen: the personal ID number (CCCD, else CMND), as always;
- a business: "MST:" + its tax code as python-stdnum formats it: 10 digits, or a branch
  "0123456787-001". A branch is an account of its own: whether it should link to the parent's
  is a policy the national portal does not publish (pki.md §7, unknown upstream);
- an agency: "MNS:" + its budget-relationship unit code (an MST next to it is kept in
  `org_mst`, not the key: the MNS is what names a state unit, and two units under one
  treasury may share a tax code).
A certificate of a person that also carries an MST (an employee acting for a company) is a
citizen's: it keys the person, never the company.
"""
from __future__ import annotations

from idp.accounts.cert_identity import CertIdentity
from idp.platform.models import Citizen

CITIZEN, BUSINESS, AGENCY = "citizen", "business", "agency"
TYPES = (CITIZEN, BUSINESS, AGENCY)
ORGANISATIONS = (BUSINESS, AGENCY)
# The national portal's LoaiTaiKhoan (reference vneid.md §7: 1 citizen, 2 business, 3
# organisation); a string, as the portal's userinfo carries it.
LOAI_TAI_KHOAN = {CITIZEN: "1", BUSINESS: "2", AGENCY: "3"}
# An organisation has no password: it signs in by certificate only. Not an Argon2 hash, so
# crypto.verify_password refuses every password against it.
NO_PASSWORD = "!"


def key_of(identity: CertIdentity) -> str | None:
    """The account key (`citizens.id_number`) of whoever `identity` names; None when its kind
    has no key (never for an identity cert_identity accepted)."""
    if identity.kind == CITIZEN:
        return identity.id_number
    if identity.kind == BUSINESS and identity.mst:
        return "MST:" + identity.mst
    if identity.kind == AGENCY and identity.mns:
        return "MNS:" + identity.mns
    return None


def is_organisation(account: Citizen) -> bool:
    return account.account_type in ORGANISATIONS


def loai_tai_khoan(account_type: str | None) -> str:
    """The portal's account type code; a row without a type is a citizen's."""
    return LOAI_TAI_KHOAN.get(account_type or CITIZEN, "1")


def code_of(account: Citizen) -> str:
    """What names the organisation on pages: its MST, else its MNS (the key without prefix)."""
    return account.org_mst or account.org_mns or account.id_number.partition(":")[2]
