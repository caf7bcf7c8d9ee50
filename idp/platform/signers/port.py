"""The remote-signer port: what certificate sign-in needs from a SIM ký số service or VNPT
SmartCA, whatever the wire protocol (reference/pki.md §1 "challenge-signing pattern").

A remote signing is asynchronous by nature: the IdP asks, the citizen's phone rings, the
citizen compares the display code with the one on our page and approves (or not) within a
couple of minutes. So the port is three calls — find the certificate(s), start a signing,
ask how it stands — and the flow polls `status` while the page waits.

`account` names the citizen at the service: the CCCD or phone number (MSISDN) for the SIM
service; the access token obtained through SmartCA's own OAuth login for SmartCA (the
citizen authorises us at SmartCA first; see smartca.py).

Every failure of the service (unreachable, slow, refusing our credentials, answering
nonsense) is a `SignerError` with a `reason` the flow turns into one message; the detail is
for logs and never holds personal data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from idp.platform.masking import mask_id_number, mask_phone
from idp.platform.reasons import ReasonedError

State = Literal["pending", "approved", "rejected", "expired", "failed"]
FINAL_STATES: frozenset[str] = frozenset({"approved", "rejected", "expired", "failed"})

# Why a call failed. The first four are worth telling the citizen apart; the rest read
# "the service cannot be used now" to them and are alarms for the operator.
REASONS = (
    "unknown_user",         # the service knows no subscriber by this CCCD / phone number
    "not_registered",       # a subscriber, but no usable signing credential or service pack
    "revoked",              # the subscriber's certificate is revoked (QĐ769: HTTP 403)
    "invalid_grant",        # SmartCA: the OAuth code/token expired, was reused or withdrawn
    "refused_credentials",  # our own service-provider / client credentials were refused
    "unavailable",          # unreachable, timed out, 5xx, or not JSON at all
    "bad_response",         # JSON, but not the shape the protocol promises
)


class SignerError(ReasonedError):
    """The remote signer could not do what was asked. `reason` is one of REASONS; the page
    shows `message_id` ("signer.<reason>")."""

    area = "signer"
    reasons = REASONS


@dataclass(frozen=True)
class SignerCertificate:
    """One signing certificate of the citizen as the service reports it. `chain_der` holds
    the intermediates the service sent (untrusted: path building decides, pki.md §5), without
    the leaf. `serial` is the service's own spelling of the serial number (QĐ769 wants it back
    in `sign`); `credential_id` is the service's handle on the key (SmartCA credentialId,
    QĐ769 cert_id)."""

    leaf_der: bytes
    chain_der: tuple[bytes, ...]
    serial: str
    credential_id: str = ""


@dataclass(frozen=True)
class SignStatus:
    """How a signing transaction stands. `signature` is set only when `state` is
    "approved": the raw signature over the digest we sent (RSA PKCS#1 v1.5 or ECDSA DER)."""

    state: State
    signature: bytes | None = None
    detail: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class RemoteSigner(Protocol):
    """What both carriers implement. `name` is the carrier's id ("mobile_sim", "smartca")."""

    name: str

    def certificates(self, account: str) -> list[SignerCertificate]:
        """The account's usable signing certificates (at least one, else SignerError)."""
        ...

    def start(self, account: str, certificate: SignerCertificate, digest: bytes,
              display_text: str) -> str:
        """Ask the service to sign the SHA-256 `digest` with `certificate`'s key, showing
        `display_text` (the flow's display code) on the citizen's phone. Returns the service's
        transaction id, to pass to `status`."""
        ...

    def status(self, account: str, transaction_id: str) -> SignStatus:
        """Where the transaction stands now (one poll; never waits for the citizen)."""
        ...


def mask_user_id(user_id: str | None) -> str:
    """A service's user id is a phone number or an ID number: mask either (masking.py), so a
    log line can say whom a call was about without saying who."""
    value = (user_id or "").strip()
    digits = value.lstrip("+")
    looks_like_phone = value.startswith("+84") or (digits.startswith("84") and len(digits) == 11) \
        or (value.startswith("0") and len(value) == 10)
    if looks_like_phone:
        national = "0" + digits[2:] if digits.startswith("84") else value
        return mask_phone(national)
    return mask_id_number(value)
