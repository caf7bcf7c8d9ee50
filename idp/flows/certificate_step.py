"""The certificate step (issue 15): sign the flow's challenge with a certificate carrier and
sign in at LoA3. Shared by the login flow (a tab of the login page: "USB ký số", "SIM ký
số", the VNPT SmartCA block — the certificate names the account) and the step-up flow (a
LoA2 session asked for LoA3: the certificate must name the session's own account).

It names no carrier: the carriers are the registry's certificate methods
(idp/methods/registry.certificate_methods, each an idp/methods/certificate/ module). A page
shows the carrier's panel with a fresh challenge (`panel`); a submit (`answer`) passes the
carrier's fields to its method, which verifies everything (methods/certificate/proof.py)
and names the account. Failures stay on the same tab with the carrier's message; each
attempt has used its challenge, so the page comes back with a new one.

Remote carriers (SIM ký số, VNPT SmartCA: methods/certificate/remote.py) sign on the
citizen's phone, so the browser posts no signature at all — `answer` refuses one. Instead:
- `start` issues the challenge and has the method send it (remote.py `send`: the service's
  certificates, one that would pass validation, the signing request with the display code).
  What the service answered (its transaction, the certificate and chain, later the
  signature) stays server-side with the method, under the flow's id; the flow's data
  (`RECORD`) says which request it waits for, its display code and deadline. `begin` is the
  SIM form's way in (the typed phone or ID number); SmartCA's is its OAuth callback
  (flows/smartca_callback.py). Every start counts against the subscriber
  (STARTS_PER_ACCOUNT): a stranger cannot ring someone's phone without end.
- The flow then waits in its own state (login and step-up: "signer_wait") on the page
  `render_wait`, which checks by itself (idp.js `data-auto-check`) or by its button (the
  POST, CSRF-checked, that may sign in). `check` asks the service once (at most once a
  second): still pending → stay; unreachable → stay, 503 with Retry-After; approved → the
  proof over what the service returned (remote.py `proof_of`) → Login; rejected, expired
  (the service's word or our own deadline, the challenge's expiry), failed, cancelled, or
  a refused proof → back to the tab (None: the flow goes back to its tab state) with the
  message, shown once (`notice`). `proven` is the same wait for a step that wants the
  proof rather than a login (registration by signature).
"""
from __future__ import annotations

import base64
import json
import math
from typing import Any

from flask import current_app, render_template, url_for
from werkzeug.datastructures import MultiDict

from idp.interaction.engine import Finish, Flow, Goto, Login, Outcome, Stay
from idp.methods import registry
from idp.methods.certificate import challenge as challenges
from idp.methods.certificate.method import CertificateMethod
from idp.methods.certificate.proof import Proven
from idp.methods.certificate.remote import (
    ACCOUNT_FIELD,
    RemoteCertificateMethod,
)
from idp.methods.refusal import Refusal
from idp.platform import audit, web
from idp.platform.crypto import sha256_hex
from idp.platform.db import now
from idp.platform.messages import Message, msg
from idp.platform.models import Citizen
from idp.platform.signers.port import mask_user_id

# The form fields a carrier's panel posts, passed to its method as they are.
ANSWER_FIELDS = ("tx_id", "certificate", "signature")
# What the panels say (their script shows the usb_* texts: data-msg-* attributes).
PANEL_TEXTS = ("certificate.usb_working", "certificate.usb_unavailable",
               "certificate.usb_nocert", "certificate.usb_cancelled", "certificate.usb_nokey",
               "certificate.usb_failed", "certificate.usb_noscript")
RECORD = "signer"        # flow.data: which remote signing the flow waits for (start)
CHECK_EVERY = 4          # seconds between the waiting page's own checks (idp.js)
POLL_SECONDS = 1         # at most one question to the service per request and second
ENDED = ("rejected", "expired", "failed")  # how a request ends without a signature
# Signing requests one subscriber's phone may receive from us: a stranger who types someone
# else's phone number must not be able to ring it without end.
STARTS_PER_ACCOUNT = 5
START_WINDOW = 600
NOTICE_TTL = 300


