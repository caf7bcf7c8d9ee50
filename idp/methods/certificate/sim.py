"""SIM ký số: the key lives on the citizen's SIM card; the CA's service (QĐ769 service-provider
API, idp/platform/signers/mobile_sim.py) pushes the signing request to the phone, where the
citizen compares the display code, presses OK and types the SIM PIN (reference/pki.md §3).

What it proves (RFC 8176 §2), in order:
- `hwk`: proof of possession of a hardware-secured key — the key is generated on the SIM and
  never leaves it;
- `sc`: the SIM is a smart card (a UICC chip);
- `pin`: the SIM signs only after its PIN;
- `mca`: multiple channels — the request starts in the browser and is approved over the
  mobile network, on another device;
- `mfa`: something held (the SIM) and something known (its PIN).
LoA3 (method.py). Not phishing-resistant in NIST's sense: nothing binds the signature to our
origin except the display code the citizen compares (pki.md §8), so no AAL3 claim.

The citizen types the phone number or the ID number registered for SIM ký số; it is passed
to the service as the ID number (12 or 9 digits) or as the MSISDN `84…` (QĐ769's user_id:
"CCCD … e.g. MSISDN").
"""
from __future__ import annotations

from idp.accounts.validation import (
    ValidationError,
    looks_like_id_number,
    normalize_phone,
    parse_id_number,
)
from idp.methods.base import Factor
from idp.methods.certificate.remote import ACCOUNT_FIELD, RemoteCertificateMethod
from idp.methods.refusal import Refusal
from idp.platform.messages import msg


class SimSignature(RemoteCertificateMethod, id="sim", amr=("hwk", "sc", "pin", "mca", "mfa"),
                   factor=Factor.FIRST, level="LoA3"):
    signer_name = "mobile_sim"
    typed_account = True

    def account(self, text: str) -> str:
        """A 9- or 12-digit ID number as it is, a mobile number as its MSISDN (84…)."""
        value = "".join((text or "").split())
        try:
            if looks_like_id_number(value):
                return parse_id_number(value)
            return normalize_phone(value).removeprefix("+")
        except ValidationError:
            raise Refusal(msg("signer.account_format"), field=ACCOUNT_FIELD) from None
