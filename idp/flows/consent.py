"""Consent step: for third-party clients (registered with "first_party": false) and whenever
the RP sends prompt=consent. Lists, in Vietnamese, the data the portal will receive."""
from __future__ import annotations

from flask import current_app, render_template, url_for

from idp.platform import audit
from idp.interaction import session as sso
from idp.protocol.claims import SCOPE_DESCRIPTIONS
from idp.platform.db import db, now
from idp.platform.models import Consent
from idp.flows import base


def _pending(flow):
    return current_app.extensions["idp.store"].get("pending:" + flow.pending) or {}


class ConsentFlow(base.FlowKind):
    name = "consent"
    initial_state = "ask"

    def render(self, flow, errors=None, values=None):
        from idp.protocol.oauth2 import query_client
        client = query_client(flow.client_id)
        scope = _pending(flow).get("params", {}).get("scope", "")
        return render_template(
            "consent.html", action=url_for("flows.submit", flow_id=flow.id),
            client_name=client.client_name if client else flow.client_id,
            claims=[str(SCOPE_DESCRIPTIONS[s]) for s in scope.split() if s in SCOPE_DESCRIPTIONS])

    def handle(self, flow, form):
        session = sso.current()
        if session is None:
            raise base.FlowConflict()  # logged out meanwhile: start again
        if form.get("action") != "allow":
            audit.record("consent.denied", citizen_id=session.citizen_id,
                         client_id=flow.client_id)
            return base.Finish({"consent_denied": True})
        scope = _pending(flow).get("params", {}).get("scope", "")
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
        return base.Finish({"consent_done": True})
