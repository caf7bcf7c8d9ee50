"""The staff console (issue 17 item 3): a separate, staff-only part of the IdP under /staff,
for counter clerks, support operators and administrators. Its own blueprint, templates
(templates/staff/), sign-in (password + authenticator app, accounts/staff.py) and session
cookie (session.py) — a citizen's session gives no access here, and a staff session none to
the citizen pages. Every screen goes through access.requires(permission) and every action is
audited with the staff member's identity (access.audit).

Layer: beside flows and protocol; it may use interaction, accounts and platform."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")


def init_app(app: Flask) -> None:
    from idp.staff import (  # noqa: F401 - the screens register their routes on bp
        admin,
        auth,
        complaints,
        counter,
        home,
        lookup,
        recovery,
    )
    app.register_blueprint(bp)
