"""SIM ký số through the common service-provider API of Quyết định 769/QĐ-BTTTT, which the
public CAs (Viettel-CA, VNPT-CA…) expose to services like ours (reference/pki.md §3).

    POST {base}/get_certificate               {sp_id, sp_password, user_id, transaction_id}
        → {status_code: 200, message, data: {user_certificates: [{cert_id, cert_data,
           chain_data[], serial_number, …}]}}      (some deployments send `data` as the list)
    POST {base}/sign                          {sp_id, sp_password, user_id, serial_number,
                                               transaction_id, time_stamp, transaction_desc,
                                               sign_files: [{data_to_be_signed (hex),
                                               doc_id, file_options: {file_type, sign_type:
                                               "hash"}}]}
        → {status_code: 200, message, data: {transaction_id, signed_files: null}}
    POST {base}/sign/{transaction_id}/status  {sp_id, sp_password}
        → {status_code: 200, message, data: {transaction_id, signatures: [{doc_id,
           signature_value (Base64), timestamp_signature}] | null}}

`user_id` is the citizen's CCCD (the NEAC text) or their phone number (its client's Javadoc
says "e.g. MSISDN"): both are passed through as given. `doc_id` is the flow's display code:
QĐ769 requires that the SP's page and the CA's phone prompt show it at the same time.

The signing is asynchronous: NEAC's flow has the CA push the result to the SP by a webhook,
whose format and authentication we could not read; we poll the status path of VNPT's SP769
edition of the same API instead (pki.md §4), which the flow calls while its page waits. The
status answer names no numeric state: a signature means approved, else the message says
WAITING…/REJECTED/EXPIRED/FAILED; an unrecognised message is read as still pending (the flow's
own deadline ends the wait). A synchronous `sign` answer (signed_files set) is not used: the
status poll returns the same signature.

Errors (NeacErrorResp): 401 our SP credentials refused, 403 certificate revoked, 400 (and
any other 4xx) the user or document is unknown, 5xx / timeout / not JSON → unavailable.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import requests

from idp.platform.signers import wire
from idp.platform.signers.port import (
    SignerCertificate,
    SignerError,
    SignStatus,
    State,
    mask_user_id,
)

log = logging.getLogger("idp.signers.mobile_sim")
PARTY = "SIM signing service"
VIETNAM = timezone(timedelta(hours=7))  # time_stamp is the citizen's local time (assessment)
# Message words of the status answer, most specific first ("…REJECTED" before "…CONFIRM").
_STATE_WORDS: tuple[tuple[str, State], ...] = (
    ("REJECT", "rejected"), ("EXPIRE", "expired"), ("FAIL", "failed"), ("ERROR", "failed"),
    ("CANCEL", "rejected"), ("WAIT", "pending"), ("PENDING", "pending"), ("CONFIRM", "pending"))
_HTTP_REASONS = {401: "refused_credentials", 403: "revoked"}


class MobileSimSigner:
    """The QĐ769 adapter. One instance per app (requests.Session is thread-safe enough for
    independent requests; no state is kept between calls)."""

    name = "mobile_sim"

    def __init__(self, base_url: str, sp_id: str, sp_password: str, timeout: float = 10.0,
                 file_type: str = "json", session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.sp_id, self.sp_password = sp_id, sp_password
        self.timeout = timeout
        self.file_type = file_type  # our challenge is UTF-8 JSON (pki.md §1)
        self.session = session or requests.Session()

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> MobileSimSigner:
        return cls(*wire.settings_of(settings, "mobile_sign_url", "mobile_sign_sp_id",
                                     "mobile_sign_sp_password", "SIM ký số"))

    # --- the port -------------------------------------------------------------------------

    def certificates(self, account: str) -> list[SignerCertificate]:
        body = self._post("/get_certificate", {"user_id": account.strip(),
                                               "transaction_id": uuid.uuid4().hex})
        data = body.get("data")
        listed = data.get("user_certificates") if isinstance(data, dict) else data
        if not isinstance(listed, list):
            raise SignerError("bad_response", f"{PARTY}: no user_certificates list")
        found = [self._certificate(item) for item in listed]
        log.info("mobile_sim certificates for %s: %d", mask_user_id(account), len(found))
        if not found:
            raise SignerError("not_registered", "no certificate for this subscriber")
        return found

    def start(self, account: str, certificate: SignerCertificate, digest: bytes,
              display_text: str) -> str:
        if len(digest) != 32:
            raise ValueError("a SHA-256 digest (32 bytes) is signed")
        request = {
            "user_id": account.strip(), "serial_number": certificate.serial,
            "transaction_id": uuid.uuid4().hex,
            "time_stamp": datetime.now(VIETNAM).strftime("%Y%m%d%H%M%S"),
            "transaction_desc": display_text,
            "sign_files": [{"data_to_be_signed": digest.hex(), "doc_id": display_text,
                            "file_options": {"file_type": self.file_type,
                                             "sign_type": "hash"}}]}
        body = self._post("/sign", request)
        transaction_id = str(wire.field(body.get("data"), "transaction_id", str, PARTY)).strip()
        if not transaction_id:
            raise SignerError("bad_response", f"{PARTY}: empty transaction_id")
        log.info("mobile_sim sign started for %s", mask_user_id(account))
        return transaction_id

    def status(self, account: str, transaction_id: str) -> SignStatus:
        path = f"/sign/{quote(transaction_id, safe='')}/status"
        try:
            body = self._post(path, {})
        except SignerError as exc:
            if exc.reason == "unknown_user":  # 4xx: the service knows no such transaction
                return SignStatus("failed", detail="transaction unknown to the service")
            raise
        data = body.get("data")
        signatures = data.get("signatures") if isinstance(data, dict) else None
        if signatures:
            if not isinstance(signatures, list) or not isinstance(signatures[0], dict):
                raise SignerError("bad_response", f"{PARTY}: signatures is not a list")
            value = wire.b64(signatures[0].get("signature_value"), "signature_value")
            return SignStatus("approved", signature=value)
        raw = body.get("message")
        message = raw if isinstance(raw, str) else ""
        words = message.upper()
        for word, state in _STATE_WORDS:
            if word in words:
                return SignStatus(state, detail=message)
        if "SUCCESS" in words:
            raise SignerError("bad_response", f"{PARTY}: success without a signature")
        return SignStatus("pending", detail=message)

    # --- the wire -------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = {"sp_id": self.sp_id, "sp_password": self.sp_password, **body}
        answer = wire.call(self.session, "POST", self.base_url + path, self.timeout, PARTY,
                           json=request)
        code = answer.status
        if 200 <= code < 300:
            reply = wire.ok_json(answer, PARTY)
            inner = reply.get("status_code", reply.get("code"))
            if inner == 200 or inner == "200":
                return reply
            if not isinstance(inner, int) or isinstance(inner, bool):
                raise SignerError("bad_response", f"{PARTY}: no status_code")
            code = inner
        if code >= 500:
            raise SignerError("unavailable", f"{PARTY} reported status {code}")
        raise SignerError(_HTTP_REASONS.get(code, "unknown_user"),
                          f"{PARTY} answered status {code}")

    def _certificate(self, item: Any) -> SignerCertificate:
        if not isinstance(item, dict):
            raise SignerError("bad_response", f"{PARTY}: a certificate entry is not an object")
        chain = item.get("chain_data") or []
        if not isinstance(chain, list):
            raise SignerError("bad_response", f"{PARTY}: chain_data is not a list")
        return wire.certificate(wire.b64(item.get("cert_data"), "cert_data"),
                                [wire.b64(der, "chain_data") for der in chain],
                                item.get("serial_number"), item.get("cert_id"), PARTY)
