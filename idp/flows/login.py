"""Login step (seed §2, first half): ID number + password + image captcha (+ "Ghi nhớ đăng
nhập", which makes the SSO cookie outlive the browser session; unticked by default for shared
computers: session.write_cookie).

Order of checks on POST: the captcha first (consumed on any attempt, so one solved captcha buys
exactly one password guess), then the throttle, then the password. A wrong ID number and a
wrong password get the same message and the same work (a dummy Argon2id verify when the
account does not exist). Every counter is keyed by the ID-number *string*, existing or not
(idp/lockout.py), so the throttle tells nothing about which accounts exist.

Threat model (issue 11 item 3). ID numbers are printed on many documents, so assume the
attacker knows the victim's. Two attacks: *guessing* the password, and *denial*: failing on
purpose so that the owner cannot log in (before this change 50 wrong passwords, 50 captchas,
locked the ID number for 24 h from everywhere, and the way out, a reset, was capped per ID
number too). Goal: guessing stays slow and costly; a stranger never keeps the owner out.

Who is counted (a "bucket"): the owner's *known device* (a browser holding the signed cookie of
a login this citizen completed, idp/device.py), else the client address (IPv6 per /64).

- Per (ID number, bucket): after `login_max_failures` (L = 5) failures a wait before the next
  try, 30 s doubling up to 15 min; at 10 × L failures (in 24 h) that bucket waits 24 h. A
  success clears the bucket.
- Per ID number, all buckets together (24 h window): from `login_id_ceiling` (C = 20) failures
  the ID number is *under attack* for 24 h after the latest failure. Then every browser that
  is not the owner's known device meets more friction, never a refusal: the captcha is the
  hard one (8 characters instead of 6), every failure costs a wait of at least
  `login_ceiling_delay` (60 s), and a bucket that reaches L failures waits 24 h. The right
  password still logs in. Nothing per ID number is cleared by an ordinary success (the owner
  logging in must not hand strangers new free guesses).
- The owner's known device is exempt from the per-ID friction and counted on its own: the
  owner on their phone or PC is never slowed by strangers, even ones behind the same carrier
  address (CGNAT). Someone holding a stolen device cookie already has that browser, meets
  the same per-bucket waits (≤ 50 guesses a day), and the cookie is useless for other IDs.
- A completed password reset (recovery.reset_password) and `idp users unlock` clear every
  counter of the ID number, per ID and per bucket, login and reset (`lockout.clear`). The
  reset flow cannot be exhausted by strangers either: its limits are per (ID, bucket) too,
  with the same friction per ID (flows/recover.py).

Numbers, defaults (L = 5, C = 20, 60 s):
- One address: 5 guesses at once, then 30 s, 60 s … 15 min: 12 in the first hour, 4 an hour
  after; its own 20th failure puts the ID under attack and, being past L, waits 24 h:
  ≤ 20 guesses a day from one address (≤ 50 per bucket whatever happens).
- A addresses: ≤ C + L·A guesses a day (20 before the ID is under attack, then ≤ 5 per
  address per day, at most one a minute each, each after an 8-character captcha).
- NIST 800-63B-4 §3.2.2 limits consecutive failures on an account to ≤ 100. We meet it per
  bucket (≤ 50) and, against up to 16 addresses (/64 for IPv6), per account; beyond that we
  deliberately prefer friction (its "bot challenges" and "increasing waits", meant to keep
  the subscriber from being locked out) to a per-account lock, because that lock is exactly
  the denial this design removes. ASVS 5.0 6.1.1 asks for this reasoning to be written down.
  The owner is never locked out by strangers: the known device is exempt, any browser gets
  the right password through with friction only, and a reset (not exhaustible per ID either)
  clears everything.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from idp.accounts import factors, lockout
from idp.accounts.validation import looks_like_id_number
from idp.flows import certificate_step, second_factor
from idp.flows.upstream_buttons import buttons as upstream_buttons
from idp.interaction import pending
from idp.interaction.engine import Finish, Flow, FlowKind, Goto, Login, Outcome, Stay, save
from idp.interaction.policy import LEVELS
from idp.methods import password as password_method
from idp.methods import registry
from idp.platform import audit, captcha
from idp.platform.clients import query_client
from idp.platform.db import db
from idp.platform.messages import Message, msg
from idp.platform.models import Citizen

FAILURE_WINDOW = 24 * 3600


def _settings() -> dict[str, Any]:
    return current_app.config["IDP"]


def _store() -> Any:
    return current_app.extensions["idp.store"]


def _client_name(flow: Flow) -> str:
    client = query_client(flow.client_id)
    return str(client.client_name) if client else ""




def failure_wait(failures: int, limit: int) -> int:
    """Seconds a bucket waits after its `failures`-th failure (module docstring)."""
    if failures < limit:
        return 0
    if failures >= 10 * limit:
        return FAILURE_WINDOW
    return min(30 * 2 ** (failures - limit), 900)


class Throttle:
    """The counters one login attempt for `id_number` touches (module docstring)."""

    def __init__(self, id_number: str):
        self.idh = lockout.id_hash(id_number)
        self.device = lockout.owner_device(id_number)
        self.per_id = lockout.key(self.idh, "login")
        self.mine = lockout.key(self.idh, "login", lockout.bucket(self.device))

    def friction(self) -> bool:
        """The ID number is under attack and this browser is not the owner's known device."""
        return self.device is None and lockout.remaining(self.per_id + ":attack") > 0

    def wait(self) -> int:
        return lockout.remaining(self.mine + ":lock")

    def failed(self) -> tuple[int, int]:
        """Counts a wrong password: (failures of this bucket, seconds it must now wait)."""
        s = _settings()
        lockout.keep_epoch(self.idh)
        total = _store().incr(self.per_id, FAILURE_WINDOW)
        if total >= s["login_id_ceiling"]:
            lockout.hold(self.per_id + ":attack", FAILURE_WINDOW)
        failures = _store().incr(self.mine, FAILURE_WINDOW)
        limit = s["login_max_failures"]
        wait = failure_wait(failures, limit)
        if self.device is None and total >= s["login_id_ceiling"]:
            wait = FAILURE_WINDOW if failures >= limit else max(wait, s["login_ceiling_delay"])
        if wait:
            lockout.hold(self.mine + ":lock", wait)
        return failures, wait

    def succeeded(self) -> None:
        _store().delete(self.mine)
        _store().delete(self.mine + ":lock")


