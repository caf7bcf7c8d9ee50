"""Authenticator app (TOTP) and recovery codes on the account page.

TOTP enrolment: the secret is created server-side, kept sealed under the key-encryption key
in the ephemeral store under `acct-totp:<sid>` while it awaits confirmation, shown as text
and as a QR code (an SVG data: URI, allowed by the CSP's img-src), and bound to the account
only after a current code from the app matches (factors.totp_matches); that code's time step
is recorded, so it cannot be replayed at the next login. One app per account.

Recovery codes: a new set replaces the old one; the codes are rendered in the response to
the POST that made them (no-store) and kept nowhere in clear: shown once.
"""
from __future__ import annotations

import base64

import segno
from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from idp.platform import audit
from idp.accounts import factors
from idp.platform.keys import seal, unseal
from idp.platform.models import AuthMethod
from idp.platform.db import db
from idp.flows.account import bp
from idp.flows.account.access import current, fresh_required, loa2_required
from idp.flows.account import notify

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
    secret = factors.new_totp_secret()
    sealed = base64.b64encode(seal(_kek(), secret.encode(), aad)).decode()
    _store().put(_key(account), {"sealed": sealed}, ENROL_TTL)
    return secret


def _enrol_page(account, secret: str, errors: dict, status: int = 200):
    uri = factors.provisioning_uri(secret, account.citizen)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=4)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template("account_totp.html", qr=qr, uri=uri, secret=grouped,
                           errors=errors), status


@bp.get("/totp/new")
@fresh_required()
def totp_new():
    account = current()
    if factors.has_totp(account.citizen):
        flash(_("Tài khoản đã có ứng dụng xác thực. Hãy gỡ ứng dụng cũ trước khi thêm ứng dụng "
                "mới."), "error")
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
        flash(_("Yêu cầu thêm ứng dụng xác thực đã hết hạn. Vui lòng thực hiện lại."), "error")
        return redirect(url_for("account.index"), 303)
    code = (request.form.get("otp") or "").strip()
    step = factors.totp_matches(secret, code) if code else None
    if step is None:
        message = _("Mã xác thực không đúng. Hãy nhập mã đang hiển thị trong ứng dụng.") \
            if code else _("Vui lòng nhập mã xác thực.")
        return _enrol_page(account, secret, {"otp": message}, 400)
    if _store().take(_key(account)) is None:  # a parallel submission won
        return redirect(url_for("account.index"), 303)
    notices = notify.reserve(account.citizen.id, [account.citizen.phone], "totp_added")
    factors.add_totp(account.citizen, secret, step, commit=False)
    notify.stage(account.citizen.id, notices, "totp_added")
    db.session.commit()
    flash(_("Đã thêm ứng dụng xác thực."), "info")
    return redirect(url_for("account.index"), 303)


@bp.route("/totp/<int:method_id>/remove", methods=["GET", "POST"])
@fresh_required()
def totp_remove(method_id: int):
    citizen = current().citizen
    method = db.session.scalar(select(AuthMethod).where(
        AuthMethod.id == method_id, AuthMethod.citizen_id == citizen.id,
        AuthMethod.kind == "totp"))
    if method is None:
        return redirect(url_for("account.index"), 303)
    # Never the last second factor: the default phone (Citizen.phone) always remains.
    if request.method == "GET":
        return render_template(
            "account_confirm.html", title=_("Gỡ ứng dụng xác thực"),
            message=_("Ứng dụng xác thực sẽ không còn dùng được để đăng nhập vào tài khoản."),
            button=_("Gỡ ứng dụng xác thực"))
    notices = notify.reserve(citizen.id, [citizen.phone], "totp_removed")
    db.session.delete(method)
    notify.stage(citizen.id, notices, "totp_removed")
    audit.record("factor.totp_removed", citizen_id=citizen.id)  # commits all three
    flash(_("Đã gỡ ứng dụng xác thực."), "info")
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
