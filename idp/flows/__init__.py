"""Interactive authorization steps (DESIGN.md §2). `KINDS` is the registry the policy's
decisions are looked up in: a flow the policy asks for but that is not registered yet (e.g.
the OTP step-up before its issue lands) makes the request end with `access_denied` instead of
a fake success."""
from __future__ import annotations

from flask import current_app

from . import base
from .consent import ConsentFlow
from .login import LoginFlow

KINDS: dict[str, base.FlowKind] = {k.name: k for k in (LoginFlow(), ConsentFlow())}


def available() -> set[str]:
    return set(KINDS)


def start(kind: str, pending_uid: str, pending: dict, client, session) -> str:
    flow = base.create(KINDS[kind], pending_uid, client.client_id)
    return flow.url


def init_app(app) -> None:
    from .. import captcha
    from .views import bp
    app.register_blueprint(bp)
    captcha.init_app(app)


def store():
    return current_app.extensions["idp.store"]