def carriers() -> list[CertificateMethod]:
    return registry.certificate_methods()


def carrier(method_id: str | None) -> CertificateMethod | None:
    """The available carrier `method_id`, None for anything else (a tab that does not exist
    or is not configured here)."""
    return next((m for m in carriers() if m.id == method_id), None)


def redirects(method: CertificateMethod | None) -> bool:
    """A carrier the citizen reaches by logging in at its service first (VNPT SmartCA): a
    block under the tabs with one button, not a tab."""
    return isinstance(method, RemoteCertificateMethod) and not method.typed_account


def is_remote(method: CertificateMethod | None) -> bool:
    """A carrier whose key is with a service and whose approval is on the phone."""
    return isinstance(method, RemoteCertificateMethod)


def tab_carriers() -> list[CertificateMethod]:
    """The carriers shown as tabs (USB ký số, SIM ký số)."""
    return [m for m in carriers() if not redirects(m)]


def tab(method_id: str | None) -> CertificateMethod | None:
    """The tab `method_id` (`?tab=`), None for a block carrier: it has no panel to show."""
    found = carrier(method_id)
    return None if redirects(found) else found


def redirect_carrier() -> CertificateMethod | None:
    """The carrier of the block under the tabs (VNPT SmartCA), when configured."""
    return next((m for m in carriers() if redirects(m)), None)


def panel(flow: Flow, method: CertificateMethod, purpose: str = "login") -> dict[str, Any]:
    """What a carrier's panel needs: a new challenge for this flow (replacing any earlier
    one), its bytes as the signer gets them and the display code the citizen compares. A
    remote carrier's panel has no challenge yet: it is issued when the request is sent
    (`start`), so showing the tab never replaces one a phone is being asked to sign."""
    if isinstance(method, RemoteCertificateMethod):
        return {"method": method.id, "remote": True, "field": ACCOUNT_FIELD}
    s = current_app.config["IDP"]
    issued = challenges.issue(flow.id, purpose, flow.client_id, s["issuer"])
    found = {"method": method.id, "tx_id": issued.tx_id, "display_code": issued.display_code,
             "payload_b64": base64.b64encode(issued.payload).decode("ascii"),
             "texts": {key.partition(".")[2]: msg(key) for key in PANEL_TEXTS}}
    if method.id == "usb":
        # The page's script reaches the plugin on the citizen's own computer: this page's
        # CSP allows exactly those addresses (web.allow_connect), no other page's does.
        host, scheme, ports = s["usb_plugin_host"], s["usb_plugin_scheme"], s["usb_plugin_ports"]
        web.allow_connect(*(f"{scheme}://{host}:{port}" for port in ports))
        found["plugin"] = {"host": host, "scheme": scheme,
                           "ports": " ".join(str(p) for p in ports)}
    return found


def answer(flow: Flow, method: CertificateMethod, form: MultiDict[str, str],
           citizen: Citizen | None = None) -> Login | Stay:
    """Verify the carrier's answer posted in `form`. A first login (`citizen` None) signs in
    the account the certificate names; a step-up requires it to be `citizen`. A remote
    carrier's signature comes from its service, never from the browser: refused here."""
    keep = {"tab": method.id}
    if isinstance(method, RemoteCertificateMethod):
        return Stay({"form": msg("signer.not_remote")}, keep, 400)
    response = json.dumps({k: form.get(k) or "" for k in ANSWER_FIELDS})
    try:
        if citizen is None:
            citizen, _ = method.identify(flow.id, response)
        else:
            method.verify(flow.id, citizen, response)
    except Refusal as refusal:
        return Stay.refused(refusal, keep)
    return _signed_in(flow, method, citizen)


