"""Interactive steps (DESIGN.md §2): one module per flow kind (login, stepup, consent,
register, recover, complaint, federated (after a VNeID login), and the account page's
enrolments: account_phone, account_totp, account_recovery_codes), run by the flow engine
(idp/interaction/engine.py), which knows them only through `engine.register` here. A flow
the policy asks for but that is not registered (e.g. a PKI login for LoA3) ends the request
with `access_denied` instead of a fake success.

`start_internal` / `create_internal` / `completion` serve the IdP's own pages (the account
page's re-authentication, /recover): thin helpers over pending.create_internal and
engine.start_internal.
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from idp.flows.account.authenticator import TotpEnrolment
from idp.flows.account.phones import PhoneEnrolment
from idp.flows.account.recovery_codes import RecoveryCodesIssue
from idp.flows.complaint import ComplaintFlow
from idp.flows.consent import ConsentFlow
from idp.flows.federated.flow import FederatedFlow
from idp.flows.login import LoginFlow
from idp.flows.recover import RecoverFlow
from idp.flows.register import RegisterFlow
from idp.flows.register.activate import ActivateFlow
from idp.flows.stepup import StepUpFlow
from idp.interaction import engine, pending
from idp.interaction.engine import Flow
from idp.interaction.pending import Handover
from idp.interaction.policy import Needed
from idp.platform.models import Citizen

ALL_KINDS: tuple[engine.FlowKind, ...] = (
    LoginFlow(), StepUpFlow(), ConsentFlow(), RecoverFlow(), RegisterFlow(), ComplaintFlow(),
    FederatedFlow(), PhoneEnrolment(), TotpEnrolment(), RecoveryCodesIssue(), ActivateFlow())
# The kind of the internal pending request a flow kind runs on when the IdP's own pages
# start it: recovery outside any portal, the account page's (re-)authentication.
INTERNAL_KIND = {"recover": pending.RECOVERY, "login": pending.ACCOUNT,
                 "stepup": pending.ACCOUNT}

for _kind in ALL_KINDS:
    engine.register(_kind)


def start_internal(kind: str, return_to: str, params: dict[str, str] | None = None,
                   data: dict[str, Any] | None = None, begin_for: Citizen | None = None,
                   needed: Needed | None = None) -> str:
    """The URL of a new flow for the IdP's own pages (create_internal)."""
    return create_internal(kind, return_to, params, data, begin_for, needed=needed).url


def create_internal(kind: str, return_to: str, params: dict[str, str] | None = None,
                    data: dict[str, Any] | None = None, begin_for: Citizen | None = None, *,
                    needed: Needed | None = None, record_completion: bool = False,
                    handover: dict[str, Any] | None = None) -> Flow:
    """A flow on an internal pending request that sends the browser to `return_to` when the
    flow finishes. `record_completion` and `handover` = {"return_to", "drop"}: see
    interaction/pending.py (the account page's re-authentication, account/access.py)."""
    spec = Handover(handover.get("return_to"), tuple(handover.get("drop", ()))) \
        if handover else None
    return engine.start_internal(kind, INTERNAL_KIND.get(kind, kind), return_to, needed,
                                 params, data, begin_for, record_completion=record_completion,
                                 handover=spec)


def completion(flow_id: str) -> dict[str, Any] | None:
    """Take (once) the completion record of a `record_completion` flow (pending.completion)."""
    if not engine.FLOW_ID.fullmatch(flow_id or ""):
        return None
    return pending.completion(flow_id)


def init_app(app: Flask) -> None:
    from idp.flows.federated.logout import bp as upstream_bp
    from idp.flows.recovery_views import bp as recovery_bp
    from idp.flows.register_views import bp as register_bp
    from idp.flows.smartca_callback import bp as smartca_bp
    from idp.platform import captcha
    app.register_blueprint(engine.bp)
    app.register_blueprint(recovery_bp)  # forgot password, lost phone
    app.register_blueprint(register_bp)  # "Chưa có tài khoản? Đăng ký"
    app.register_blueprint(smartca_bp)  # "Hoặc đăng nhập bằng VNPT SmartCA" and its callback
    app.register_blueprint(upstream_bp)  # "Đăng nhập bằng VNeID", its callback and logout
    captcha.init_app(app)