CREDENTIALS = "credentials"
SIGNER_WAIT = "signer_wait"  # a remote carrier's request is on the citizen's phone


class LoginFlow(FlowKind):
    """ID number + password + captcha, then (when `flow.needed.level` asks LoA2, or the
    password was just reset by SMS) the second-factor states of flows/second_factor.py. A
    certificate tab finishes at once (USB ký số) or, for a remote carrier (SIM ký số, VNPT
    SmartCA), waits in SIGNER_WAIT for the phone and finishes there or goes back."""
    name = "login"
    initial_state = CREDENTIALS
    transitions = {CREDENTIALS: frozenset(second_factor.METHOD_STATES) | {SIGNER_WAIT},
                   SIGNER_WAIT: frozenset({CREDENTIALS}),
                   **second_factor.TRANSITIONS}
    # The state a certificate carrier starts in, and the one it waits in (the SmartCA
    # callback, flows/smartca_callback.py, moves a flow from the first to the second).
    certificate_states = (CREDENTIALS, SIGNER_WAIT)
    # The state whose page has the "Đăng nhập bằng VNeID" button (flows/federated/).
    upstream_state = CREDENTIALS

    def render(self, flow: Flow, errors: dict[str, Any] | None = None,
               values: dict[str, Any] | None = None) -> Any:
        if flow.state in second_factor.STATES:
            return second_factor.render(flow, errors)
        if flow.state == SIGNER_WAIT:
            return certificate_step.render_wait(flow, errors, values)
        values = {"username": self._hinted_username(flow), **(values or {})}
        shown = None if errors else certificate_step.notice(flow)
        if shown is not None:
            errors, values = shown[0], {**values, **shown[1]}
        carrier = certificate_step.tab(values.get("tab") or request.args.get("tab"))
        certificate_only = _certificate_required(flow)
        if carrier is None and certificate_only:
            carrier = next(iter(certificate_step.tab_carriers()), None)
        smartca = certificate_step.redirect_carrier()
        s = _settings()
        return render_template(
            "login.html", action=url_for("flows.submit", flow_id=flow.id),
            # the captcha belongs to the password form: none issued for a certificate tab
            captcha_id=None if carrier is not None else captcha.issue(
                _store(), s["captcha_ttl"], bound_to=flow.id, purpose="login",
                hard=bool(flow.data.get("hard_captcha"))),
            remember=bool(values.get("remember")),
            username=values.get("username", ""), errors=errors or {},
            client_name=_client_name(flow),
            forgot_url=url_for("recovery.from_login", flow_id=flow.id),
            register_url=url_for("register.from_login", flow_id=flow.id),
            refresh_captcha_url=flow.url,
            tab=carrier.id if carrier is not None else "password",
            tabs={m.id: f"{flow.url}?tab={m.id}" for m in certificate_step.tab_carriers()},
            certificate_only=certificate_only, certificate_required=msg("certificate.required"),
            signer=certificate_step.panel(flow, carrier) if carrier is not None else None,
            signer_account=values.get(certificate_step.ACCOUNT_FIELD, ""),
            smartca_action=url_for("smartca_signin.begin", flow_id=flow.id)
            if smartca is not None else None, upstream_buttons=upstream_buttons(flow))

    @staticmethod
    def _hinted_username(flow: Flow) -> str:
        p = pending.load(flow.pending)
        hint = p.params.get("login_hint", "") if p is not None else ""
        return hint if looks_like_id_number(hint) else ""

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if flow.state in second_factor.STATES:
            return second_factor.handle(flow, form, {"login_done": True})
        if flow.state == SIGNER_WAIT:
            return certificate_step.outcome(certificate_step.check(flow, form), CREDENTIALS)
        if form.get("method"):
            return self._certificate(flow, form)
        if _certificate_required(flow):
            return Stay({"form": msg("certificate.required")}, {}, 400)
        username = (form.get("username") or "").strip()
        password = form.get("password") or ""
        keep = {"username": username[:20], "remember": bool(form.get("remember"))}
        throttle = Throttle(username) if looks_like_id_number(username) else None
        hard = throttle is not None and throttle.friction()
        if not captcha.verify(_store(), form.get("captcha_id") or "", form.get("captcha") or "",
                              bound_to=flow.id, purpose="login", hard=hard):
            if hard and not flow.data.get("hard_captcha"):
                flow.data["hard_captcha"] = True  # from now on this page shows the hard one
                save(flow)
                audit.record("login.friction", client_id=flow.client_id,
                             id_number=audit.mask_id_number(username))
            return Stay({"captcha": msg("captcha.hard" if hard else "captcha.invalid")},
                        keep, 400)
        errors: dict[str, Message] = {}
        if throttle is None:
            errors["username"] = msg("login.id_number_format")
        if not password:
            errors["password"] = msg("login.password_required")
        elif len(password) > password_method.MAX_LENGTH:
            errors["password"] = msg("login.password_too_long")
        if errors or throttle is None:
            return Stay(errors, keep, 400)

        wait = throttle.wait()
        if wait:
            return Stay({"form": wait_message(wait)}, keep, 429, retry_after=wait)

        citizen = db.session.query(Citizen).filter_by(id_number=username).one_or_none()
        if not password_method.check(citizen, password):
            failures, wait = throttle.failed()
            audit.record("login.failure", citizen_id=citizen.id if citizen else None,
                         client_id=flow.client_id, id_number=audit.mask_id_number(username),
                         failures=failures)
            if wait:
                audit.record("login.throttled", citizen_id=citizen.id if citizen else None,
                             client_id=flow.client_id, id_number=audit.mask_id_number(username),
                             failures=failures, seconds=wait)
            return Stay({"form": msg("method.password_wrong")}, keep, 400)
        assert citizen is not None  # check() is False for an unknown ID number

        if citizen.status != "active":
            return Stay({"form": msg("login.account_locked")}, keep, 403)
        throttle.succeeded()
        audit.record("login.password_ok", citizen_id=citizen.id, client_id=flow.client_id)
        # "Ghi nhớ đăng nhập": carried in the flow to the moment the session starts.
        flow.data["remember"] = bool(form.get("remember"))
        if self._needs_second_factor(flow, citizen):
            return Goto(second_factor.start(flow, citizen))
        return Finish({"login_done": True},
                      login=Login(citizen, registry.by_id("password").level,
                                  registry.login_amr(None), flow.data["remember"]))

    @staticmethod
    def _certificate(flow: Flow, form: MultiDict[str, str]) -> Outcome:
        """A certificate tab's submit (certificate_step): the certificate names the account;
        the login is LoA3, no password, no second factor."""
        carrier = certificate_step.carrier(form.get("method"))
        if carrier is None:
            return Stay({"form": msg("certificate.unavailable")}, {}, 400)
        flow.data["remember"] = bool(form.get("remember"))
        if certificate_step.is_remote(carrier):  # SIM ký số: the request goes to the phone
            return certificate_step.begin(flow, carrier, form) or Goto(SIGNER_WAIT)
        return certificate_step.outcome(certificate_step.answer(flow, carrier, form), CREDENTIALS)

    @staticmethod
    def _needs_second_factor(flow: Flow, citizen: Citizen) -> bool:
        """The level the policy asked this login to reach (`flow.needed.level`: the
        deployment's `login_min_acr`, LoA2 by default, or more if the RP asked; less only for
        a client the operator allowed LoA1) is LoA2 or more, or this is the first login after
        a password reset proven by SMS alone. A flow without `needed` (a record from before
        issue 13) asks for the second factor."""
        level = flow.needed.level if flow.needed is not None else "LoA2"
        return LEVELS[level] >= 2 or (
            citizen.sms_reset_pending and factors.has_non_sms_factor(citizen))


def _certificate_required(flow: Flow) -> bool:
    """The policy asked this login for LoA3: only a certificate reaches it, so the password
    form is not offered (a password and a code would end at LoA2 and ask again)."""
    return flow.needed is not None and LEVELS[flow.needed.level] >= 3


def wait_message(seconds: int) -> Message:
    """The throttle's wait, in minutes, or in hours past an hour."""
    minutes = (seconds + 59) // 60
    if minutes > 60:
        return msg("login.wait_hours", num=(minutes + 59) // 60)
    return msg("login.wait_minutes", num=minutes)