def _signed_in(flow: Flow, method: CertificateMethod, citizen: Citizen) -> Login:
    audit.record("login.certificate_ok", citizen_id=citizen.id, client_id=flow.client_id,
                 method=method.id)
    return Login(citizen, method.level, registry.login_amr(None, first=method),
                 bool(flow.data.get("remember")))


# --------------------------------------------------------------------------- remote carriers

def begin(flow: Flow, method: CertificateMethod, form: MultiDict[str, str],
          purpose: str = "login") -> Stay | None:
    """The SIM form: whom to ask (a phone or ID number), then `start`."""
    typed = (form.get(ACCOUNT_FIELD) or "").strip()[:32]
    keep = {"tab": method.id, ACCOUNT_FIELD: typed}
    if not isinstance(method, RemoteCertificateMethod) or not method.typed_account:
        return Stay({"form": msg("certificate.unavailable")}, keep, 400)
    try:
        account = method.account(typed)
    except Refusal as refusal:
        return Stay.refused(refusal, keep)
    return start(flow, method, account, purpose=purpose, keep=keep)


def start(flow: Flow, method: RemoteCertificateMethod, account: str, *,
          purpose: str = "login", keep: dict[str, Any] | None = None,
          where: str = "form") -> Stay | None:
    """Send the signing request (module docstring); None when it is on its way (the flow's
    data says so: the caller's Goto to its waiting state saves it), else the Stay that says
    why not (errors under `where`). What the service answered stays with the method
    (remote.py: send, poll, proof_of), never in the page."""
    keep = keep if keep is not None else {"tab": method.id}
    try:
        _count_start(account)
        issued = challenges.issue(flow.id, purpose, flow.client_id,
                                  current_app.config["IDP"]["issuer"])
        method.send(flow.id, account, issued)
    except Refusal as refusal:
        return _stay(refusal, keep, where)
    flow.data[RECORD] = {"method": method.id, "tx_id": issued.tx_id,
                         "display": issued.display_code, "deadline": issued.expires_at,
                         "typed": str(keep.get(ACCOUNT_FIELD, ""))}  # to refill the SIM form
    audit.record("certificate.signer_started", client_id=flow.client_id, method=method.id,
                 account=mask_user_id(account) if method.typed_account else "")
    return None


def check(flow: Flow, form: MultiDict[str, str], citizen: Citizen | None = None
          ) -> Login | Stay | None:
    """The waiting page's submit: "cancel", or check the request once (module docstring).
    None: it is over without a login — the caller goes back to its tab state (the message
    waits for that page: `notice`). Nothing the form carries besides `action` and `auto`
    is read."""
    method = approved(flow, form)
    if not isinstance(method, RemoteCertificateMethod):
        return method
    try:
        if citizen is None:
            citizen, _ = method.identify(flow.id, "{}")
        else:
            method.verify(flow.id, citizen, "{}")
    except Refusal as refusal:
        return _end(flow, refusal.message, method)
    return _signed_in(flow, method, citizen)


def proven(flow: Flow, form: MultiDict[str, str]) -> Proven | Stay | None:
    """`check` for a step that wants the proof itself, not a login (a registration by
    signature: whom the certificate names, which account to create)."""
    method = approved(flow, form)
    if not isinstance(method, RemoteCertificateMethod):
        return method
    try:
        return method.proof_of(flow.id, {})
    except Refusal as refusal:
        return _end(flow, refusal.message, method)


