"""The identity provider's application factory."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from idp.platform.config import ROOT, load_settings


def _instance_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def create_app(overrides: dict | None = None, *, serving: bool = False) -> Flask:
    settings = load_settings(overrides)
    instance = Path(os.environ.get("IDP_INSTANCE_DIR", ROOT / "instance"))
    app = Flask(__name__, instance_path=str(instance))
    app.config["IDP"] = settings
    # First: their request hooks must run before, and finish after, every other one.
    from idp.platform import logs, metrics
    logs.configure(app)
    metrics.init_app(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = (
        settings["database_url"] or f"sqlite:///{instance / 'idp.sqlite3'}")
    if settings["database_url"].startswith("postgresql://"):
        # Use psycopg 3 (the pinned driver) for plain postgresql:// URLs.
        app.config["SQLALCHEMY_DATABASE_URI"] = settings["database_url"].replace(
            "postgresql://", "postgresql+psycopg://", 1)
    from idp.platform.fileperms import private_dir
    private_dir(instance, tighten_existing=instance == ROOT / "instance")  # 0700 (issue 11 item 6)

    from idp.platform.db import db, engine_options, init_migrations
    from idp.platform.dbdeadline import bound_waits, deadlines
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], settings)
    app.config["SECRET_KEY"] = settings["secret_key"] or _instance_secret(instance)
    secure = settings["issuer"].startswith("https://")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=settings["flow_ttl"],
        WTF_CSRF_SSL_STRICT=secure,
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_AS_ASCII=False,
        TEMPLATES_AUTO_RELOAD=settings["env"] == "development",
    )
    if not secure:
        # Authlib refuses http:// URIs unless told otherwise; the configuration only allows an
        # http issuer on a loopback address outside production (config.validate).
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

    db.init_app(app)
    with app.app_context():
        bound_waits(db.engine, *deadlines(settings))  # PostgreSQL: client-side deadlines
    if not serving:  # the WSGI entry point (idp/wsgi.py) serves requests only
        init_migrations(app, str(ROOT / "migrations"))

    from idp.accounts import device
    from idp.interaction import session as sso
    from idp.platform import web
    web.init_app(app)
    sso.init_app(app)
    device.init_app(app)

    from idp.platform.keys import KeyRing, load_kek
    app.extensions["idp.keyring"] = KeyRing(
        load_kek(settings, create=settings["env"] != "production"),
        refresh=settings["key_refresh_interval"], jwks_max_age=settings["jwks_max_age"])

    from idp.platform import store
    store.init_app(app)

    from idp.accounts import bhxh, kyc
    from idp.platform import outbox, sms
    sms.init_app(app)
    kyc.init_app(app)
    bhxh.init_app(app)  # "Bảo hiểm xã hội" registration: the social-insurance registry
    from idp.platform.pki import validation
    validation.init_app(app)  # trust anchors loaded and pinned at start, not at first use
    from idp.platform import signers
    signers.init_app(app)  # the remote signers (SIM ký số, SmartCA) built once, at start
    from idp.platform import upstream
    upstream.init_app(app)  # "Đăng nhập bằng VNeID": the upstream providers, no network yet
    outbox.init_app(app)  # before logout: it registers the back-channel handler
    metrics.watch_outbox(app, outbox.counts, outbox.oldest_pending_age)  # scrape-time gauges

    from idp.platform import maintenance
    from idp.protocol import oauth2
    oauth2.init_app(app)
    maintenance.init_app(app)

    from idp import flows
    from idp.protocol import authorize, endpoints
    app.register_blueprint(endpoints.bp)
    app.register_blueprint(authorize.bp)
    flows.init_app(app)
    from idp.protocol import logout
    logout.init_app(app)
    from idp.flows import account
    account.init_app(app)
    from idp import staff
    staff.init_app(app)  # /staff: the staff console (issue 17 item 3)
    from idp.flows import landing
    app.register_blueprint(landing.bp)  # / (issue 12 item 6)
    if settings["test_hooks"]:
        from idp.platform import testhooks
        app.register_blueprint(testhooks.bp)
    if settings["sms_provider"] == "outbox" and settings["env"] != "production":
        from idp.platform import devtools
        app.register_blueprint(devtools.bp)

    from idp.platform import ratelimit
    ratelimit.init_app(app)  # after every blueprint: limits are set per blueprint

    from idp.cli import register_flask_commands
    register_flask_commands(app)
    from idp.protocol import static_documents
    static_documents.init_app(app)  # last: the outermost WSGI layer
    return app
