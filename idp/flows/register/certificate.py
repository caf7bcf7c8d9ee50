"""Registration by signing with a certificate (issue 15 items 4 and 5): a citizen whose valid
certificate carries their CCCD (IAL3), or a business (MST) or an agency (MNS) with its own.

    stateDiagram-v2
      choose --> sign: an IAL3 carrier available here (register/choice.py)
      sign --> sign: signature or certificate refused (a new challenge), wrong account type
      sign --> sign_wait: a remote carrier's request is on the phone (SIM ký số; VNPT
                          SmartCA after its login: flows/smartca_callback.py)
      sign_wait --> sign: rejected, expired, cancelled, refused (the message shown once)
      sign, sign_wait --> exists: the certificate's ID number / organisation code has an
                          account
      sign, sign_wait --> details: no account yet
      details --> code: birth date (a citizen), legal representative (an organisation),
                        phone, e-mail, consent → a code to the phone
      code --> password: a citizen; the phone is no other account's
      code --> creating --> done: an organisation (no password: it signs in by certificate)
      password --> creating --> done: the account, its phone, the bound certificate

What the signature proves replaces the mobile path's carrier KYC: the certificate (path to a
trust anchor, validity, key usage, revocation: methods/certificate/proof.py) names the ID
number, so there is no "ownership" step; the flow's challenge (purpose "register") makes one
signature good for one attempt in this flow only. No captcha either: each flow needs a
signature by a valid certificate (a token and its PIN), a stronger gate than a captcha; the
SMS budgets and the phones per flow (limits.py) still bound what one flow can send.

Enumeration: an existing account of the certificate's ID number is told right after the
signature, before any phone is asked — the caller has just proven to hold that identity's
certificate, which is stronger than the mobile path's possession + ownership after which the
same page appears. A citizen's existing account gets the alert SMS as in the mobile path
(`sms.register_alert`); an organisation's does not (that text speaks of a CCCD).

Carriers: the USB token's page signs in the browser and posts the signature
(`certificate_step.panel`, the carrier's `proof_of`). A remote carrier signs on the phone:
the request is sent as the login page sends it (`certificate_step.begin`, or SmartCA's
callback), the flow waits in "sign_wait" (`certificate_step.render_wait`), and `check` asks
the service and verifies what it returned with the carrier's `proof_of` — the same steps as
certificate_step.check, which ends in a login of an existing account, where registration
needs the proof itself.

The identity fields come from the certificate, never from the form: ID number and name
(for an organisation its name and code). A 12-digit CCCD gives the century and gender
(validation.cccd_facts); the birth date is asked and must agree with it. A 9-digit CMND
encodes neither: gender is asked too. The creation (person.create) writes the account, its
phone (a citizen's), the certificate binding (accounts/cert_bindings.py) and how it was
verified, in one transaction.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Protocol

from flask import current_app, render_template, url_for
from werkzeug.datastructures import MultiDict

from idp.accounts import cert_bindings, organisations, otp, validation
from idp.flows import certificate_step
from idp.flows.register import limits
from idp.flows.register import person as people
from idp.flows.register.choice import METHODS, carrier_label
from idp.interaction.engine import Flow, ViewResult
from idp.interaction.outcomes import Goto, Login, Outcome, Stay
from idp.methods import refusal as refusals
from idp.methods import registry
from idp.methods.certificate.method import CertificateMethod
from idp.methods.certificate.proof import Proven
from idp.methods.certificate.remote import STATES as SERVICE_STATES
from idp.methods.certificate.remote import RemoteCertificateMethod
from idp.methods.refusal import Refusal
from idp.platform import audit
from idp.platform.db import now
from idp.platform.messages import Message, msg

WAIT = "sign_wait"
STATES = ("sign", WAIT, "details")
NOTICE_TTL = 300
DETAIL_FIELDS = ("full_name", "birth_date", "gender", "legal_representative", "phone",
                 "email")
# A certificate of the wrong kind for the chosen account type: what to say.
WRONG_TYPE = {"citizen": "organisation.organisation_certificate",
              "business": "organisation.not_business_certificate",
              "agency": "organisation.not_agency_certificate"}


class Registration(Protocol):
    """What this module needs of the registration flow kind (register/flow.py)."""

    def to_exists(self, flow: Flow, reason: str) -> Outcome: ...

    def create_account(self, flow: Flow, password_hash: str, back: str) -> Outcome: ...


def carrier_of(flow: Flow) -> CertificateMethod | None:
    """The carrier of the method chosen on step 1, if it is available here."""
    method = METHODS.get(str(flow.data.get("method") or ""))
    return certificate_step.carrier(method.carrier) if method and method.carrier else None


def render(flow: Flow, context: dict[str, Any], errors: dict[str, Any],
           values: dict[str, Any]) -> ViewResult:
    atype = str(flow.data.get("account_type") or organisations.CITIZEN)
    if flow.state == WAIT:
        return certificate_step.render_wait(flow, errors, values)
    if flow.state == "sign":
        carrier = carrier_of(flow)
        if not errors:  # a remote signing that ended (`_ended`): its message, once
            notice = current_app.extensions["idp.store"].take("register-sign-notice:" + flow.id)
            if notice is not None:
                errors = {"form": Message(str(notice["id"]), str(notice["text"]))}
        if carrier is None and "form" not in errors:
            errors = dict(errors, form=msg("certificate.unavailable"))
        redirects = certificate_step.redirects(carrier)  # VNPT SmartCA: its login first
        return render_template(
            "register_sign.html", account_type=atype,
            carrier_label=carrier_label(carrier.id) if carrier else "",
            signer=certificate_step.panel(flow, carrier, purpose="register")
            if carrier is not None and not redirects else None,
            signer_account=values.get(certificate_step.ACCOUNT_FIELD, ""),
            smartca_action=url_for("smartca_signin.begin", flow_id=flow.id)
            if redirects else None, **dict(context, errors=errors))
    cert = flow.data.get("cert") or {}
    shown = dict(flow.data.get("typed") or {}, **values)
    return render_template(
        "register_details.html", account_type=atype, cert=cert, values=shown,
        ask_name=cert.get("kind") == organisations.CITIZEN and _citizen_name(cert) is None,
        ask_gender=_coded_gender(cert) is None,
        coded_gender=_coded_gender(cert), carrier_label=carrier_label(cert.get("carrier", "")),
        shown_id=cert.get("id_number") or cert.get("mst") or cert.get("mns") or "",
        **dict(context, errors=errors))


# --------------------------------------------------------------------------- sign

def sign(kind: Registration, flow: Flow, form: MultiDict[str, str]) -> Outcome:
    """The carrier's answer: verify it (the flow's challenge, signature, certificate), then
    the account type and an existing account."""
    if form.get("action") == "back":
        return Goto("choose")
    carrier = carrier_of(flow)
    if carrier is None or form.get("method") != carrier.id:
        return Stay({"form": msg("certificate.unavailable")}, status=400)
    if isinstance(carrier, RemoteCertificateMethod):  # SIM ký số: the request to the phone
        return certificate_step.begin(flow, carrier, form, purpose="register") or Goto(WAIT)
    try:
        proven = carrier.proof_of(flow.id, {k: form.get(k) or ""
                                            for k in certificate_step.ANSWER_FIELDS})
    except Refusal as refusal:
        return Stay.refused(refusal)
    return _proven(kind, flow, carrier, proven)


def check(kind: Registration, flow: Flow, form: MultiDict[str, str]) -> Outcome:
    """The waiting page's submit (module docstring, "Carriers"): "cancel", or ask the service
    once; approved → the proof of what it returned."""
    record = flow.data.get(certificate_step.RECORD)
    method = certificate_step.carrier(record.get("method")) if isinstance(record, dict) else None
    if not isinstance(record, dict) or not isinstance(method, RemoteCertificateMethod):
        return _ended(flow, None, msg("certificate.expired_or_used"))
    if form.get("action") == "cancel":
        return _ended(flow, method, msg("signer.cancelled"))
    if now() >= float(record["deadline"]):
        return _ended(flow, method, msg("signer.expired"))
    pending = Stay({} if form.get("auto") else {"form": msg("signer.pending")})
    poll = "signer-poll:" + str(record["tx_id"])  # one question per second per request
    if not current_app.extensions["idp.store"].add(poll, {}, certificate_step.POLL_SECONDS):
        return pending
    try:
        state = method.poll(flow.id)
        if state == "pending":
            return pending
        if state != "approved":
            ended = state in SERVICE_STATES  # rejected, expired, failed: the service's word
            return _ended(flow, method, msg("signer." + state if ended
                                            else "certificate.expired_or_used"))
        proven = method.proof_of(flow.id, {})
    except Refusal as refusal:
        if refusal.status == 503:  # unreachable: the request may still be answered, wait
            return Stay({"form": refusal.message}, {"interval": refusal.retry_after}, 503,
                        refusal.retry_after)
        return _ended(flow, method, refusal.message)
    flow.data.pop(certificate_step.RECORD, None)
    return _proven(kind, flow, method, proven)


def _ended(flow: Flow, method: RemoteCertificateMethod | None, message: Message) -> Outcome:
    """A remote signing over without a proof: back to the signing page, which says why once."""
    flow.data.pop(certificate_step.RECORD, None)
    if method is not None:
        method.forget(flow.id)
    current_app.extensions["idp.store"].put("register-sign-notice:" + flow.id,
                                            {"id": message.id, "text": str(message)},
                                            NOTICE_TTL)
    return Goto("sign")


def _proven(kind: Registration, flow: Flow, carrier: CertificateMethod,
            proven: Proven) -> Outcome:
    """A valid signature by a valid certificate: the account type it must name, then an
    existing account or the details."""
    identity, valid = proven.identity, proven.certificate
    wanted = str(flow.data.get("account_type") or organisations.CITIZEN)
    if identity.kind != wanted:
        audit.record("register.certificate_wrong_type", client_id=flow.client_id or None,
                     wanted=wanted, found=identity.kind)
        return Stay({"form": msg(WRONG_TYPE[wanted])}, status=400)
    key = organisations.key_of(identity)
    if key is None:  # cert_identity names every kind it accepts; kept for the type checker
        return Stay({"form": msg("certificate.no_identifier")}, status=400)
    flow.data.update(
        cert=dict(cert_bindings.facts(carrier.id, valid.sha256, valid.issuer, valid.serial,
                                      identity.uids),
                  kind=identity.kind, key=key, id_number=identity.id_number, mst=identity.mst,
                  mns=identity.mns, name=_clean(identity.name),
                  organisation=_clean(identity.organisation)),
        # The certificate proves the identity (the mobile path's "ownership"); the phone
        # is still to be proven (possession).
        ownership=True, possession=False, reason=None, typed={},
        person={"id_number": key, "phone": ""})
    audit.record("register.certificate_ok", client_id=flow.client_id or None,
                 carrier=carrier.id, account_type=wanted, id_number=audit.mask_id_number(key))
    if people.owner_of(key) is not None:
        return kind.to_exists(flow, "id_number")
    return Goto("details")


def _clean(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())[:200]


def _citizen_name(cert: dict[str, Any]) -> str | None:
    """The certificate's CN as a person's name, None when it does not pass the name rules
    (then the form asks it). An organisation's name is its CN as it is (its O, or its code,
    without one): a company's name may hold digits and signs a person's may not."""
    if cert.get("kind") != organisations.CITIZEN:
        return str(cert.get("name") or cert.get("organisation") or cert.get("key") or "")
    try:
        return validation.normalize_name(cert.get("name") or "")
    except validation.ValidationError:
        return None


def _coded_gender(cert: dict[str, Any]) -> str | None:
    number = str(cert.get("id_number") or "")
    return validation.cccd_facts(number)[1] if len(number) == 12 else None


# --------------------------------------------------------------------------- details

def details(kind: Registration, flow: Flow, form: MultiDict[str, str]) -> Outcome:
    if form.get("action") == "back":
        return Goto("choose")
    cert = flow.data.get("cert")
    if not cert or not flow.data.get("ownership"):
        return Stay({"form": msg("register.session_invalid")}, status=403)
    typed: dict[str, Any] = {f: (form.get(f) or "").strip()[:200] for f in DETAIL_FIELDS}
    typed["consent"] = form.get("consent") in people.CONSENT_VALUES
    person, errors = validate(cert, form)
    if errors:
        return Stay(errors, typed, 400)
    cid = limits.challenge_for(flow, person["phone"])
    if cid is None:
        return Stay({"phone": msg("register.too_many_phones")}, typed, 429)
    flow.data.update(person=person, typed=typed, possession=False, challenge=cid)
    try:
        otp.send(cid, "register", person["phone"])
    except otp.OtpRefused as exc:
        audit.record("register.code_not_sent", client_id=flow.client_id or None,
                     phone=audit.mask_phone(person["phone"]), reason=exc.reason)
        return Stay.refused(refusals.refused(exc, limits.SEND_WORDS), typed)
    audit.record("register.started", client_id=flow.client_id or None,
                 method=flow.data.get("method"), phone=audit.mask_phone(person["phone"]),
                 id_number=audit.mask_id_number(person["id_number"]))
    return Goto("code")


def validate(cert: dict[str, Any], form: MultiDict[str, str]
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the account's data, field errors): the identity from the certificate, the rest from
    the form, each field checked on its own."""
    citizen = cert.get("kind") == organisations.CITIZEN
    person: dict[str, Any] = {"id_number": cert["key"], "full_name": _citizen_name(cert),
                              "birth_date": "", "gender": "", "legal_representative": None}
    errors: dict[str, Any] = {}

    def run(name: str, fn: Any, *args: Any) -> None:
        try:
            person[name] = fn(*args)
        except validation.ValidationError as exc:
            errors[name] = exc.message

    if citizen:
        if person["full_name"] is None:
            run("full_name", validation.normalize_name, form.get("full_name") or "")
        if not (form.get("birth_date") or "").strip():
            errors["birth_date"] = msg("register.birth_date_required")
        else:
            run("birth_date", validation.parse_birth_date, form.get("birth_date") or "")
        person["gender"] = _coded_gender(cert)
        if person["gender"] is None:
            if not form.get("gender"):
                errors["gender"] = msg("register.gender_required")
            else:
                run("gender", validation.parse_gender, form.get("gender"))
        if "birth_date" not in errors and person["gender"] and "gender" not in errors:
            try:
                validation.check_cccd_consistency(cert["id_number"], person["birth_date"],
                                       person["gender"])
            except validation.ValidationError as exc:
                errors["birth_date"] = exc.message
        if "birth_date" not in errors:
            person["birth_date"] = person["birth_date"].isoformat()
    elif not (form.get("legal_representative") or "").strip():
        errors["legal_representative"] = msg("organisation.representative_required")
    else:
        run("legal_representative", validation.normalize_name,
            form.get("legal_representative") or "")
    run("phone", validation.normalize_phone, form.get("phone") or "")
    run("email", validation.normalize_email, form.get("email") or "")
    if form.get("consent") not in people.CONSENT_VALUES:
        errors["consent"] = msg("register.consent_required")
    return person, errors


