"""Portal configuration from the environment (WSGI entry points)."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask


def from_env(prefix: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """PORTAL_ISSUER (shared), PORTAL_<PREFIX>_{CLIENT_ID,CLIENT_SECRET,BASE_URL,SECRET_KEY,
    INSTANCE_DIR}; the defaults are the demo registration from idp/data/demo_clients.json."""
    env = os.environ.get
    cfg = dict(defaults)
    cfg["issuer"] = env("PORTAL_ISSUER", "http://127.0.0.1:5000")
    for key in ("client_id", "client_secret", "base_url", "secret_key", "instance_dir"):
        value = env(f"PORTAL_{prefix}_{key.upper()}")
        if value:
            cfg[key] = value
    cfg.setdefault("instance_dir", str(Path(env("PORTAL_INSTANCE_DIR", "instance/portals"))
                                       / cfg["name"]))
    return cfg


def load_site(name: str) -> dict[str, Any]:
    """A portal's defaults from portals/sites/<name>.json: its demo client registration (the
    one in idp/data/demo_clients.json) and its page texts under "theme"."""
    with (Path(__file__).parent / "sites" / f"{name}.json").open(encoding="utf-8") as f:
        site: dict[str, Any] = json.load(f)
    return site


def entry_points(prefix: str, defaults: dict[str, Any]
                 ) -> tuple[Callable[..., Flask], Callable[[str], Flask]]:
    """`create_app(**overrides)` and a module `__getattr__` that builds `<module>:app` from the
    environment on first use (importing a portal module for its THEME has no side effect)."""
    built: dict[str, Flask] = {}

    def create_app(**overrides: Any) -> Flask:
        # Imported here, not at the top: a portal module's THEME must not need Authlib.
        from portals.app import create_portal
        cfg = from_env(prefix, defaults)
        cfg.update(overrides)
        return create_portal(cfg)

    def module_getattr(name: str) -> Flask:
        if name == "app":
            if "app" not in built:
                built["app"] = create_app()
            return built["app"]
        raise AttributeError(name)

    return create_app, module_getattr
