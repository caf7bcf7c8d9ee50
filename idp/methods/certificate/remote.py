"""What the two remote carriers (SIM ký số, VNPT SmartCA) share as sign-in methods: the key
is not on the citizen's computer but with a service (the SIM, VNPT's HSM) that signs the
challenge's SHA-256 after the citizen approves on the phone (reference/pki.md §3, §4).

Why a separate base: the browser takes no part in the signature, so nothing it posts may
stand for one. The method talks to the service itself (idp/platform/signers/, `signer()`)
and keeps what the service answered server-side, in the ephemeral store under the flow's id
(`remote-signing:<flow_id>`, living as long as the challenge):
- `send` picks the certificate and starts the signing of the flow's challenge;
- `poll` asks how the request stands, once; an approval's signature joins the record;
- `proof_of` verifies the *completed* request from that record alone — the certificate and
  chain the service listed, the signature `status` returned, the challenge `send` signed —
  and takes the record, so it verifies once. Its `answer` argument is ignored: a browser
  (or a flow that passes browser fields, as a registration step might) only ever says
  "check now"; with no completed request recorded the answer is refused.

`pick` chooses the certificate before the phone rings: the first the service lists that
passes the validation the proof will apply (path, validity, key usage, revocation, fail
closed), so a citizen is never asked to approve a signature that cannot sign them in;
certificates the service itself reports revoked never reach it (the adapters drop them, or
the service refuses: QĐ769's 403). Every service failure is a Refusal (`signer_refusal`).
"""
from __future__ import annotations

import base64
import binascii
import logging
from typing import Any, ClassVar, cast

from flask import current_app

from idp.methods.base import Factor
from idp.methods.certificate import proof
from idp.methods.certificate.challenge import Challenge
from idp.methods.certificate.method import CertificateMethod
from idp.methods.certificate.proof import Proven
from idp.methods.refusal import Refusal
from idp.platform import signers
from idp.platform.db import now
from idp.platform.messages import msg
from idp.platform.pki import validation
from idp.platform.pki.validation import CertificateRefused
from idp.platform.signers.port import RemoteSigner, SignerCertificate, SignerError
from idp.platform.store import EphemeralStore

log = logging.getLogger("idp.certificate")
ACCOUNT_FIELD = "signer_account"  # the form field a typed_account carrier reads (SIM ký số)
RETRY_SECONDS = 30  # Retry-After when the service cannot be reached
STATES = ("pending", "approved", "rejected", "expired", "failed")


def _store() -> EphemeralStore:
    return cast(EphemeralStore, current_app.extensions["idp.store"])


def _key(flow_id: str) -> str:
    return "remote-signing:" + flow_id


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def signer_refusal(exc: SignerError) -> Refusal:
    """The Refusal for a service's failure (message `signer.<reason>`): 503 with a wait when
    it could not be reached (waiting helps), 502 when it answered nonsense or refused our own
    credentials (the operator's alarm), 400 for what the citizen can act on (unknown
    subscriber, no usable certificate, revoked, SmartCA login expired)."""
    if exc.reason == "unavailable":
        return Refusal(msg(exc.message_id), 503, RETRY_SECONDS)
    if exc.reason in ("bad_response", "refused_credentials"):
        return Refusal(msg(exc.message_id), 502)
    return Refusal(msg(exc.message_id))


class RemoteCertificateMethod(CertificateMethod, id="remote", amr=(), factor=Factor.FIRST,
                              level="LoA3"):
    """A remote carrier: `signer_name` is its adapter's name (idp/platform/signers);
    `typed_account` says the citizen types whom to ask (SIM: a phone or ID number) rather
    than logging in at the service first (SmartCA's OAuth)."""

    signer_name: ClassVar[str] = ""
    typed_account: ClassVar[bool] = False

    def available(self) -> bool:
        """Trust anchors configured (method.py) and this carrier's service configured."""
        return super().available() and signers.signer(self.signer_name) is not None

    def signer(self) -> RemoteSigner:
        found = signers.signer(self.signer_name)
        if found is None:
            raise Refusal(msg("certificate.unavailable"))
        return found

    def account(self, text: str) -> str:
        """The service's user id for what the citizen typed (typed_account carriers)."""
        raise Refusal(msg("certificate.unavailable"))

    def send(self, flow_id: str, account: str, issued: Challenge) -> None:
        """Ask the service to sign `issued` (the flow's challenge) for `account`, showing
        its display code on the phone. Raises Refusal."""
        try:
            service = self.signer()
            chosen = self.pick(service.certificates(account))
            transaction = service.start(account, chosen, issued.digest,
                                        display_text=issued.display_code)
        except SignerError as exc:
            raise signer_refusal(exc) from None
        record = {"method": self.id, "account": account, "transaction": transaction,
                  "tx_id": issued.tx_id, "expires_at": issued.expires_at,
                  "certificate": _b64(chosen.leaf_der),
                  "chain": [_b64(der) for der in chosen.chain_der]}
        _store().put(_key(flow_id), record, max(1.0, issued.expires_at - now()))

    def poll(self, flow_id: str) -> str:
        """How the flow's request stands: one of STATES, or "gone" (none recorded: never
        sent, expired, or already verified). Raises Refusal when the service fails."""
        record = _store().get(_key(flow_id))
        if record is None or record.get("method") != self.id:
            return "gone"
        if record.get("signature"):
            return "approved"
        try:
            status = self.signer().status(str(record["account"]), str(record["transaction"]))
        except SignerError as exc:
            raise signer_refusal(exc) from None
        if status.state == "approved":
            if status.signature is None:  # the adapters never say approved without one
                raise signer_refusal(SignerError("bad_response", "approved, no signature"))
            record["signature"] = _b64(status.signature)
            _store().put(_key(flow_id), record,
                         max(1.0, float(record["expires_at"]) - now()))
        return status.state

    def forget(self, flow_id: str) -> None:
        """Drop the flow's request (cancelled, ended): a late approval finds nothing."""
        _store().delete(_key(flow_id))

    def pick(self, found: list[SignerCertificate]) -> SignerCertificate:
        """The first listed certificate that would pass the proof's validation; the first
        one's refusal when none does (503 with a wait when its status is unknown)."""
        first: CertificateRefused | None = None
        for certificate in found:
            try:
                validation.validate(certificate.leaf_der, list(certificate.chain_der))
                return certificate
            except CertificateRefused as exc:
                log.info("remote certificate not usable: %s", exc.reason)
                first = first or exc
        if first is None:
            raise Refusal(msg("signer.not_registered"))
        if first.reason == "revocation_unavailable":
            raise Refusal(msg(first.message_id), 503, proof.RETRY_SECONDS)
        raise Refusal(msg(first.message_id))

    def proof_of(self, flow_id: str, answer: dict[str, Any]) -> Proven:
        """The flow's completed request, verified once (module docstring); `answer` is not
        read."""
        found = _store().get(_key(flow_id))
        if found is None or found.get("method") != self.id or not found.get("signature"):
            raise Refusal(msg("certificate.expired_or_used"))  # a pending request stays
        record = _store().take(_key(flow_id))  # of two concurrent checks, one goes on
        if record is None or not record.get("signature"):
            raise Refusal(msg("certificate.expired_or_used"))
        try:
            leaf = base64.b64decode(str(record["certificate"]), validate=True)
            chain = tuple(base64.b64decode(str(der), validate=True)
                          for der in record.get("chain") or [])
            signed = base64.b64decode(str(record["signature"]), validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(msg("certificate.signature_invalid")) from None
        return proof.by_digest(flow_id, str(record["tx_id"]), leaf, chain, signed)