# --------------------------------------------------------------------------- after the code

def after_code(kind: Registration, flow: Flow) -> Outcome:
    """The phone is proven: a citizen sets a password next (unless the phone is another
    account's); an organisation's account is created now."""
    person = flow.data["person"]
    if flow.data["cert"]["kind"] == organisations.CITIZEN:
        if people.phone_in_use(person["phone"]):
            return kind.to_exists(flow, "phone")
        return Goto("password")
    return kind.create_account(flow, organisations.NO_PASSWORD, back="code")


def login_for(flow: Flow, account: Any) -> Login:
    """Registration ends logged in with what it proved: the certificate's carrier, at its
    level (LoA3) and amr, like a login with it (its signature was made in this flow)."""
    carrier = registry.by_id(flow.data["cert"]["carrier"])
    return Login(account, carrier.level, registry.login_amr(None, first=carrier))


def done_record(data: dict[str, Any]) -> dict[str, Any]:
    """What "Đăng ký thành công" shows (masked), from the flow's data before it is cleared."""
    person, cert = data.get("person") or {}, data.get("cert") or {}
    found = {"id_number": audit.mask_id_number(person.get("id_number")),
             "phone": audit.mask_phone(person.get("phone")),
             "full_name": person.get("full_name")}
    if cert:
        kind = cert.get("kind")
        found.update(account_type=kind, carrier=carrier_label(cert.get("carrier", "")))
        if kind != organisations.CITIZEN:
            found.update(id_number=cert.get("mst") or cert.get("mns"), mst=cert.get("mst"),
                         mns=cert.get("mns"))
    return found


def exists_notice(flow: Flow) -> str:
    """The message id of "this already has an account" in the certificate path."""
    if flow.data.get("reason") == "phone":
        return "register.phone_taken"
    if (flow.data.get("cert") or {}).get("kind") == organisations.CITIZEN:
        return "register.account_exists_certificate"
    return "organisation.account_exists"

