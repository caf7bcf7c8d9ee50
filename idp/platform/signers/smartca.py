"""VNPT SmartCA: the citizen's key lives in VNPT's HSM; each signature is approved in the
SmartCA app (reference/pki.md §4, from VNPT's integration guide v1.1, 2024).

SmartCA acts for a citizen only with that citizen's OAuth token, so a sign-in has two legs:

1. Authorization code: the citizen's browser goes to `authorize_url(redirect_uri, state)`,
   logs in at SmartCA and comes back with `?code&state`; the IdP checks `state` and calls
   `exchange_code` within 15 s (SmartCA's code lifetime) for an access token (≈1 h; a
   refresh token for 3 months, `refresh`). Client authentication: client_id and
   client_secret in the form, as VNPT's guide shows.
2. Signing with the token as `account`: `/csc/credentials/list` and `/csc/credentials/info`
   (`certificates: chain`) give the certificate; `/csc/signature/signhash` (the SHA-256
   digest in Base64, `description` = the display code, our `refTranId`, `notifyUrl` when
   configured: SmartCA calls it once, server to server) gives a `tranId`;
   `/csc/credentials/gettraninfo` reports `tranStatus` — 1 SUCCESS (then `documents[].sig`),
   4000 waiting, 4001 expired, 4002 rejected, 4003 key authorisation failed, 4004 sign failed.
   `/identityapi/userinfo/info` says whose account it is (`uidPre`, `uid`, `phone`).

APIs are POST JSON with a Bearer token and answer `{code, codeDesc, message, content}`,
errors with HTTP 400: 60000/60001 (credential not found / not yours) and 65000 (service pack
exhausted) → "not_registered"; 62000/62001 (transaction not found / not yours) → the
transaction is "failed"; 30000 (our input refused) → "bad_response"; 50000 → "unavailable".
A 401/403 on an API means the token is no longer good → "invalid_grant" (log in at SmartCA
again). The token endpoint's `invalid_grant` (code expired or reused, wrong password) →
"invalid_grant"; `invalid_client`/`invalid_scope` → "refused_credentials".
"""
from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode

import requests

from idp.platform.signers import wire
from idp.platform.signers.port import (
    SignerCertificate,
    SignerError,
    SignStatus,
    State,
)

log = logging.getLogger("idp.signers.smartca")
PARTY = "SmartCA"
SCOPE = "sign offline_access"
_TRAN_STATES: dict[int, State] = {1: "approved", 4000: "pending", 4001: "expired",
                                  4002: "rejected", 4003: "failed", 4004: "failed"}
_CODE_REASONS = {60000: "not_registered", 60001: "not_registered", 65000: "not_registered",
                 30000: "bad_response", 50000: "unavailable"}
_TRANSACTION_UNKNOWN = (62000, 62001)


class SmartCaTokens(NamedTuple):
    """`/auth/token`'s answer: a JWT access token (about an hour), a refresh token (3 months,
    unused: every sign-in logs in at SmartCA again)."""

    access_token: str
    refresh_token: str
    expires_in: int  # seconds
    scope: str


@dataclass(frozen=True)
class SmartCaUser:
    """`/identityapi/userinfo/info`: account type (0 individual, 1 business, 2 individual in
    a business, 3 one-time CA), the ID document's kind (CCCD, CMND…) and number."""

    acc_type: int | None
    uid_prefix: str
    uid: str
    phone: str
    email: str


