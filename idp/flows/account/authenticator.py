"""The authenticator app (TOTP) on the account page.

Enrolment is the flow kind `account_totp` (enrolment.py): confirm → bound. The secret is
created server-side when the flow starts, kept sealed under the key-encryption key in the
flow (bound to its id), shown as text and as a QR code (an SVG data: URI, allowed by the
CSP's img-src), and bound to the account only after a current code from the app matches
(idp/methods/totp.matches); that code's time step is recorded, so it cannot be replayed at the
next login. One app per account; reloading the page shows the same secret.
"""
from __future__ import annotations

import base64
from typing import ClassVar

import segno
from flask import current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from idp.accounts import factors
from idp.flows.account import bp, enrolment, flash_message, notify
from idp.flows.account.access import current, fresh_required, loa2_required
from idp.flows.account.enrolment import AccountFlow
from idp.flows.claim import claim
from idp.interaction import engine
from idp.interaction.engine import Fields, Finish, Flow, Outcome, Stay, ViewResult, table
from idp.methods import registry, totp
from idp.platform import audit
from idp.platform.db import db
from idp.platform.keys import seal, unseal
from idp.platform.messages import msg

KIND = "account_totp"


def _kek() -> bytes:
    return bytes(current_app.extensions["idp.keyring"]._kek)


def _sealed_secret(flow_id: str) -> str:
    """A new secret, sealed for the flow `flow_id` (its id is the associated data)."""
    return base64.b64encode(seal(_kek(), totp.new_secret().encode(), flow_id.encode())).decode()


def _secret(flow: Flow) -> str:
    return unseal(_kek(), base64.b64decode(flow.data["sealed"]), flow.id.encode()).decode()


class TotpEnrolment(AccountFlow):
    name = KIND
    transitions = table(confirm="bound", bound="")
    endpoints: ClassVar[dict[str, str]] = {"confirm": "account.totp_new"}

    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        secret = _secret(flow)
        uri = totp.provisioning_uri(secret, current().citizen)
        qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=4)
        grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
        return render_template("account_totp.html", qr=qr, uri=uri, secret=grouped,
                               errors=errors or {})

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        citizen = current().citizen
        if factors.has_totp(citizen):
            flash_message(msg("account.totp_request_expired"), "error")
            return Finish()
        secret = _secret(flow)
        code = (form.get("otp") or "").strip()
        step = totp.matches(secret, code) if code else None
        if step is None:
            return Stay({"otp": msg("account.totp_wrong") if code else msg("otp.required")},
                        status=400)
        claim(self, flow, "bound")
        notices = notify.reserve(citizen.id, [citizen.phone], "totp_added")
        factors.add_totp(citizen, secret, step, commit=False)
        notify.stage(citizen.id, notices, "totp_added")
        db.session.commit()
        flash_message(msg("account.totp_added"))
        return Finish()


@bp.get("/totp/new")
@fresh_required()
def totp_new() -> ViewResult:
    account = current()
    if factors.has_totp(account.citizen):
        flash_message(msg("account.totp_exists"), "error")
        return redirect(url_for("account.index"), 303)
    flow = enrolment.find(KIND, account, "confirm")
    if flow is None:
        flow = enrolment.start(KIND, account, {})
        flow.data["sealed"] = _sealed_secret(flow.id)
        engine.save(flow)
    return enrolment.answer(flow, None)


@bp.post("/totp/new")
@loa2_required(back="account.totp_new")
def totp_confirm() -> ViewResult:
    """The enrolment was started under a fresh authentication by this session; a matching
    code proves the app holds the secret."""
    flow = enrolment.find(KIND, current(), "confirm")
    if flow is None:
        flash_message(msg("account.totp_request_expired"), "error")
        return redirect(url_for("account.index"), 303)
    return enrolment.answer(flow, request.form)


@bp.route("/totp/<int:method_id>/remove", methods=["GET", "POST"])
@fresh_required()
def totp_remove(method_id: int):
    citizen = current().citizen
    if not any(e.id == method_id for e in registry.by_id("totp").enrolments(citizen)):
        return redirect(url_for("account.index"), 303)
    # Never the last second factor: the default phone (Citizen.phone) always remains.
    if request.method == "GET":
        return render_template(
            "account_confirm.html", title=msg("account.totp_remove_title"),
            message=msg("account.totp_remove_text"), button=msg("account.totp_remove_button"))
    notices = notify.reserve(citizen.id, [citizen.phone], "totp_removed")
    if not registry.by_id("totp").remove(citizen, method_id):  # staged; committed below
        return redirect(url_for("account.index"), 303)
    notify.stage(citizen.id, notices, "totp_removed")
    audit.record("factor.totp_removed", citizen_id=citizen.id)  # commits all three
    flash_message(msg("account.totp_removed"))
    return redirect(url_for("account.index"), 303)