def approved(flow: Flow, form: MultiDict[str, str]) -> RemoteCertificateMethod | Stay | None:
    """The carrier whose request the phone approved (its proof is ready to verify), else
    the Stay of a request still pending (or a service that could not be asked) or None
    when it ended (`_end`)."""
    record = flow.data.get(RECORD)
    method = carrier(record.get("method")) if isinstance(record, dict) else None
    if record is None or not isinstance(method, RemoteCertificateMethod):
        return _end(flow, msg("certificate.expired_or_used"), None)
    if form.get("action") == "cancel":
        return _end(flow, msg("signer.cancelled"), method)
    if now() >= float(record["deadline"]):
        return _end(flow, msg("signer.expired"), method)
    pending = Stay({} if form.get("auto") else {"form": msg("signer.pending")})
    poll = "signer-poll:" + str(record["tx_id"])  # one question per second per request
    if not current_app.extensions["idp.store"].add(poll, {}, POLL_SECONDS):
        return pending
    try:
        state = method.poll(flow.id)
    except Refusal as refusal:
        if refusal.status == 503:  # unreachable: the request may still be answered, wait
            return Stay({"form": refusal.message}, {"interval": refusal.retry_after}, 503,
                        refusal.retry_after)
        return _end(flow, refusal.message, method)
    if state == "pending":
        return pending
    if state != "approved":
        return _end(flow, msg("signer." + state if state in ENDED else
                              "certificate.expired_or_used"), method)
    return method


def outcome(result: Login | Stay | None, back: str) -> Outcome:
    """A certificate step's result as the flow's outcome: signed in (Finish), stay on the
    page, or — a remote signing that ended without a login — back to the tab state `back`."""
    if result is None:
        return Goto(back)
    if isinstance(result, Stay):
        return result
    return Finish({"login_done": True}, login=result)


def render_wait(flow: Flow, errors: dict[str, Any] | None = None,
                values: dict[str, Any] | None = None) -> Any:
    """The waiting page: the display code to compare, the check and cancel buttons."""
    record = flow.data.get(RECORD) or {}
    left = float(record.get("deadline", 0)) - now()
    return render_template(
        "signer_wait.html", action=url_for("flows.submit", flow_id=flow.id),
        errors=errors or {}, method=record.get("method", ""),
        display_code=record.get("display", ""), minutes=max(1, math.ceil(left / 60)),
        interval=(values or {}).get("interval", CHECK_EVERY))


def notice(flow: Flow) -> tuple[dict[str, Message], dict[str, Any]] | None:
    """(errors, values) for the tab page once, after a remote signing ended without a
    login: the SIM tab with its message, or the SmartCA block's."""
    found = current_app.extensions["idp.store"].take("signer-notice:" + flow.id)
    if found is None:
        return None
    message = Message(str(found["id"]), str(found["text"]))
    if found.get("where", "form") != "form":  # the block under the tabs (SmartCA)
        return {str(found["where"]): message}, {}
    return {"form": message}, {"tab": found.get("tab") or None,
                               ACCOUNT_FIELD: found.get("typed", "")}


def _stay(refusal: Refusal, keep: dict[str, Any], where: str) -> Stay:
    """Stay.refused, with the message under `where` (the SmartCA block shows its own)."""
    stay = Stay.refused(refusal, keep)
    if where != "form":
        stay.errors = {where: refusal.message}
    return stay


def _end(flow: Flow, message: Message, method: CertificateMethod | None) -> None:
    """The request is over without a login: forget it (a late approval on the phone finds
    nothing) and leave `message` for the tab page, which the caller's Goto shows next —
    a Goto carries no errors, and the page must say why once, not on every reload."""
    record = flow.data.pop(RECORD, None) or {}
    if isinstance(method, RemoteCertificateMethod):
        method.forget(flow.id)
    where = method.id if method is not None and redirects(method) else "form"
    current_app.extensions["idp.store"].put(
        "signer-notice:" + flow.id,
        {"id": message.id, "text": str(message), "where": where,
         "tab": method.id if method is not None and where == "form" else "",
         "typed": record.get("typed", "")}, NOTICE_TTL)
    return None


def _count_start(account: str) -> None:
    """One more request for this subscriber in the window (STARTS_PER_ACCOUNT), keyed by a
    hash: the store holds no phone numbers for this."""
    key = "signer-start:" + sha256_hex(account)
    count = current_app.extensions["idp.store"].incr(key, START_WINDOW)
    if count > STARTS_PER_ACCOUNT:
        minutes = math.ceil(START_WINDOW / 60)
        raise Refusal(msg("signer.too_many", num=minutes), 429, START_WINDOW)
