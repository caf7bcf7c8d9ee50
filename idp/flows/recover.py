"""Forgot password ("Quên mật khẩu?"): ID number + image captcha → a code to the account's
registered phone → a new password.

    stateDiagram-v2
      [*] --> identify
      identify --> code: captcha solved (code sent if the account exists, pretended if not)
      code --> code: resend (cooldown doubling, ≤ 5 per flow, ≤ 5 per ID number and address an hour)
      code --> password: the right code
      password --> done: policy met → password set, sessions and tokens revoked, SMS notice
      done --> [*]: "Đăng nhập" → the authorization resumes (login with the new password)

Started from the login page (recovery_views.from_login hands the same pending authorization
over) or on its own at /recover (an internal pending record; it ends on /recover/done).

Enumeration (security-requirements §6.3, ASVS 5.0 6.3.8): an ID number with an account and one
without get the same pages, statuses and limits at every step.
- The code page never shows a masked phone. A mask gives 7 of the phone's 10 digits to anyone
  who knows an ID number (ID numbers are printed on many documents), and a mask invented for
  a number without an account would be told apart by anyone who knows the real phone. The
  citizen knows their own phone; the page says "if this number has an account, a code was
  sent to the phone registered with it".
- The limits the page can show (cooldown, sends per flow, sends per ID number and client
  address an hour) are counted here from the flow and the ID-number *string*. otp.send's own
  refusals (per-phone,
  per-account, per-IP and global budgets, the gateway failing) cannot happen without an
  account, so they are audited and not shown; the cooldown runs anyway. The price: during a
  gateway outage the citizen sees "no SMS arrived, resend later" instead of "try again now".
- Without an account a decoy challenge is stored that no code matches, so otp.verify counts
  tries, burns and expires it exactly as a real one.
- Wrong codes are counted per (ID-number string, bucket) with otp.py's back-off (a wait from
  every otp_max_attempts-th failure, doubling, at most 1 h; 24 h at otp_account_cap), not on
  the account's second-factor counter: the same for everyone, and a stranger who knows an ID
  number cannot lock its owner's SMS login, nor the owner's reset, by guessing reset codes.

No lock-out by ID number alone (issue 11 item 3; threat model in flows/login.py): every limit
here is per (ID number, bucket), the bucket being the client address (IPv6 per /64) or the
owner's known device (idp/device.py), fixed when the ID number is entered (idp/lockout.py).
Sends of an ID number from all buckets together are counted too: from sms_budget_per_phone in
an hour the ID number is under attack for an hour, and browsers other than the owner's known
device must solve the hard (8-character) captcha to start a reset; nothing is refused per ID
number. A completed reset clears every counter of the ID number (lockout.clear). Left
to the SMS budgets (idp/sms_budget.py): the phone's hourly allowance for anonymous codes is
per phone, so strangers can use it up for an hour — then no code is sent (silently) to a
stranger's browser, while the owner's known device (idp/device.py) counts on an allowance of
its own and still gets the code.
- Timing: the code goes to the outbox (otp.send(via_outbox=True), idp/outbox.py), so the
  gateway is never called inside the request; without an account the same store reads,
  claims, counters and audit write are done as otp.send does (_pretend_send). Medians of the
  identify POST, 50 each, account vs none, with an http gateway that takes 250 ms
  (tests/test_sec_outbox.py): SQLite 8.5 / 7.5 ms, PostgreSQL 21.3 / 19.2 ms, PostgreSQL +
  Redis 8.2 / 6.3 ms (before the outbox: 261 / 6 ms) — under the 5 ms of
  security-requirements §6.6, not under its 5 %.

MFA (ASVS 5.0 6.4.3): see recovery.reset_password — the next login asks for a factor that is
not SMS when the account has one.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, render_template, url_for
from werkzeug.datastructures import MultiDict

from idp.accounts import factors, lockout, otp, passwords, recovery
from idp.accounts.validation import looks_like_id_number
from idp.flows.claim import claim
from idp.interaction.engine import Fields, Flow, FlowKind, ViewResult, save, table
from idp.interaction.outcomes import Finish, Goto, Outcome, Stay
from idp.methods import refusal as refusals
from idp.platform import audit, captcha
from idp.platform.db import db, now
from idp.platform.messages import Message, msg
from idp.platform.models import Citizen

HOUR = 3600
DAY = 24 * HOUR


def _settings() -> dict[str, Any]:
    return current_app.config["IDP"]  # type: ignore[no-any-return]


def _store() -> Any:
    return current_app.extensions["idp.store"]


def _citizen(flow: Flow) -> Citizen | None:
    cid = flow.data.get("cid")
    citizen = db.session.get(Citizen, cid) if cid is not None else None
    return citizen if citizen is not None and citizen.status == "active" else None


class RecoverFlow(FlowKind):
    name = "recover"
    # the password step claims "done" before the reset, then shows it (Goto itself)
    transitions = table(identify="code", code="code password", password="done", done="done")

    # ----------------------------------------------------------------------- pages
    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        errors, values = errors or {}, values or {}
        context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors}
        if flow.state == "identify":
            return render_template(
                "recover_identify.html", id_number=values.get("id_number", ""),
                captcha_id=captcha.issue(_store(), _settings()["captcha_ttl"], bound_to=flow.id,
                                         purpose="recover",
                                         hard=bool(flow.data.get("hard_captcha"))),
                refresh_captcha_url=flow.url, **context)
        if flow.state == "code":
            resent = flow.data.get("sends", 0) > 1
            return render_template(
                "recover_code.html", resend_in=self._resend_in(flow), resent=resent,
                resent_notice=msg("recovery.code_resent") if resent else None,
                lost_phone_url=url_for("recovery.lost_phone"), **context)
        if flow.state == "password":
            return render_template("recover_password.html", hint=passwords.HINT,
                                   strength=values.get("strength"), **context)
        return render_template("recover_done.html", notice=msg("recovery.done_login"),
                               **context)

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        steps = {"identify": self._identify, "code": self._code,
                 "password": self._password, "done": self._done}
        return steps[flow.state](flow, form)

    # ----------------------------------------------------------------------- identify
    def _identify(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        id_number = (form.get("id_number") or "").strip()
        keep = {"id_number": id_number[:20]}
        idh = lockout.id_hash(id_number)
        owner = lockout.owner_device(id_number) if looks_like_id_number(id_number) else None
        hard = (owner is None and looks_like_id_number(id_number)
                and lockout.remaining(lockout.key(idh, "reset-sends") + ":attack", now()) > 0)
        if not captcha.verify(_store(), form.get("captcha_id") or "", form.get("captcha") or "",
                              bound_to=flow.id, purpose="recover", hard=hard):
            if hard and not flow.data.get("hard_captcha"):
                flow.data["hard_captcha"] = True  # from now on this page shows the hard one
                save(flow)
            return Stay({"captcha": msg("recovery.hard_captcha" if hard else "captcha.invalid")},
                        keep, 400)
        if not looks_like_id_number(id_number):
            return Stay({"id_number": msg("login.id_number_format")}, keep, 400)
        citizen = db.session.query(Citizen).filter_by(id_number=id_number,
                                                      status="active").one_or_none()
        flow.data.update(cid=citizen.id if citizen else None, idh=idh, sends=0,
                         bucket=lockout.bucket(owner))
        refused = self._send(flow, citizen)
        if refused:
            return Stay({"form": refused}, keep, 429)
        audit.record("recover.started", citizen_id=citizen.id if citizen else None,
                     client_id=flow.client_id or None,
                     id_number=audit.mask_id_number(id_number))
        return Goto("code")

    # ----------------------------------------------------------------------- sending
    def _resend_in(self, flow: Flow) -> int:
        sends = flow.data.get("sends", 0)
        if not sends:
            return 0
        at = flow.data["last"] + _settings()["resend_cooldown"] * 2 ** (sends - 1)
        return max(0, int(at - now() + 0.999))

    def _send(self, flow: Flow, citizen: Citizen | None) -> Message | None:
        """One send (or pretended send); returns the refusal message, or None. Only limits
        that are the same with and without an account are shown (module docstring)."""
        s = _settings()
        if flow.data["sends"] >= otp.MAX_SENDS_PER_FLOW:
            return msg("recovery.too_many_sends")
        wait = self._resend_in(flow)
        if wait:
            return msg("otp.cooldown", num=wait)
        idh = flow.data["idh"]
        key = lockout.key(idh, "reset-sends", _bucket(flow))
        if _store().incr(key, HOUR) > s["sms_budget_per_phone"]:
            _store().incr(key, HOUR, -1)
            return msg("otp.budget")
        lockout.keep_epoch(idh)
        if _store().incr(lockout.key(idh, "reset-sends"), HOUR) >= s["sms_budget_per_phone"]:
            lockout.hold(lockout.key(idh, "reset-sends") + ":attack", HOUR, now())  # friction
        flow.data["sends"] += 1
        flow.data["last"] = now()
        # Claim the send (compare-and-set) before texting: of parallel resends one sends, the
        # others lose the flow's revision (otp.send alone checks, then sends, then records).
        save(flow)
        if citizen is None:
            self._pretend_send(flow)
            return None
        try:
            otp.send(flow.id, "reset", factors.phones(citizen)[0], citizen.id,
                     via_outbox=True,  # no gateway latency in the answer (idp/outbox.py)
                     owner=lockout.owner_device(citizen.id_number) is not None)
        except otp.OtpRefused as exc:
            audit.record("recover.code_not_sent", citizen_id=citizen.id, reason=exc.reason)
            self._decoy(flow)  # the same as without an account: no code works now
        return None

    def _pretend_send(self, flow: Flow) -> None:
        """The work otp.send does for a real code (its claim of the flow's challenge: a read
        and an add; four budget counters; an audit row), so the answer takes about as long
        without an account; then the decoy challenge. The code itself goes to the outbox
        (via_outbox), so no gateway time is left to pad."""
        _store().get_rev("otp:" + flow.id)
        _store().add(f"reset-decoy:{flow.id}", {"sends": flow.data["sends"]}, HOUR)
        for budget in ("phone", "account", "ip", "global"):
            _store().incr(f"reset-decoy:{flow.data['idh']}:{budget}", HOUR)
        audit.record("recover.code_pretended", purpose="reset", sends=flow.data["sends"])
        self._decoy(flow)

    def _decoy(self, flow: Flow) -> None:
        """A challenge no code matches, in the record otp.send stores (otp.py: `otp:<flow>`,
        per-code tries `otp-tries:<flow>`), so otp.verify treats it like a real one."""
        otp.decoy(flow.id, "reset", flow.data["sends"], flow.data["last"])

    # ----------------------------------------------------------------------- code
    def _code(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        citizen = _citizen(flow)
        if form.get("action") == "resend":
            refused = self._send(flow, citizen)
            if refused:
                return Stay({"form": refused}, status=429)
            return Goto("code")
        wait = self._locked_for(flow)
        if wait:
            return Stay({"form": _locked_message(wait)}, status=429)
        code = (form.get("otp") or "").strip()
        if not code:
            return Stay.refused(refusals.code_required())
        try:
            ok = otp.verify(flow.id, "reset", code)
        except otp.OtpRefused as exc:
            return Stay.refused(refusals.refused(exc))
        if not ok:
            self._count_failure(flow, citizen)
            return Stay.refused(refusals.wrong_code())
        _store().delete(_fail_key(flow))
        flow.data["verified"] = True
        audit.record("recover.code_ok", citizen_id=citizen.id if citizen else None)
        return Goto("password")

    def _locked_for(self, flow: Flow) -> int:
        return lockout.remaining(_fail_key(flow) + ":lock", now())

    def _count_failure(self, flow: Flow, citizen: Citizen | None) -> None:
        """otp.record_failure's schedule, per (ID-number string, bucket) (module docstring)."""
        key = _fail_key(flow)
        lockout.keep_epoch(flow.data["idh"])
        failures = _store().incr(key, DAY)
        wait = otp.failure_wait(failures, _settings())
        if wait:
            lockout.hold(key + ":lock", wait, now())
        audit.record("recover.code_failure", citizen_id=citizen.id if citizen else None,
                     failures=failures, wait=wait)

    # ----------------------------------------------------------------------- password
    def _password(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        citizen = _citizen(flow)
        if citizen is None or not flow.data.get("verified"):  # disabled meanwhile
            return Stay({"form": msg("recovery.cannot_reset")}, status=403)
        password = form.get("password") or ""
        errors = passwords.check(password, form.get("password_confirm") or "",
                                 passwords.context_for(citizen))
        if errors:
            strength = None
            if "password" not in errors:
                strength = passwords.strength_label(password)
            return Stay(errors, {"strength": strength}, 400)
        # Claim the step first (compare-and-set): a double submit changes the password once.
        claim(self, flow, "done")
        recovery.reset_password(citizen, password, flow.client_id or None)
        if flow.internal:
            return Finish()  # to /recover/done
        return Goto("done")  # claimed above: shown now (303 to the flow's page)

    def _done(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        return Finish()


def _bucket(flow: Flow) -> str:
    return flow.data.get("bucket") or lockout.address_bucket()


def _fail_key(flow: Flow) -> str:
    return lockout.key(flow.data["idh"], "reset-fail", _bucket(flow))


def _locked_message(seconds: int) -> Message:
    return msg("recovery.locked_minutes", num=max(1, (seconds + 59) // 60))
