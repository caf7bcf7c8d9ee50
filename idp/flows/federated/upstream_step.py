"""The round trip to an upstream identity provider ("Đăng nhập bằng VNeID", issue 16 items 1
and 2), from a flow's page and back into the same flow:

    POST /signin/upstream/<name>/<flow_id>  the button (CSRF-checked like every form): a
                                            fresh state, nonce and PKCE verifier
                                            (platform/upstream begin) are stored bound to the
                                            flow and to this browser; 303 to the upstream
    GET  /signin/upstream/<name>/callback   the upstream sends the browser back: the state is
                                            taken once, the answer checked and the person's
                                            attributes read (platform/upstream finish), then
                                            `arrived` decides where the flow goes

The flow kinds declare where the button is: `upstream_state` (login: the login page;
register: the "Bộ Công An" step). A refused callback — the citizen cancelled at VNeID, the
upstream failed, answered late or wrongly, a state replayed, foreign or unknown — shows the
flow's page with the message under the button, or the error page when no flow is left;
nothing is written (no session, no account, no link).

After the upstream login (`arrived`): the account is found or linked by the personal
identification number (accounts/federation.py). Found, at the level the portal asked: the
flow finishes with the login (acr from the upstream level, amr `fed`). Found, below it: the
same pending authorization goes on in a "federated" flow at the account's own second factor.
Not found: a "federated" flow asks whether to create an account or to move an old CMND
account (flows/federated/flow.py).
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, redirect, request

from idp.accounts import federation
from idp.accounts.federation import Asserted, LinkRefused
from idp.flows import round_trip
from idp.interaction import engine
from idp.interaction.engine import Flow, FlowConflict, FlowKind, Stay
from idp.interaction.outcomes import Finish, HandOver, Login, Outcome
from idp.interaction.policy import LEVELS
from idp.methods import registry
from idp.platform import audit, upstream
from idp.platform.messages import Message, msg
from idp.platform.upstream import Expected, UpstreamError

log = logging.getLogger("idp.flows")
bp = Blueprint("upstream_signin", __name__)
FIELD = "upstream"  # where a refusal shows on the flow's page
SESSION_KEY = "upstream_flow"  # the flow this browser last sent to an upstream


PREFIX = "upstream-state:"


def _at_entry(flow: Flow) -> FlowKind | None:
    """The flow's kind when the flow is at the page with the button (else None)."""
    kind = engine.KINDS.get(flow.kind)
    entry = getattr(kind, "upstream_state", None)
    return kind if kind is not None and entry == flow.state else None


def _refused(kind: FlowKind, flow: Flow, message: Message, status: int = 400) -> Any:
    """The flow's page with `message` under the button; the flow is not changed."""
    return engine.respond(kind, flow, Stay({FIELD: message}, {}, status))


@bp.post("/signin/upstream/<name>/<flow_id>")
def begin(name: str, flow_id: str) -> Any:
    flow, kind = round_trip.at_page(flow_id, _at_entry)
    if kind is None:
        return flow  # gone, or moved on
    provider = upstream.provider(name)
    if provider is None:
        return _refused(kind, flow, msg("upstream.not_configured"))
    try:
        start = provider.begin()  # oidc: discovery, fetched once and cached
    except UpstreamError as exc:
        return _upstream_refused(kind, flow, name, exc)
    expected = start.expected
    round_trip.leave(PREFIX, SESSION_KEY, flow, expected.state,
                     int(current_app.config["IDP"]["upstream_login_ttl"]), provider=name,
                     nonce=expected.nonce, verifier=expected.code_verifier,
                     remember=bool(request.form.get("remember")))
    audit.record("federation.started", client_id=flow.client_id or None, provider=name)
    return redirect(start.url, 303)


@bp.get("/signin/upstream/<name>/callback")
def callback(name: str) -> Any:
    record, flow, kind = round_trip.back(PREFIX, _at_entry, "upstream " + name)
    if record is None or record.get("provider") != name:
        return flow if record is None and flow is not None else _state_refused()
    provider = upstream.provider(name)
    if provider is None:
        return _refused(kind, flow, msg("upstream.not_configured"))
    expected = Expected(request.args["state"], str(record.get("nonce", "")),
                        str(record.get("verifier", "")))
    try:
        identity = provider.finish(request.query_string.decode("latin-1"), expected)
    except UpstreamError as exc:
        return _upstream_refused(kind, flow, name, exc)
    flow.data["remember"] = bool(record.get("remember"))
    info = upstream_login(identity)
    try:
        return engine.respond(kind, flow, arrived(flow, Asserted.of(identity), info))
    except FlowConflict:
        return engine.conflict_page()


def _upstream_refused(kind: FlowKind, flow: Flow, name: str, exc: UpstreamError) -> Any:
    """The upstream failed or answered wrongly: its message under the button (the reason in
    the log and the audit trail, never what it sent)."""
    log.info("upstream %s refused: %s", name, exc)
    audit.record("federation.refused", client_id=flow.client_id or None, provider=name,
                 reason=exc.reason)
    status = 503 if exc.reason in ("unreachable", "timeout", "upstream_error") else 400
    return _refused(kind, flow, msg(exc.message_id), status)


def upstream_login(identity: Any) -> dict[str, Any]:
    """What logout needs of the upstream login (interaction/upstream_session.py)."""
    return {"provider": identity.provider, "sub": identity.subject, "sid": identity.sid,
            "id_token": identity.id_token, "access_token": identity.access_token}


def arrived(flow: Flow, asserted: Asserted, info: dict[str, Any]) -> Outcome:
    """Where the flow goes after the upstream login (module docstring)."""
    needed = flow.needed.level if flow.needed is not None else "LoA2"
    if LEVELS[needed] >= 3:  # only a certificate reaches LoA3
        return Stay({FIELD: msg("certificate.required")}, {}, 403)
    try:
        citizen = federation.find(asserted)
    except LinkRefused as exc:
        audit.record("federation.refused", client_id=flow.client_id or None,
                     provider=asserted.provider, reason=exc.reason)
        return Stay({FIELD: msg("federation." + exc.reason)}, {}, 403)
    data = {"asserted": asserted.record(), "upstream": info, "first": "federated",
            "remember": bool(flow.data.get("remember")),
            "from": flow.kind}
    if citizen is None:
        return HandOver("federated", data)
    audit.record("login.federated", citizen_id=citizen.id, client_id=flow.client_id or None,
                 provider=asserted.provider, level=asserted.account_level)
    if LEVELS[asserted.acr] >= LEVELS[needed]:
        result = {"login_done": True}
        if flow.kind == "register":
            result["register_done"] = True
        return Finish(result, login=Login(citizen, asserted.acr,
                                          list(registry.by_id("federated").amr),
                                          bool(flow.data.get("remember")), info))
    return HandOver("federated", data, begin_for=citizen)


def _state_refused() -> Any:
    """A state this browser cannot use: said on the page of the flow it last sent to an
    upstream (still at that page), else on the error page."""
    return round_trip.state_refused(SESSION_KEY, _at_entry, msg("upstream.bad_state"),
                                    _refused)
