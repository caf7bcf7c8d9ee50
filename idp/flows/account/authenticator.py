"""Authenticator app (TOTP) and recovery codes on the account page.

TOTP enrolment: the secret is created server-side, kept sealed under the key-encryption key
in the ephemeral store under `acct-totp:<sid>` while it awaits confirmation, shown as text
and as a QR code (an SVG data: URI, allowed by the CSP's img-src), and bound to the account
only after a current code from the app matches (idp/methods/totp.matches); that code's time step
is recorded, so it cannot be replayed at the next login. One app per account.

Recovery codes: a new set replaces the old one; the codes are rendered in the response to
the POST that made them (no-store) and kept nowhere in clear: shown once.
"""
from __future__ import annotations

import base64

import segno
from flask import current_app, make_response, redirect, render_template, request, url_for

from idp.accounts import factors
from idp.flows.account import bp, flash_message, notify
from idp.flows.account.access import current, fresh_required, loa2_required
from idp.methods import registry, totp
from idp.platform import audit
from idp.platform.db import db
from idp.platform.keys import seal, unseal
from idp.platform.messages import msg

ENROL_TTL = 600


def _store():
    return current_app.extensions["idp.store"]


def _kek() -> bytes:
    return current_app.extensions["idp.keyring"]._kek


def _key(account) -> str:
    return "acct-totp:" + account.session.sid


def _pending_secret(account, create: bool) -> str | None:
    aad = _key(account).encode()
    record = _store().get(_key(account))
    if record is not None:
        return unseal(_kek(), base64.b64decode(record["sealed"]), aad).decode()
    if not create:
        return None
    secret = totp.new_secret()
    sealed = base64.b64encode(seal(_kek(), secret.encode(), aad)).decode()
    _store().put(_key(account), {"sealed": sealed}, ENROL_TTL)
    return secret


def _enrol_page(account, secret: str, errors: dict, status: int = 200):
    uri = totp.provisioning_uri(secret, account.citizen)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=4)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template("account_totp.html", qr=qr, uri=uri, secret=grouped,
                           errors=errors), status


@bp.get("/totp/new")
@fresh_required()
def totp_new():
    account = current()
    if factors.has_totp(account.citizen):
        flash_message(msg("account.totp_exists"), "error")
        return redirect(url_for("account.index"), 303)
    return _enrol_page(account, _pending_secret(account, create=True), {})


@bp.post("/totp/new")
@loa2_required(back="account.totp_new")
def totp_confirm():
    """The enrolment was started under a fresh authentication by this session; a matching
    code proves the app holds the secret."""
    account = current()
    secret = _pending_secret(account, create=False)
    if secret is None or factors.has_totp(account.citizen):
        flash_message(msg("account.totp_request_expired"), "error")
        return redirect(url_for("account.index"), 303)
    code = (request.form.get("otp") or "").strip()
    step = totp.matches(secret, code) if code else None
    if step is None:
        message = msg("account.totp_wrong") if code else msg("otp.required")
        return _enrol_page(account, secret, {"otp": message}, 400)
    if _store().take(_key(account)) is None:  # a parallel submission won
        return redirect(url_for("account.index"), 303)
    notices = notify.reserve(account.citizen.id, [account.citizen.phone], "totp_added")
    factors.add_totp(account.citizen, secret, step, commit=False)
    notify.stage(account.citizen.id, notices, "totp_added")
    db.session.commit()
    flash_message(msg("account.totp_added"))
    return redirect(url_for("account.index"), 303)


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


@bp.route("/recovery-codes", methods=["GET", "POST"])
@fresh_required()
def recovery_codes():
    citizen = current().citizen
    if request.method == "GET":
        return render_template("account_recovery.html",
                               left=factors.recovery_codes_left(citizen))
    notices = notify.reserve(citizen.id, [citizen.phone], "recovery_codes")
    codes = factors.new_recovery_codes(citizen, commit=False)
    notify.stage(citizen.id, notices, "recovery_codes")
    db.session.commit()
    response = make_response(render_template("account_recovery_codes.html", codes=codes))
    response.headers["Cache-Control"] = "no-store"
    return response
