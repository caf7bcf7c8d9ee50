"""What a portal application holds for all its requests, in `app.extensions["portal"]`.

Two portals (and the tests' several) run in one process: their state must hang off their own
Flask app, never off module globals, so the blueprints find it through `current_app`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_client import FlaskOAuth2App
from flask import current_app

from portals.jwks import IdpKeys
from portals.store import SessionStore

EXTENSION = "portal"


@dataclass
class PortalState:
    """config: the completed portal configuration (portals.settings); store: the server-side
    session records; idp: the Authlib client of the IdP (discovery, PKCE, ID token checks);
    keys: the IdP's JWKS for logout tokens."""

    config: dict[str, Any]
    store: SessionStore
    idp: FlaskOAuth2App
    keys: IdpKeys

    @property
    def redirect_uri(self) -> str:
        """The one redirect URI registered for the portal's client at the IdP."""
        return str(self.config["base_url"]) + "/auth/callback"


def portal() -> PortalState:
    """The state of the portal handling the current request."""
    state: PortalState = current_app.extensions[EXTENSION]
    return state
