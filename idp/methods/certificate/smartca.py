"""VNPT SmartCA: the key lives in VNPT's HSM; the citizen logs in at SmartCA (OAuth, so the
IdP may ask on their behalf), and approves each signature in the SmartCA app, which shows the
request with our display code (reference/pki.md §4; idp/platform/signers/smartca.py).

What it proves (RFC 8176 §2):
- `mca`: multiple channels — the browser, and the SmartCA app on the citizen's phone;
- `user`: a user-presence test — someone pressed approve in the app.
Not `hwk`/`sc`: the key is hardware-secured, but VNPT holds it, not the citizen; not `pin`
nor `mfa`: how the app is unlocked (PIN, fingerprint, nothing) is not known to us (pki.md §8).
The login at SmartCA is SmartCA's own and not ours to report. LoA3 (method.py), as the
issue asks for every certificate carrier: the certificate names the person (IAL3).
"""
from __future__ import annotations

from idp.methods.base import Factor
from idp.methods.certificate.remote import RemoteCertificateMethod


class SmartCa(RemoteCertificateMethod, id="smartca", amr=("mca", "user"),
              factor=Factor.FIRST, level="LoA3"):
    signer_name = "smartca"
