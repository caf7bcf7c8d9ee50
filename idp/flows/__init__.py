"""Interactive authorization steps (DESIGN.md §2). `KINDS` is the registry the policy's
decisions are looked up in: a flow the policy asks for but that is not registered yet (e.g.
the OTP step-up before its issue lands) makes the request end with `access_denied` instead of
a fake success."""
from __future__ import annotations

from flask import current_app

from . import base
from .consent import ConsentFlow
from .login import LoginFlow
from .stepup import StepUpFlow

KINDS: dict[str, base.FlowKind] = {k.name: k for k in (LoginFlow(), StepUpFlow(),
                                                        ConsentFlow())}


def available() -> set[str]:
    return set(KINDS)


def start(kind: str, pending_uid: str, pending: dict, client, session) -> str:
    flow_kind = KINDS[kind]
    flow = base.create(flow_kind, pending_uid, client.client_id,
                       flow_kind.initial_data(session))
    begin = getattr(flow_kind, "begin", None)
    if begin is not None:
        from ..db import db
        from ..models import Citizen
        begin(flow, db.session.get(Citizen, session.citizen_id))
        base.save(flow)
    return flow.url


def init_app(app) -> None:
    from .. import captcha
    from .views import bp
    app.register_blueprint(bp)
    captcha.init_app(app)


def store():
    return current_app.extensions["idp.store"]
