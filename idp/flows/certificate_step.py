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
"""
from __future__ import annotations

import base64
import json
from typing import Any

from flask import current_app
from werkzeug.datastructures import MultiDict

from idp.interaction.engine import Flow, Login, Stay
from idp.methods import registry
from idp.methods.certificate import challenge as challenges
from idp.methods.certificate.method import CertificateMethod
from idp.methods.refusal import Refusal
from idp.platform import audit, web
from idp.platform.messages import msg
from idp.platform.models import Citizen

# The form fields a carrier's panel posts, passed to its method as they are.
ANSWER_FIELDS = ("tx_id", "certificate", "signature")
# What the panels say (their script shows the usb_* texts: data-msg-* attributes).
PANEL_TEXTS = ("certificate.usb_working", "certificate.usb_unavailable",
               "certificate.usb_nocert", "certificate.usb_cancelled", "certificate.usb_nokey",
               "certificate.usb_failed", "certificate.usb_noscript")


def carriers() -> list[CertificateMethod]:
    return registry.certificate_methods()


def carrier(method_id: str | None) -> CertificateMethod | None:
    """The available carrier `method_id`, None for anything else (a tab that does not exist
    or is not configured here)."""
    return next((m for m in carriers() if m.id == method_id), None)


def panel(flow: Flow, method: CertificateMethod, purpose: str = "login") -> dict[str, Any]:
    """What a carrier's panel needs: a new challenge for this flow (replacing any earlier
    one), its bytes as the signer gets them and the display code the citizen compares."""
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
    the account the certificate names; a step-up requires it to be `citizen`."""
    response = json.dumps({k: form.get(k) or "" for k in ANSWER_FIELDS})
    keep = {"tab": method.id}
    try:
        if citizen is None:
            citizen, _ = method.identify(flow.id, response)
        else:
            method.verify(flow.id, citizen, response)
    except Refusal as refusal:
        return Stay.refused(refusal, keep)
    audit.record("login.certificate_ok", citizen_id=citizen.id, client_id=flow.client_id,
                 method=method.id)
    return Login(citizen, method.level, registry.login_amr(None, first=method),
                 bool(flow.data.get("remember")))
