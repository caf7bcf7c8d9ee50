"""Sign in with VNPT SmartCA ("Hoặc đăng nhập bằng VNPT SmartCA", under the login page's tabs
and on the step-up page): SmartCA signs for a citizen only with that citizen's OAuth token, so
the browser visits SmartCA first (reference/pki.md §4; idp/platform/signers/smartca.py).

    POST /signin/smartca/<flow_id>   the block's button (CSRF-checked like every form): a
                                     random `state` is stored, bound to the flow and to this
                                     browser, then 303 to SmartCA's authorize URL
    GET  /signin/smartca/callback    SmartCA sends the browser back with `code` and `state`
                                     (or `error`): the state is taken once, the code
                                     exchanged for a token (SmartCA's codes live 15 s), and
                                     certificate_step.start sends the signing request with
                                     the display code; the flow goes to its waiting state
                                     (the engine's Goto: a declared transition) and waits
                                     for the SmartCA app as for a SIM.

Why these checks: `state` is what ties SmartCA's answer to the citizen who asked. Taken
atomically (single use: a replayed callback finds nothing), compared with this browser's
binding (a callback carried into another browser — login CSRF, a leaked URL — is refused),
and naming the flow it was made for (which must still be at its certificate page). The
redirect URI is exactly the issuer plus CALLBACK_PATH, as registered at SmartCA. A refused
callback — SmartCA's error or the citizen's "no", a state replayed, foreign or unknown,
SmartCA unreachable — shows the flow's page with the message under the SmartCA block;
nothing is written (no session, no state change). A state this browser cannot use says so on
the page of the flow this browser last sent to SmartCA, if it is still there.

The flow kinds declare where this applies: `certificate_states = (tab state, waiting
state)` (flows/login.py, flows/stepup.py).
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, redirect, request

from idp.flows import certificate_step, round_trip
from idp.interaction import engine
from idp.interaction.engine import Flow, FlowConflict, FlowKind, Goto, Stay
from idp.methods.certificate.remote import RemoteCertificateMethod, signer_refusal
from idp.platform.crypto import random_token
from idp.platform.messages import Message, msg
from idp.platform.signers.port import SignerError
from idp.platform.signers.smartca import SmartCaSigner

log = logging.getLogger("idp.flows")
bp = Blueprint("smartca_signin", __name__)
CALLBACK_PATH = "/signin/smartca/callback"
METHOD = "smartca"
STATE_TTL = 600  # the citizen may take a while on SmartCA's login page
SESSION_KEY = "smartca_flow"  # the flow this browser last sent to SmartCA
_MAX_PARAM = 512


def redirect_uri() -> str:
    return str(current_app.config["IDP"]["issuer"]).rstrip("/") + CALLBACK_PATH


PREFIX = "smartca-state:"


def _at_tab(flow: Flow) -> FlowKind | None:
    """The flow's kind when the flow is at its certificate page (else None)."""
    kind = engine.KINDS.get(flow.kind)
    return kind if kind is not None and _states(kind)[:1] == (flow.state,) else None


def _states(kind: FlowKind) -> tuple[str, ...]:
    return tuple(getattr(kind, "certificate_states", ()))


def _method() -> tuple[RemoteCertificateMethod, SmartCaSigner] | None:
    method = certificate_step.carrier(METHOD)
    if not isinstance(method, RemoteCertificateMethod):
        return None
    service = method.signer()
    return (method, service) if isinstance(service, SmartCaSigner) else None


def _refused(kind: FlowKind, flow: Flow, message: Message, status: int = 400,
             retry_after: int = 0) -> Any:
    """The flow's page with `message` under the SmartCA block; the flow is not changed."""
    return engine.respond(kind, flow, Stay({METHOD: message}, {}, status, retry_after))


@bp.post("/signin/smartca/<flow_id>")
def begin(flow_id: str) -> Any:
    flow, kind = round_trip.at_page(flow_id, _at_tab)
    if kind is None:
        return flow  # gone, or moved on
    found = _method()
    if found is None:
        return _refused(kind, flow, msg("certificate.unavailable"))
    state = random_token(24)
    round_trip.leave(PREFIX, SESSION_KEY, flow, state, STATE_TTL,
                     remember=bool(request.form.get("remember")))
    return redirect(found[1].authorize_url(redirect_uri(), state), 303)


@bp.get(CALLBACK_PATH)
def callback() -> Any:
    record, flow, kind = round_trip.back(PREFIX, _at_tab, "smartca")
    if record is None:
        return flow if flow is not None else _state_refused()
    code = request.args.get("code", "")
    if request.args.get("error") or not code or len(code) > _MAX_PARAM:
        log.info("smartca callback: %s", request.args.get("error", "no code")[:64])
        return _refused(kind, flow, msg("signer.smartca_denied"))
    found = _method()
    if found is None:
        return _refused(kind, flow, msg("certificate.unavailable"))
    method, service = found
    try:
        tokens = service.exchange_code(code, redirect_uri())
    except SignerError as exc:
        refusal = signer_refusal(exc)
        return _refused(kind, flow, refusal.message, refusal.status, refusal.retry_after)
    flow.data["remember"] = bool(record.get("remember"))
    stay = certificate_step.start(flow, method, tokens.access_token, keep={}, where=METHOD,
                                  purpose=getattr(kind, "certificate_purpose", "login"))
    try:
        return engine.respond(kind, flow, stay or Goto(_states(kind)[1]))
    except FlowConflict:
        return engine.conflict_page()


def _state_refused() -> Any:
    """A state this browser cannot use: said on the page of the flow it last sent to
    SmartCA (still at its certificate page), else on the error page."""
    return round_trip.state_refused(SESSION_KEY, _at_tab, msg("signer.smartca_state"),
                                    _refused)
