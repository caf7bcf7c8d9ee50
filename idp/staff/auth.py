"""Signing in to the staff console: username, password and the authenticator app's code
(accounts/staff.sign_in: one answer for every failure); re-authentication (the code again)
before sensitive actions; sign-out (the session ends server-side). Sign-in attempts are
limited per client address (the ephemeral store's counter) besides the account lock-out."""
from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from idp.accounts import staff as accounts
from idp.platform import audit as platform_audit
from idp.platform.db import db
from idp.platform.messages import msg
from idp.platform.web import client_ip
from idp.staff import bp, session
from idp.staff.access import audit, current, safe_next, signed_in

ATTEMPTS_PER_ADDRESS = 30  # per 5 minutes: a busy office behind one address still signs in
WINDOW = 300

bp.after_request(session.write_cookie)


def _too_many() -> bool:
    store = session._store()
    return store.incr(f"staff-login-ip:{client_ip() or 'unknown'}", WINDOW) > \
        ATTEMPTS_PER_ADDRESS


def _login_page(error: Any = None, status: int = 200, username: str = "") -> Any:
    notice = None
    if request.args.get("expired"):
        notice = msg("staff.expired")
    elif request.args.get("out"):
        notice = msg("staff.signed_out")
    return render_template("staff/login.html", error=error, notice=notice, username=username,
                           next=safe_next(request.args.get("next")) or ""), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return _login_page()
    form = request.form
    username = (form.get("username") or "").strip().lower()[:64]
    password, code = form.get("password") or "", form.get("totp") or ""
    if not (username and password and code):
        return _login_page(msg("staff.signin_missing"), 400, username)
    if _too_many():
        platform_audit.record("staff.login_throttled")
        return _login_page(msg("staff.too_many"), 429, username)
    try:
        member = accounts.sign_in(username, password[:256], code[:20])
    except accounts.SignInFailed:
        platform_audit.record("staff.login_failed", staff=username)
        return _login_page(msg("staff.signin_failed"), 401, username)
    session.start(member.id)
    platform_audit.record("staff.login", staff=member.username, staff_id=member.id,
                          role=member.role)
    target = safe_next(form.get("next")) or url_for("staff.index")
    return redirect(target, 303)


@bp.route("/reauth", methods=["GET", "POST"])
def reauth() -> Any:
    if signed_in() is None:
        return redirect(url_for("staff.login", next=request.full_path), 303)
    target = safe_next(request.args.get("next")) or url_for("staff.index")
    error, status = None, 200
    if request.method == "POST":
        member = accounts.get(current().id)
        if member is not None and accounts.check_code(member, request.form.get("totp") or ""):
            accounts.unlock(member)  # a right code ends a run of wrong ones
            db.session.commit()
            session.proved()
            audit("staff.reauth")
            return redirect(target, 303)
        audit("staff.reauth_failed")
        if member is not None:
            accounts.record_failure(member)
            db.session.refresh(member)
            if accounts.locked(member):  # guessing codes in a left-open session: it ends
                session.end()
                return redirect(url_for("staff.login"), 303)
        error, status = msg("staff.reauth_failed"), 401
    return render_template("staff/reauth.html", error=error, next=target), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    if signed_in() is not None:
        audit("staff.logout")
    session.end()
    return redirect(url_for("staff.login", out="1"), 303)
