"""A portal's configuration, completed and checked once at start-up, and its cookie-signing key.

`create_portal(config)` keys (see portals/daklak.py):
  name, issuer, client_id, client_secret, base_url, scope, login_acr, submit_acr, theme,
  secret_key (optional: else instance_dir/secret_key, created once), instance_dir,
  session_ttl (seconds, default 8 h), backchannel_session_required (default true).

A missing key fails here, at start-up, rather than at the first citizen's login.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {"scope": "openid profile phone email", "login_acr": "LoA1",
                            "submit_acr": "LoA2", "session_ttl": 8 * 3600, "theme": {}}
REQUIRED = ("name", "issuer", "client_id", "client_secret", "base_url", "instance_dir")


def portal_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults overlaid with `config`; URLs without a trailing slash, so that the issuer
    compares equal to the ID token's `iss` and `base_url + "/auth/callback"` is the registered
    redirect URI exactly."""
    cfg = dict(DEFAULTS)
    cfg.update(config)
    for key in REQUIRED:
        if not cfg.get(key):
            raise ValueError(f"portal config: {key} is required")
    cfg["issuer"] = cfg["issuer"].rstrip("/")
    cfg["base_url"] = cfg["base_url"].rstrip("/")
    return cfg


def secret_key(cfg: Mapping[str, Any], instance: Path) -> str:
    """The configured key, else one generated on first start and kept in the instance folder
    (mode 0600), so that sessions survive a restart and every worker process signs alike:
    O_EXCL makes the first process to start the only one that writes it."""
    if cfg.get("secret_key"):
        return str(cfg["secret_key"])
    path = instance / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
