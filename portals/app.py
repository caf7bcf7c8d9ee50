"""One small Flask app for both demo portals: an OpenID Connect relying party of the IdP,
talking to it only over HTTP (discovery, authorization code + PKCE S256, state, nonce, ID token
verified by Authlib against the JWKS with a refetch on an unknown `kid`, userinfo,
RP-initiated logout, back-channel logout receiver).

`create_portal(config)` is the application factory: it only assembles the parts, each in its
own module. Configuration keys: portals.settings. Per-app state (`app.extensions["portal"]`):
portals.state. Blueprints: portals.auth (login, registration, callback, logout),
portals.backchannel (logout tokens from the IdP), portals.pages (the citizen's pages).
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g

from portals import auth, backchannel, citizen_session, errors, humanize, oidc, pages, settings
from portals.jwks import IdpKeys
from portals.security import csrf_token, security_headers
from portals.state import EXTENSION, PortalState, portal
from portals.store import SessionStore

PACKAGE = Path(__file__).parent


def template_globals() -> dict[str, Any]:
    """What every portal template may use: the configuration and theme, the citizen's record
    (or None), the CSRF token of the session and the name masking of public lists."""
    cfg = portal().config
    return {"portal": cfg, "theme": cfg["theme"], "record": g.get("record"),
            "csrf_token": csrf_token, "mask_name": pages.mask_name}


def create_portal(config: dict[str, Any]) -> Flask:
    cfg = settings.portal_config(config)
    instance = Path(cfg["instance_dir"])
    instance.mkdir(parents=True, exist_ok=True)

    app = Flask(cfg["name"], template_folder=str(PACKAGE / "templates"),
                static_folder=str(PACKAGE / "static"), static_url_path="/static",
                instance_path=str(instance.resolve()))
    secure = cfg["base_url"].startswith("https://")
    app.config.update(
        SECRET_KEY=settings.secret_key(cfg, instance),
        # Both portals and the IdP share the host 127.0.0.1 in development and cookies are
        # not isolated by port: every app needs its own cookie name.
        SESSION_COOKIE_NAME=("__Host-" if secure else "") + f"portal_{cfg['name']}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=cfg["session_ttl"]),
        PORTAL=cfg,
    )
    idp = oidc.register_client(app, cfg)
    app.extensions[EXTENSION] = PortalState(
        config=cfg, store=SessionStore(instance / "sessions.sqlite3", cfg["session_ttl"]),
        idp=idp, keys=IdpKeys(idp))
    humanize.register(app)  # citizen-facing wording: levels, methods, times, phones

    app.before_request(citizen_session.load_record)
    app.after_request(security_headers)
    app.context_processor(template_globals)
    errors.install(app)
    for blueprint in (pages.bp, auth.bp, backchannel.bp):
        app.register_blueprint(blueprint)
    return app
