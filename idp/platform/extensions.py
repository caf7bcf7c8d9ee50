"""What the app built once at start-up for a port, by name (the remote signers, the upstream
providers): `app.extensions[name]` of the current app, empty outside an app (a CLI command
or a test that has none), so a caller simply finds nothing configured."""
from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context


def installed(name: str) -> dict[str, Any]:
    if not has_app_context():
        return {}
    found: dict[str, Any] = current_app.extensions.get(name, {})
    return found
