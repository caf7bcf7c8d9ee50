"""Consent step (policy checks `consent_missing`, `prompt_consent`): for third-party clients
(registered with "first_party": false) and whenever the RP sends prompt=consent. Lists, in
Vietnamese, the data the portal will receive. One state: "ask"; it only finishes."""
from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from werkzeug.datastructures import MultiDict

from idp.interaction import pending
from idp.interaction import session as sso
from idp.interaction.engine import Finish, Flow, FlowConflict, FlowKind, Outcome
from idp.platform import audit
from idp.platform.clients import query_client
from idp.platform.db import db, now
from idp.platform.messages import is_known, msg
from idp.platform.models import Consent

ASK = "ask"


def _scope(flow: Flow) -> str:
    p = pending.load(flow.pending)
    return p.params.get("scope", "") if p is not None else ""


class ConsentFlow(FlowKind):
    name = "consent"
    initial_state = ASK
    transitions = {ASK: frozenset()}

    def render(self, flow: Flow, errors: dict[str, Any] | None = None,
               values: dict[str, Any] | None = None) -> Any:
        client = query_client(flow.client_id)
        return render_template(
            "consent.html", action=url_for("flows.submit", flow_id=flow.id),
            client_name=client.client_name if client else flow.client_id,
            claims=[msg("consent.scope_" + s) for s in _scope(flow).split()
                    if is_known("consent.scope_" + s)])

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        session = sso.current()
        if session is None:
            raise FlowConflict()  # logged out meanwhile: start again
        if form.get("action") != "allow":
            audit.record("consent.denied", citizen_id=session.citizen_id,
                         client_id=flow.client_id)
            return Finish({"consent_denied": True})
        scope = _scope(flow)
        row = db.session.query(Consent).filter_by(citizen_id=session.citizen_id,
                                                  client_id=flow.client_id).one_or_none()
        if row is None:
            db.session.add(Consent(citizen_id=session.citizen_id, client_id=flow.client_id,
                                   scope=scope, granted_at=now()))
        else:
            row.scope = " ".join(sorted(set(row.scope.split()) | set(scope.split())))
            row.granted_at = now()
        db.session.commit()
        audit.record("consent.granted", citizen_id=session.citizen_id, client_id=flow.client_id,
                     scope=scope)
        return Finish({"consent_done": True})
