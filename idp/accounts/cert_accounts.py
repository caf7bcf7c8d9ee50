"""Which account a verified certificate signs in (issue 15): the person's account keyed by
the ID number its UID carries (accounts/cert_identity.py read it). Organisation
certificates (MST, MNS: the seed's "Doanh nghiệp" and "Cơ quan nhà nước" account types)
are recognised but have no account to sign in yet.

`account_for` raises `AccountRefused` with the message to show and its HTTP status; the
certificate method turns it into a Refusal (methods/certificate/method.py).
"""
from __future__ import annotations

from idp.accounts import citizen_admin
from idp.accounts.cert_identity import CertIdentity
from idp.platform.models import Citizen


class AccountRefused(Exception):
    """No account this certificate may sign in; `message_id` says why, `status` is HTTP's."""

    def __init__(self, message_id: str, status: int = 400):
        super().__init__(message_id)
        self.message_id = message_id
        self.status = status


def account_for(identity: CertIdentity) -> Citizen:
    """The active account `identity` names."""
    if identity.kind != "citizen" or identity.id_number is None:
        raise AccountRefused("certificate.organisation_unsupported")
    account = citizen_admin.by_id_number(identity.id_number)
    if account is None:
        raise AccountRefused("certificate.no_account", 404)
    if account.status != "active":
        raise AccountRefused("login.account_locked", 403)
    return account
