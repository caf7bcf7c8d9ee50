"""The account page at the IdP ("Thông tin tài khoản", issue 4 item 7): the citizen's
authentication methods with a default (phones, authenticator app, recovery codes), password
change, and active sessions with "sign out the others".

- access.py: LoA2 to view; a fresh full authentication to change a factor or the password;
- overview.py: the page itself, password change, sessions;
- phones.py, authenticator.py, recovery_codes.py: the factors; their enrolments are flow
  kinds (enrolment.py); notify.py: SMS notifications of changes;
- certificates.py: the certificates bound at registration (issue 15), listed and removable.
- linked.py: the VNeID identities linked to the account (issue 16), listed and removable.
An organisation's account (issue 15 item 5) signs in by certificate only: its page shows the
organisation, its certificates and its sessions, and nothing that needs a password or a
second factor (access.py sends those pages back to the account page).

Every change is a POST form with the CSRF token; in-progress enrolments (a phone awaiting its
code, a TOTP secret awaiting a code) are flows kept server-side, one per kind and session.
"""
from __future__ import annotations

from flask import Blueprint, flash

from idp.platform.messages import Message

bp = Blueprint("account", __name__, url_prefix="/account")


def flash_message(message: Message, kind: str = "info") -> None:
    """Show `message` on the next page (after the redirect). The session keeps only the text,
    so the category carries the id too ("info account.phone_added"); account.html splits it
    and renders `data-msg`."""
    flash(message, f"{kind} {message.id}")


def init_app(app) -> None:
    from idp.flows.account import (  # noqa: F401 - the routes
        authenticator,
        certificates,
        linked,
        overview,
        phones,
        recovery_codes,
    )
    app.register_blueprint(bp)
