"""Which account a verified certificate signs in (issue 15): the account keyed by what its
UID carries (accounts/cert_identity.py read it; accounts/organisations.py makes the key) —
a person's by the ID number, a business's by its MST, an agency's by its MNS: the seed's
"Doanh nghiệp" and "Cơ quan nhà nước" account types. A person's certificate that also
carries an MST (an employee's) is kind "citizen" and signs in the person.

`account_for` raises `AccountRefused` with the message to show and its HTTP status; the
certificate method turns it into a Refusal (methods/certificate/method.py).
"""
from __future__ import annotations

from idp.accounts import citizen_admin, organisations
from idp.accounts.cert_identity import CertIdentity
from idp.platform.models import Citizen


class AccountRefused(Exception):
    """No account this certificate may sign in; `message_id` says why, `status` is HTTP's."""

    def __init__(self, message_id: str, status: int = 400):
        super().__init__(message_id)
        self.message_id = message_id
        self.status = status


def account_for(identity: CertIdentity) -> Citizen:
    """The active account `identity` names (a citizen's, a business's or an agency's)."""
    key = organisations.key_of(identity)
    if key is None:
        raise AccountRefused("certificate.no_identifier")
    account = citizen_admin.by_id_number(key)
    # The type must agree too: a key names one kind of account (the prefixes keep them apart,
    # this keeps a hand-made row from blurring them).
    if account is None or account.account_type != identity.kind:
        if identity.kind == organisations.CITIZEN:
            raise AccountRefused("certificate.no_account", 404)
        raise AccountRefused("organisation.no_account", 404)
    if account.status != "active":
        raise AccountRefused("login.account_locked", 403)
    return account
