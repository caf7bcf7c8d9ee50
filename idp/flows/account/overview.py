"""The account page itself, the password change and the active sessions.

Password change (ASVS 5.0 6.2.2/6.2.3): current password + new + confirmation (the policy of
idp/passwords.py, fields as CONTRACT.md §7 "set password"), under a fresh full
authentication; wrong current passwords are counted per account (PASSWORD_TRIES per
15 minutes). "Đăng xuất các phiên khác" (ASVS 5.0 7.4.3, 7.5.2) revokes the account's other
SSO sessions and every token issued from them or from older, already expired sessions
(Token.sid); it is offered again right after a password change (ticked by default).
"""
from __future__ import annotations

import ipaddress

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import select, update

from idp.accounts import organisations, passwords, signout
from idp.flows.account import access, bp, certificates, flash_message, linked, notify
from idp.flows.account.access import current, fresh_required, loa2_required
from idp.flows.account.phones import MAX_PHONES
from idp.methods import registry
from idp.platform import audit, humanize
from idp.platform.audit import mask_id_number, mask_phone
from idp.platform.crypto import verify_password
from idp.platform.db import db, now
from idp.platform.messages import msg
from idp.platform.models import SsoSession, Token

PASSWORD_TRIES = 5
PASSWORD_WINDOW = 900


@bp.app_template_filter("account_time")
def account_time(ts: float | None) -> str:
    """dd/mm/yyyy HH:mm in Vietnam time (idp/humanize.py)."""
    return humanize.datetime_vn(ts)


def mask_ip(ip: str | None) -> str:
    """203.0.113.x / 2001:db8:85a3:x: enough to recognise one's network, not the host."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ""
    if address.version == 4:
        return ".".join(str(address).split(".")[:3]) + ".x"
    return ":".join(address.exploded.split(":")[:3]) + ":x"


def active_sessions(citizen_id: int) -> list[SsoSession]:
    t = now()
    idle = current_app.config["IDP"]["session_idle_ttl"]
    return list(db.session.scalars(select(SsoSession).where(
        SsoSession.citizen_id == citizen_id, SsoSession.revoked_at.is_(None),
        SsoSession.expires_at > t, SsoSession.last_seen_at > t - idle)
        .order_by(SsoSession.last_seen_at.desc())))


@bp.get("/")
@loa2_required()
def index():
    account = current()
    citizen = account.citizen
    organisation = organisations.is_organisation(citizen)
    # An organisation has no second factor (access.ORGANISATION_PAGES).
    methods = [] if organisation else registry.second_factors()
    return render_template(
        "account.html", citizen=citizen, masked_id=mask_id_number(citizen.id_number),
        masked_phone=mask_phone(citizen.phone), methods=methods,
        enrolled={m.id: m.enrolments(citizen) for m in methods},
        organisation=organisation, org_code=organisations.code_of(citizen),
        certificates=certificates.bound(citizen), linked=linked.listed(citizen),
        verified_by=certificates.verification_label(citizen),
        sessions=active_sessions(citizen.id), current_sid=account.session.sid,
        max_phones=MAX_PHONES, mask_phone=mask_phone, mask_ip=mask_ip,
        fresh=access.is_fresh(account.session), fresh_minutes=access.FRESH_AUTH_SECONDS // 60)


def revoke_other_sessions(account) -> int:
    """Revoke the account's other sessions and every token not issued from this one."""
    t = now()
    citizen_id, sid = account.citizen.id, account.session.sid
    sids = list(db.session.scalars(select(SsoSession.sid).where(
        SsoSession.citizen_id == citizen_id, SsoSession.sid != sid,
        SsoSession.revoked_at.is_(None))))
    count = db.session.execute(update(SsoSession).where(
        SsoSession.citizen_id == citizen_id, SsoSession.sid != sid,
        SsoSession.revoked_at.is_(None)).values(revoked_at=t)).rowcount
    tokens = db.session.execute(update(Token).where(
        Token.citizen_id == citizen_id, Token.sid != sid, Token.revoked_at.is_(None))
        .values(revoked_at=t)).rowcount
    # The portals those sessions logged in to are told too (back-channel logout).
    notified = signout.end_sessions(sids, "sign_out_others", revoke_tokens=False,
                                   commit=False)["notified"]
    db.session.commit()
    audit.record("account.sessions_revoked", citizen_id=citizen_id, sessions=count,
                 tokens=tokens, backchannel=notified)
    return count


@bp.post("/sessions/revoke-others")
@loa2_required(back="account.index")
def sessions_revoke_others():
    count = revoke_other_sessions(current())
    flash_message(msg("account.sessions_revoked", num=count) if count else
                  msg("account.no_other_sessions"))
    return redirect(url_for("account.index") + "#sessions", 303)


# --------------------------------------------------------------------------- password

def _password_errors(account, form) -> dict:
    """Field errors: the current password, then the new pair (idp/passwords.py)."""
    citizen = account.citizen
    errors = {}
    current_password = form.get("current_password") or ""
    if not current_password:
        errors["current_password"] = msg("account.current_password_required")
    elif len(current_password) > 1024 or not verify_password(citizen.password_hash,
                                                             current_password):
        errors["current_password"] = msg("account.current_password_wrong")
    errors.update(passwords.check(form.get("password") or "", form.get("password_confirm") or "",
                                  passwords.context_for(citizen)))
    return errors


def _password_page(errors: dict, sign_out_others: bool, status: int = 200, strength=None):
    return render_template("account_password.html", errors=errors, hint=passwords.HINT,
                           strength=strength, sign_out_others=sign_out_others), status


@bp.route("/password", methods=["GET", "POST"])
@fresh_required()
def password():
    account = current()
    if request.method == "GET":
        return _password_page({}, True)
    store = current_app.extensions["idp.store"]
    key = f"acct-pwfail:{account.citizen.id}"
    sign_out_others = request.form.get("sign_out_others") == "1"
    if store.incr(key, PASSWORD_WINDOW, 0) >= PASSWORD_TRIES:
        return _password_page({"form": msg("account.current_password_locked",
                                           num=PASSWORD_WINDOW // 60)}, sign_out_others, 429)
    errors = _password_errors(account, request.form)
    if errors:
        if "current_password" in errors and request.form.get("current_password"):
            failures = store.incr(key, PASSWORD_WINDOW)
            audit.record("account.password_change_failed", citizen_id=account.citizen.id,
                         failures=failures)
        strength = None
        if "password" not in errors and request.form.get("password"):
            strength = passwords.strength_label(request.form["password"])
        return _password_page(errors, sign_out_others, 400, strength)
    citizen = account.citizen
    notices = notify.reserve(citizen.id, [citizen.phone], "password_changed")
    passwords.store(citizen, request.form["password"])
    notify.stage(citizen.id, notices, "password_changed")
    db.session.commit()
    store.delete(key)
    audit.record("account.password_changed", citizen_id=citizen.id,
                 signed_out_others=sign_out_others)
    if sign_out_others:
        revoke_other_sessions(account)
    flash_message(msg("account.password_changed"))
    return redirect(url_for("account.index"), 303)
