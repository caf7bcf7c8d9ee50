"""Interactive authorization steps (DESIGN.md §2). `KINDS` is the registry the policy's
decisions are looked up in: a flow the policy asks for but that is not registered yet (e.g.
the OTP step-up before its issue lands) makes the request end with `access_denied` instead of
a fake success."""
from __future__ import annotations

from flask import current_app

from idp.flows import base
from idp.flows.complaint import ComplaintFlow
from idp.flows.consent import ConsentFlow
from idp.flows.login import LoginFlow
from idp.flows.recover import RecoverFlow
from idp.flows.register import RegisterFlow
from idp.flows.stepup import StepUpFlow

KINDS: dict[str, base.FlowKind] = {k.name: k for k in (LoginFlow(), StepUpFlow(),
                                                        ConsentFlow(), RecoverFlow(),
                                                        RegisterFlow(), ComplaintFlow())}


def available() -> set[str]:
    return set(KINDS)


def start(kind: str, pending_uid: str, pending: dict, client, session) -> str:
    flow_kind = KINDS[kind]
    flow = base.create(flow_kind, pending_uid, client.client_id,
                       flow_kind.initial_data(session))
    begin = getattr(flow_kind, "begin", None)
    if begin is not None:
        from idp.platform.db import db
        from idp.platform.models import Citizen
        begin(flow, db.session.get(Citizen, session.citizen_id))
        base.save(flow)
    return flow.url


def start_internal(kind: str, return_to: str, params: dict | None = None,
                   data: dict | None = None, begin_for=None) -> str:
    """A flow for the IdP's own pages (the account page's re-authentication, recovery
    started outside any portal): it is bound to an internal pending record that sends the
    browser to `return_to` (a path on this site) when the flow finishes. `params` stand in
    for authorization parameters the flow reads (e.g. {"acr_values": "LoA2"}). `begin_for`
    (a Citizen) runs the kind's `begin` as `start` does (the step-up flow needs it)."""
    return create_internal(kind, return_to, params, data, begin_for).url


def create_internal(kind: str, return_to: str, params: dict | None = None,
                    data: dict | None = None, begin_for=None, *,
                    record_completion: bool = False, handover: dict | None = None) -> base.Flow:
    """`start_internal`, returning the flow itself, with two options for a caller that must
    know *which* flow finished (the account page's re-authentication, account/access.py):

    - `record_completion`: when this flow finishes a login, views.complete records which
      session and citizen it logged in under `flow-done:<flow id>` (read with `completion`).
    - `handover` = {"return_to": path, "drop": [store keys]}: when the flow hands the pending
      record over to another kind ("Quên mật khẩu?", "Đăng ký"), the keys are deleted and
      `return_to` is replaced, so nothing bound to *this* flow survives (views.hand_over)."""
    from flask import current_app
    from idp.interaction import session as sso
    from idp.platform.crypto import random_token
    from idp.platform.db import now
    if not return_to.startswith("/") or return_to.startswith("//"):
        raise ValueError("return_to must be a path on this site")
    uid = random_token(24)
    pending = {"params": params or {}, "return_to": return_to,
               "bid": sso.browser_binding(), "created": now()}
    if record_completion:
        pending["record_completion"] = True
    if handover:
        pending["handover"] = {"return_to": handover.get("return_to"),
                               "drop": list(handover.get("drop", ()))}
    current_app.extensions["idp.store"].put("pending:" + uid, pending,
                                            current_app.config["IDP"]["flow_ttl"])
    flow = base.create(KINDS[kind], uid, "", data)
    begin = getattr(KINDS[kind], "begin", None)
    if begin is not None and begin_for is not None:
        begin(flow, begin_for)
        base.save(flow)
    return flow


def completion(flow_id: str) -> dict | None:
    """Take (once) the record of a `record_completion` flow that finished a login:
    {"kind", "citizen_id", "sid", "auth_time", "bid_before", "bid"}."""
    if not base.FLOW_ID.fullmatch(flow_id or ""):
        return None
    return current_app.extensions["idp.store"].take("flow-done:" + flow_id)


def init_app(app) -> None:
    from idp.platform import captcha
    from idp.flows.recovery_views import bp as recovery_bp
    from idp.flows.register_views import bp as register_bp
    from idp.flows.views import bp
    app.register_blueprint(bp)
    app.register_blueprint(recovery_bp)  # forgot password, lost phone
    app.register_blueprint(register_bp)  # "Chưa có tài khoản? Đăng ký"
    captcha.init_app(app)


def store():
    return current_app.extensions["idp.store"]
