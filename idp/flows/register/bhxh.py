"""Registration by social-insurance code, "Bảo hiểm xã hội" (issue 17 item 1): the states
of RegisterFlow (flow.py) that differ from the mobile path.

1. "bhxh" (the form, register_form.html with `bhxh`): mã số BHXH (10 digits), name, ID
   number, birth date, gender, optional e-mail, captcha and consent — no phone: the
   registry (accounts/bhxh.py) gives the one registered with social insurance, and the code
   goes there. So the registry's answer proves ownership (the record names this person and
   this phone), and the SMS code then proves possession, as carrier KYC and the code do in
   the mobile path.
2. "code" (flow.py's, shared): the page does not show the number, and reads the same
   whether a record matched or not. Without a matching record nothing is sent: a decoy
   challenge no code matches is stored (otp.decoy) after the same store work a real send
   does, and resends behave like real ones (cooldown, at most MAX_SENDS_PER_FLOW codes).
   The real code goes through the outbox (`via_outbox`), so the gateway's time is not in
   the answer either. Someone who knows a person's code, ID number, name and birth date
   therefore learns nothing more (not whether BHXH matched, not the phone), and cannot
   choose where a code goes.
3. After the right code: the existing-account check (ID number, phone) and "password", as
   in the mobile path; the account is `verified_by` "vssid", IAL2 (person.py).

The registry's failures and timeouts: a clean message on the form, nothing written, no
query counted. Answered queries count against limits.KYC_MAX_PER_FLOW, as carrier checks do.
"""
from __future__ import annotations

import hashlib
from typing import Any

from werkzeug.datastructures import MultiDict

from idp.accounts import bhxh, otp
from idp.accounts.validation import PERSON_FIELDS, parse_person_form
from idp.flows.register import limits
from idp.flows.register import person as people
from idp.flows.register.limits import SEND_WORDS, challenge_id, store
from idp.interaction.engine import Flow, FlowKind
from idp.interaction.outcomes import Goto, Outcome, Stay
from idp.methods import refusal as refusals
from idp.platform import audit
from idp.platform.db import now
from idp.platform.messages import msg

STATE = "bhxh"
FIELDS = tuple(f for f in PERSON_FIELDS if f != "phone")
HOUR = 3600


def _code(form: MultiDict[str, str]) -> tuple[str, Any]:
    code = "".join((form.get("ma_bhxh") or "").split())
    if not code:
        return "", msg("bhxh.code_required")
    if not (len(code) == 10 and code.isascii() and code.isdigit()):
        return "", msg("bhxh.code_format")
    return code, None


def submit(kind: FlowKind, flow: Flow, form: MultiDict[str, str]) -> Outcome:
    """The form's POST: captcha, fields, the registry, then the code page (sent or not)."""
    if form.get("action") == "back":
        return Goto("choose")
    typed: dict[str, Any] = {f: (form.get(f) or "").strip()[:200]
                             for f in (*FIELDS, "ma_bhxh")}
    typed["consent"] = form.get("consent") in people.CONSENT_VALUES
    if not limits.pass_captcha(flow, form):
        return Stay({"captcha": msg("captcha.invalid")}, typed, 400)
    person, errors = parse_person_form(form, FIELDS)
    code, error = _code(form)
    if error:
        errors["ma_bhxh"] = error
    if not typed["consent"]:
        errors["consent"] = msg("register.consent_required")
    if errors:
        return Stay(errors, typed, 400)
    if limits.kyc_queries(flow.id) >= limits.KYC_MAX_PER_FLOW:
        return Stay({"form": msg("bhxh.budget")}, typed, 429)
    try:
        record = bhxh.lookup(code, person["id_number"], person["full_name"],
                             person["birth_date"])
    except bhxh.BhxhError as exc:
        audit.record("register.bhxh_unavailable", client_id=flow.client_id or None,
                     error=str(exc))
        return Stay({"form": msg("bhxh.unavailable")}, typed, 503)
    limits.count_kyc_query(flow.id)
    marker = hashlib.sha256(f"{code}:{person['id_number']}".encode()).hexdigest()[:16]
    flow.data.update(typed=typed, bhxh=True, possession=False, reason=None,
                     ownership=record is not None, decoy=record is None)
    if record is None:
        # No phone: the decoy's failure counter (flow.py) is keyed by this marker instead.
        flow.data.update(person=dict(person, phone="bhxh:" + marker),
                         challenge=f"{flow.id}:bhxh:{marker}")
        _pretend_send(flow)
        audit.record("register.bhxh_no_record", client_id=flow.client_id or None,
                     id_number=audit.mask_id_number(person["id_number"]))
        return Goto("code")
    person["phone"] = record.phone
    cid = limits.challenge_for(flow, record.phone)
    if cid is None:
        return Stay({"form": msg("register.too_many_phones")}, typed, 429)
    flow.data.update(person=person, challenge=cid)
    try:
        otp.send(cid, "register", record.phone, via_outbox=True)
    except otp.OtpRefused as exc:
        audit.record("register.code_not_sent", client_id=flow.client_id or None,
                     phone=audit.mask_phone(record.phone), reason=exc.reason)
        return Stay.refused(refusals.refused(exc, SEND_WORDS), typed)
    audit.record("register.started", client_id=flow.client_id or None, method="vssid",
                 phone=audit.mask_phone(record.phone),
                 id_number=audit.mask_id_number(person["id_number"]))
    return Goto("code")


def _pretend_send(flow: Flow, sends: int = 1) -> None:
    """Without a record: the work otp.send does for a real code (its claim of the challenge,
    the budget counters, a row committed — there the outbox's and "otp.sent", here
    "register.code_pretended"), then a decoy challenge no code matches."""
    cid = challenge_id(flow)
    store().get_rev("otp:" + cid)
    for budget in ("phone", "ip", "global"):
        store().incr(f"bhxh-decoy:{cid}:{budget}", HOUR)
    audit.record("register.code_pretended", client_id=flow.client_id or None, sends=sends)
    otp.decoy(cid, "register", sends, now())


def resend(flow: Flow) -> Outcome:
    """"Gửi lại OTP": a real resend to the record's phone, or the decoy's, refused alike
    (cooldown, the flow's budget of codes)."""
    person = flow.data["person"]
    if not flow.data.get("decoy"):
        try:
            otp.send(challenge_id(flow), "register", person["phone"], via_outbox=True)
        except otp.OtpRefused as exc:
            return Stay.refused(refusals.refused(exc, SEND_WORDS))
        return Goto("code")
    ch = otp.challenge(challenge_id(flow))
    sends = ch.sends if ch else 0
    wait = otp.seconds_until_resend(challenge_id(flow))
    refusal = (otp.OtpRefused("cooldown", wait) if wait > 0 else
               otp.OtpRefused("flow_budget") if sends >= otp.MAX_SENDS_PER_FLOW else None)
    if refusal is not None:
        return Stay.refused(refusals.refused(refusal, SEND_WORDS))
    _pretend_send(flow, sends + 1)
    return Goto("code")


def after_code(kind: Any, flow: Flow) -> Outcome:
    """The right code: the record proved ownership, the code possession; then the
    existing-account check and the password, as in the mobile path."""
    person = flow.data["person"]
    audit.record("register.ownership_ok", client_id=flow.client_id or None, method="vssid",
                 phone=audit.mask_phone(person["phone"]),
                 id_number=audit.mask_id_number(person["id_number"]))
    reason = people.existing(person)
    if reason:
        return kind.to_exists(flow, reason)  # type: ignore[no-any-return]
    return Goto("password")