class SmartCaSigner:
    name = "smartca"

    def __init__(self, base_url: str, client_id: str, client_secret: str,
                 timeout: float = 10.0, notify_url: str = "",
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.timeout = timeout
        self.notify_url = notify_url
        self.session = session or requests.Session()

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> SmartCaSigner:
        return cls(*wire.settings_of(settings, "smartca_url", "smartca_client_id",
                                     "smartca_client_secret", "VNPT SmartCA"),
                   settings.get("smartca_notify_url") or "")

    # --- leg 1: the citizen authorises us -------------------------------------------------

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where to send the citizen's browser (GET; SmartCA shows its login page)."""
        query = {"response_type": "code", "client_id": self.client_id,
                 "redirect_uri": redirect_uri, "state": state, "scope": SCOPE}
        return f"{self.base_url}/auth/authorize?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str) -> SmartCaTokens:
        return self._token({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": redirect_uri})

    def refresh(self, refresh_token: str) -> SmartCaTokens:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token,
                            "scope": SCOPE})

    def userinfo(self, access_token: str) -> SmartCaUser:
        content = self._api("/identityapi/userinfo/info", access_token, {})
        if not isinstance(content, dict):
            raise SignerError("bad_response", f"{PARTY}: userinfo content is not an object")
        acc_type = content.get("accType")
        text = {key: _text(content, key) for key in ("uidPre", "uid", "phone", "email")}
        if not text["uid"]:
            raise SignerError("bad_response", f"{PARTY}: userinfo without uid")
        return SmartCaUser(acc_type if isinstance(acc_type, int) else None, text["uidPre"],
                           text["uid"], text["phone"], text["email"])

    # --- leg 2: the port ------------------------------------------------------------------

    def certificates(self, account: str) -> list[SignerCertificate]:
        ids = self._api("/csc/credentials/list", account, {})
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise SignerError("bad_response", f"{PARTY}: credentials list is not a list of ids")
        found, revoked = [], 0
        for credential_id in ids:
            info = self._api("/csc/credentials/info", account,
                             {"credentialId": credential_id, "certificates": "chain",
                              "certInfo": True, "authInfo": True})
            cert = wire.field(info, "cert", dict, PARTY)
            if str(cert.get("status", "")).upper() != "VALID":
                revoked += str(cert.get("status", "")).upper() == "REVOKED"
                continue
            ders = [wire.b64(text, "certificates") for text in
                    wire.field(cert, "certificates", list, PARTY)]
            if not ders:
                raise SignerError("bad_response", f"{PARTY}: credential without certificate")
            found.append(wire.certificate(ders[0], ders[1:], cert.get("serialNumber"),
                                          credential_id, PARTY))
        log.info("smartca certificates: %d usable of %d", len(found), len(ids))
        if not found:
            raise SignerError("revoked" if revoked else "not_registered",
                              "no valid SmartCA credential")
        return found

    def start(self, account: str, certificate: SignerCertificate, digest: bytes,
              display_text: str) -> str:
        if len(digest) != 32:
            raise ValueError("a SHA-256 digest (32 bytes) is signed")
        request: dict[str, Any] = {
            "credentialId": certificate.credential_id, "refTranId": uuid.uuid4().hex,
            "description": display_text,
            "datas": [{"name": display_text, "hash": base64.b64encode(digest).decode()}]}
        if self.notify_url:
            request["notifyUrl"] = self.notify_url
        content = self._api("/csc/signature/signhash", account, request)
        transaction_id = str(wire.field(content, "tranId", str, PARTY)).strip()
        if not transaction_id:
            raise SignerError("bad_response", f"{PARTY}: empty tranId")
        log.info("smartca signhash started tranId=%s", transaction_id)
        return transaction_id

    def status(self, account: str, transaction_id: str) -> SignStatus:
        try:
            content = self._api("/csc/credentials/gettraninfo", account,
                                {"tranId": transaction_id}, transaction=True)
        except _UnknownTransaction as exc:
            return SignStatus("failed", detail=f"transaction unknown to SmartCA ({exc})")
        code = wire.field(content, "tranStatus", int, PARTY)
        if code not in _TRAN_STATES:
            raise SignerError("bad_response", f"{PARTY}: tranStatus {code}")
        detail = _text(content, "tranStatusDesc")
        if _TRAN_STATES[code] != "approved":
            return SignStatus(_TRAN_STATES[code], detail=detail)
        documents = wire.field(content, "documents", list, PARTY)
        if not documents or not isinstance(documents[0], dict):
            raise SignerError("bad_response", f"{PARTY}: SUCCESS without documents")
        return SignStatus("approved", signature=wire.b64(documents[0].get("sig"), "sig"),
                          detail=detail)

    # --- the wire -------------------------------------------------------------------------

    def _token(self, form: dict[str, str]) -> SmartCaTokens:
        form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        answer = wire.call(self.session, "POST", self.base_url + "/auth/token", self.timeout,
                           PARTY, data=form)
        if answer.status != 200:
            error = answer.body.get("error") if isinstance(answer.body, dict) else None
            if error == "invalid_grant":
                raise SignerError("invalid_grant", f"{PARTY} token: invalid_grant")
            if error in ("invalid_client", "invalid_scope", "unauthorized_client") \
                    or answer.status == 401:
                raise SignerError("refused_credentials", f"{PARTY} token: {error}")
            raise SignerError("bad_response", f"{PARTY} token: HTTP {answer.status}")
        body = wire.ok_json(answer, PARTY)
        access = wire.field(body, "access_token", str, PARTY)
        expires = body.get("expires_in", 3600)
        try:
            expires = int(expires)
        except (TypeError, ValueError):
            raise SignerError("bad_response", f"{PARTY} token: expires_in") from None
        return SmartCaTokens(access, _text(body, "refresh_token"), expires, _text(body, "scope"))

    def _api(self, path: str, access_token: str, body: dict[str, Any],
             transaction: bool = False) -> Any:
        """POST one API call; the envelope's `content` on success (code 0, or 1 as the
        guide's sign answers say)."""
        answer = wire.call(self.session, "POST", self.base_url + path, self.timeout, PARTY,
                           json=body, headers={"Authorization": f"Bearer {access_token}"})
        if answer.status in (401, 403):
            raise SignerError("invalid_grant", f"{PARTY} refused the access token")
        if answer.status not in (200, 400) or not isinstance(answer.body, dict):
            if 200 <= answer.status < 300:
                wire.ok_json(answer, PARTY)  # raises the right reason for a non-object body
            raise SignerError("bad_response", f"{PARTY} {path}: HTTP {answer.status}")
        code = wire.field(answer.body, "code", int, PARTY)
        if code in (0, 1) and answer.status == 200:
            return answer.body.get("content")
        if transaction and code in _TRANSACTION_UNKNOWN:
            raise _UnknownTransaction(code)
        log.info("smartca %s answered code %s", path, code)
        raise SignerError(_CODE_REASONS.get(code, "bad_response"), f"{PARTY} {path}: {code}")


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


class _UnknownTransaction(Exception):
    """gettraninfo's 62000/62001: SmartCA does not know this transaction as ours."""
