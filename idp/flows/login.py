"""Login step (seed §2, first half): ID number + password + image captcha.

Order of checks on POST: the captcha first (consumed on any attempt, so one solved captcha buys
exactly one password guess), then the throttle, then the password. A wrong ID number and a
wrong password get the same message and the same work (a dummy Argon2id verify when the
account does not exist). Throttling is counted per ID number *string*, existing or not, so the
throttle itself tells nothing about which accounts exist:

- after `login_max_failures` consecutive failures: a wait before the next try, doubling each
  time (30 s, 60 s, … capped at 15 min);
- at 10 × `login_max_failures` (50 by default, under NIST 800-63B-4's 100): locked for 24 h or
  until the password is reset.
"""
from __future__ import annotations

import re

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from .. import audit, captcha, factors, policy, session as sso
from ..crypto import sha256_hex, verify_password
from ..db import db, now
from ..models import Citizen
from . import base, second_factor

ID_NUMBER = re.compile(r"[0-9]{9}|[0-9]{12}")
FAILURE_WINDOW = 24 * 3600


def _settings():
    return current_app.config["IDP"]


def _store():
    return current_app.extensions["idp.store"]


def _client_name(flow):
    from ..oauth2 import query_client
    client = query_client(flow.client_id)
    return client.client_name if client else ""


def throttle_key(id_number: str) -> str:
    return "loginfail:" + sha256_hex(id_number)


def clear_throttle(id_number: str) -> None:
    """Forget the login failures of an ID number ("locked ... until the password is reset")."""
    key = throttle_key(id_number)
    _store().delete(key)
    _store().delete(key + ":lock")


class LoginFlow(base.FlowKind):
    name = "login"
    initial_state = "credentials"

    def render(self, flow, errors=None, values=None):
        if flow.state in second_factor.STATES:
            return second_factor.render(flow, errors)
        values = values or {"username": self._hinted_username(flow)}
        s = _settings()
        return render_template(
            "login.html", action=url_for("flows.submit", flow_id=flow.id),
            captcha_id=captcha.issue(_store(), s["captcha_ttl"]),
            username=values.get("username", ""), errors=errors or {},
            client_name=_client_name(flow),
            forgot_url=url_for("recovery.from_login", flow_id=flow.id),
            register_url=url_for("register.from_login", flow_id=flow.id),
            refresh_captcha_url=flow.url)

    @staticmethod
    def _hinted_username(flow) -> str:
        pending = _store().get("pending:" + flow.pending) or {}
        hint = (pending.get("params") or {}).get("login_hint", "")
        return hint if ID_NUMBER.fullmatch(hint) else ""

    def handle(self, flow, form):
        if flow.state in second_factor.STATES:
            return second_factor.handle(flow, form, {"login_done": True})
        username = (form.get("username") or "").strip()
        password = form.get("password") or ""
        keep = {"username": username[:20]}
        if not captcha.verify(_store(), form.get("captcha_id") or "", form.get("captcha") or ""):
            return base.Stay({"captcha": _("Mã xác thực không đúng hoặc đã hết hạn. Vui lòng "
                                           "nhập mã mới.")}, keep, 400)
        errors = {}
        if not ID_NUMBER.fullmatch(username):
            errors["username"] = _("Vui lòng nhập số CMND (9 chữ số) hoặc CCCD (12 chữ số).")
        if not password:
            errors["password"] = _("Vui lòng nhập mật khẩu.")
        elif len(password) > 1024:
            errors["password"] = _("Mật khẩu quá dài.")
        if errors:
            return base.Stay(errors, keep, 400)

        key = throttle_key(username)
        wait = self._wait_seconds(key)
        if wait:
            return base.Stay({"form": self._wait_message(wait)}, keep, 429, retry_after=wait)

        citizen = db.session.query(Citizen).filter_by(id_number=username).one_or_none()
        if not verify_password(citizen.password_hash if citizen else None, password):
            failures = _store().incr(key, FAILURE_WINDOW)
            wait = self._maybe_lock(key, failures)
            audit.record("login.failure", citizen_id=citizen.id if citizen else None,
                         client_id=flow.client_id, id_number=audit.mask_id_number(username),
                         failures=failures)
            if wait:
                audit.record("login.throttled", citizen_id=citizen.id if citizen else None,
                             client_id=flow.client_id, id_number=audit.mask_id_number(username),
                             failures=failures, seconds=wait)
            return base.Stay({"form": _("Số CMND/CCCD hoặc mật khẩu không đúng.")}, keep, 400)

        if citizen.status != "active":
            return base.Stay({"form": _("Tài khoản đang bị khóa. Vui lòng liên hệ tổng đài "
                                        "1800 1096 để được hỗ trợ.")}, keep, 403)
        clear_throttle(username)
        audit.record("login.password_ok", citizen_id=citizen.id, client_id=flow.client_id)
        if self._needs_second_factor(flow, citizen):
            return base.Goto(second_factor.start(flow, citizen))
        sso.start(citizen, "LoA1", ["pwd"])
        return base.Finish({"login_done": True})

    @staticmethod
    def _needs_second_factor(flow, citizen) -> bool:
        """LoA2 or more requested (acr_values or the client's default_acr_values), or the
        first login after a password reset proven by SMS alone."""
        from ..oauth2 import query_client
        pending = _store().get("pending:" + flow.pending) or {}
        client = query_client(flow.client_id)
        wanted = policy.required_acr(pending.get("params") or {},
                                     client.default_acr_values if client else [])
        return policy.LEVELS[wanted] >= 2 or (
            citizen.sms_reset_pending and factors.has_non_sms_factor(citizen))

    # --- throttling
    def _wait_seconds(self, key: str) -> int:
        lock = _store().get(key + ":lock")
        if lock is None:
            return 0
        return max(1, int(lock["until"] - now()))

    def _maybe_lock(self, key: str, failures: int) -> int:
        """Seconds the ID number must now wait (0: none yet)."""
        limit = _settings()["login_max_failures"]
        if failures < limit:
            return 0
        if failures >= 10 * limit:
            seconds = FAILURE_WINDOW
        else:
            seconds = min(30 * 2 ** (failures - limit), 900)
        _store().put(key + ":lock", {"until": now() + seconds}, seconds)
        return seconds

    @staticmethod
    def _wait_message(seconds: int) -> str:
        minutes = (seconds + 59) // 60
        return ngettext("Bạn đã nhập sai quá nhiều lần. Vui lòng thử lại sau %(num)d phút.",
                        "Bạn đã nhập sai quá nhiều lần. Vui lòng thử lại sau %(num)d phút.",
                        minutes)
