"""USB ký số: a hardware token on the citizen's computer, reached by the page's script
through the CA's signing plugin (static/usb-signer.js; reference/pki.md §2). The plugin
reads the token's certificate (getCertInfo) and signs the challenge bytes as a CMS
SignedData (signCms) after the citizen types the token's PIN in the plugin's own dialog.

What it proves (RFC 8176): `hwk` (the key never leaves the token), `sc` (the token is a
smart-card chip), `pin` (the token signs only after its PIN) and so `mfa`: something held
and something known. LoA3 (method.py). The answer the page posts: `tx_id` (the challenge
signed), `certificate` (Base64 DER, the one the plugin read) and `signature` (Base64 CMS).
"""
from __future__ import annotations

from typing import Any

from idp.methods.base import Factor
from idp.methods.certificate import proof
from idp.methods.certificate.method import CertificateMethod
from idp.methods.certificate.proof import Proven


class UsbToken(CertificateMethod, id="usb", amr=("hwk", "sc", "pin", "mfa"),
               factor=Factor.FIRST, level="LoA3"):

    def proof_of(self, flow_id: str, answer: dict[str, Any]) -> Proven:
        return proof.by_cms(flow_id, str(answer.get("tx_id", "")),
                            proof.decode(answer.get("signature")),
                            proof.decode(answer.get("certificate")))
