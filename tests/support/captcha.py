"""A captcha-only app (the real store on SQLite, the test hook on) and reading a challenge's
answer from the store: tests/test_captcha.py, test_captcha_audio.py and test_templates.py."""
from __future__ import annotations

import pytest
from flask import Flask

from idp.platform import captcha, testhooks, web
from idp.platform.config import load_settings
from idp.platform.db import db, engine_options
from idp.platform.store import SqlStore

TTL = 180


def build_app(tmp_path, test_hooks: bool = True) -> Flask:
    settings = load_settings({"env": "test", "test_hooks": int(test_hooks),
                              "secret_key": "k" * 40, "captcha_ttl": TTL}, environ={})
    url = f"sqlite:///{tmp_path / 'captcha.sqlite3'}"
    app = Flask("idp", instance_path=str(tmp_path))
    app.config.update(IDP=settings, SECRET_KEY=settings["secret_key"], TESTING=True,
                      SQLALCHEMY_DATABASE_URI=url,
                      SQLALCHEMY_ENGINE_OPTIONS=engine_options(url, settings))
    db.init_app(app)
    web.init_app(app)
    app.extensions["idp.store"] = SqlStore()
    captcha.init_app(app)
    if test_hooks:
        app.register_blueprint(testhooks.bp)
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def app(tmp_path):
    app = build_app(tmp_path)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield app.extensions["idp.store"]


def answer_of(store, captcha_id: str) -> str:
    return store.get(f"captcha-answer:{captcha_id}")["a"]
