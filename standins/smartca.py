"""A stand-in for VNPT SmartCA (reference pki.md §4, VNPT's integration guide v1.1): the OAuth
login (standins/smartca_oauth.py) and the signing APIs, POST JSON with a Bearer token, each
answering the envelope `{code, codeDesc, message, content}`:

    /identityapi/userinfo/info      accType 0, uidPre, uid, email, phone
    /csc/credentials/list           the subscriber's credential ids
    /csc/credentials/info           key, cert (status VALID|REVOKED, serialNumber, subjectDN,
                                    issuerDN, certificates none|single|chain, validFrom/To)
    /csc/signature/signhash         datas [{name, hash (Base64 SHA-256)}] ≤ 50, refTranId
                                    required, description, notifyUrl → tranId (4000)
    /csc/credentials/gettraninfo    tranStatus 1 | 4000 | 4001 | 4002 | 4003 | 4004;
                                    documents[].sig only once 1 (SUCCESS)

Errors are HTTP 400 with the code: 30000 bad input, 60000 credential not found, 60001 not
yours, 62000 transaction not found, 62001 not yours, 65000 service pack used up (a subscriber
with `signatures_left` 0); a missing or expired token is 401. Signing with a revoked
credential creates a transaction that fails at once (4003 AUTHORIZE_KEY_FAILED).
`notifyUrl` is POSTed `{tranId, refTranId, status}` exactly once, when the transaction reaches
a final state; the attempt is listed at GET /_control/notifications.

Run: `python -m standins.smartca --port 8701 --data DIR --redirect-uri URL [...]`.
"""
from __future__ import annotations

import base64
import binascii
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from flask import Flask, jsonify, request

from standins import web
from standins.core import Subscriber, Transaction, b64, utc_stamp
from standins.smartca_oauth import Client, SmartCaStand, install_oauth

DEFAULT_CLIENT_ID = "idp-demo"
DEFAULT_CLIENT_SECRET = "smartca-demo-secret"
TRAN_STATUS = {"approved": (1, "SUCCESS"), "pending": (4000, "WAITING_FOR_SIGNER_CONFIRM"),
               "expired": (4001, "EXPIRED"), "rejected": (4002, "SIGNER_REJECTED")}
FAILED = {4003: "AUTHORIZE_KEY_FAILED", 4004: "SIGN_FAILED"}
CODE_DESC = {30000: "CLIENT_INPUT_INVALID", 60000: "CREDENTIAL_NOT_EXIST",
             60001: "CREDENTIAL_NOT_MATCH_IDENTITY", 62000: "SIGNATURE_TRANSACTION_NOT_FOUND",
             62001: "SIGNATURE_TRANSACTION_NOT_MATCH_IDENTITY",
             65000: "SERVICE_PACK_EXEED_OR_INVALID"}
MAX_HASHES = 50


class ApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def envelope(content: Any, message: str = "Success") -> Any:
    return jsonify({"code": 0, "codeDesc": "SUCCESS", "message": message, "content": content})


def tran_status(tx: Transaction) -> tuple[int, str]:
    if tx.state == "failed":
        code = tx.extra.get("fail_code", 4004)
        return code, FAILED.get(code, "SIGN_FAILED")
    return TRAN_STATUS[tx.state]


def create_app(data_dir: str | Path, *, client_id: str = DEFAULT_CLIENT_ID,
               client_secret: str = DEFAULT_CLIENT_SECRET,
               redirect_uris: tuple[str, ...] | list[str] = (), password_grant: bool = False,
               lifetime: float = 120.0) -> Flask:
    app = Flask("standins.smartca")
    stand = SmartCaStand(Path(data_dir), lifetime=lifetime, on_final=lambda tx: notify(tx))
    web.install(app, stand, "VNPT SmartCA")
    install_oauth(app, stand, Client(client_id, client_secret, tuple(redirect_uris),
                                     password_grant))

    def notify(tx: Transaction) -> None:
        """SmartCA calls notifyUrl once, server to server; the call is recorded first so a
        test can count attempts even when the receiver is down."""
        url = tx.extra.get("notify_url")
        if not url:
            return
        body = {"tranId": tx.id, "refTranId": tx.extra.get("ref_tran_id"),
                "status": tran_status(tx)[0]}
        record: dict[str, Any] = {"url": url, "body": body}
        with stand.lock:
            stand.notifications.append(record)

        def send() -> None:
            try:
                record["http_status"] = requests.post(url, json=body, timeout=5).status_code
            except requests.RequestException as exc:
                record["error"] = exc.__class__.__name__

        threading.Thread(target=send, daemon=True).start()

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Any:
        return jsonify({"code": exc.code, "codeDesc": CODE_DESC.get(exc.code, "ERROR"),
                        "message": exc.message, "content": None}), 400

    def caller() -> tuple[str, dict]:
        """The token's user and the JSON body; 401 without a good token."""
        user_id = stand.bearer_user()
        if user_id is None:
            raise _Unauthorized()
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(30000, "the body must be a JSON object")
        return user_id, body

    @app.errorhandler(_Unauthorized)
    def unauthorized(exc: Exception) -> Any:
        return jsonify({"error": "invalid_token"}), 401

    def credential(user_id: str, credential_id: Any) -> Subscriber:
        if not isinstance(credential_id, str) or not credential_id:
            raise ApiError(30000, "credentialId is required")
        matches = [s for s in stand.subscribers if s.credential_id == credential_id]
        if not matches:
            raise ApiError(60000, f"no_credential_match_id_{credential_id}")
        if matches[0].user_id != user_id:
            raise ApiError(60001, "Credential not match user")
        return matches[0]

    @app.post("/identityapi/userinfo/info")
    def userinfo() -> Any:
        user_id, _ = caller()
        who = next(s for s in stand.subscribers if s.user_id == user_id)
        return envelope({"accType": 0, "uidPre": _uid_prefix(user_id), "uid": user_id,
                         "email": "", "phone": who.phone})

    @app.post("/csc/credentials/list")
    def credentials_list() -> Any:
        user_id, _ = caller()
        return envelope([s.credential_id for s in stand.subscribers if s.user_id == user_id])

    @app.post("/csc/credentials/info")
    def credentials_info() -> Any:
        user_id, body = caller()
        sub = credential(user_id, body.get("credentialId"))
        kind = body.get("certificates", "none")
        if kind not in ("none", "single", "chain"):
            raise ApiError(30000, "certificates must be none, single or chain")
        ders = {"none": [], "single": [sub.cert_der],
                "chain": [sub.cert_der, *sub.chain_der]}[kind]
        status = "VALID" if sub.status == "valid" else "REVOKED"
        return envelope({
            "key": {"status": "ENABLED", "alg": [_key_alg(sub)],
                    "len": getattr(sub.key, "key_size", 0)},
            "cert": {"status": status, "serialNumber": sub.serial,
                     "subjectDN": sub.cert.subject.rfc4514_string(),
                     "issuerDN": sub.cert.issuer.rfc4514_string(),
                     "certificates": [b64(der) for der in ders],
                     "validFrom": utc_stamp(sub.cert.not_valid_before_utc),
                     "validTo": utc_stamp(sub.cert.not_valid_after_utc)},
            "authMode": "oauth2code", "scal": "SCAL2", "multisign": 1, "status": status})

    @app.post("/csc/signature/signhash")
    def signhash() -> Any:
        user_id, body = caller()
        sub = credential(user_id, body.get("credentialId"))
        ref, notify_url = body.get("refTranId"), body.get("notifyUrl")
        if not isinstance(ref, str) or not ref:
            raise ApiError(30000, "refTranId is required")
        if notify_url is not None and not (isinstance(notify_url, str) and
                                           notify_url.startswith(("http://", "https://"))):
            raise ApiError(30000, "notifyUrl must be an http(s) URL")
        items = _hashes(body.get("datas"))
        with stand.lock:
            if sub.signatures_left is not None:
                if sub.signatures_left <= 0:
                    raise ApiError(65000, "Service pack exceeded or invalid")
                sub.signatures_left -= 1
        description = body.get("description")
        tx = stand.add(sub, items, str(description) if description else items[0][0],
                       ref_tran_id=ref, notify_url=notify_url or "",
                       credential_id=sub.credential_id)
        if sub.status != "valid":
            tx.extra["fail_code"] = 4003
            stand.finish(tx.id, "failed", "credential revoked")
        return envelope({"tranId": tx.id}, "Chờ người dùng xác nhận")

    @app.post("/csc/credentials/gettraninfo")
    def gettraninfo() -> Any:
        user_id, body = caller()
        tran_id = body.get("tranId")
        if not isinstance(tran_id, str) or not tran_id:
            raise ApiError(30000, "tranId is required")
        with stand.lock:
            tx = stand.transactions.get(tran_id)
        if tx is None:
            raise ApiError(62000, "Transaction not found")
        if tx.subscriber.user_id != user_id:
            raise ApiError(62001, "Transaction not match identity")
        code, desc = tran_status(tx)
        signed = tx.state == "approved"
        documents = [{"name": name, "type": "hash", "size": f"{len(digest)}B",
                      "data": b64(digest), "hash": b64(digest),
                      "sig": b64(tx.signatures[i]) if signed else None,
                      "dataSigned": None, "url": None}
                     for i, (name, digest) in enumerate(tx.items)]
        return envelope({"refTranId": tx.extra["ref_tran_id"], "tranId": tx.id,
                         "sub": user_id, "credentialId": tx.extra["credential_id"],
                         "tranType": 3, "tranTypeDesc": "SIGNHASH", "tranStatus": code,
                         "tranStatusDesc": desc, "documents": documents,
                         "reqTime": datetime.fromtimestamp(tx.created, UTC)
                         .isoformat().replace("+00:00", "Z")})

    @app.get("/_control/notifications")
    def notifications() -> Any:
        with stand.lock:
            return jsonify(list(stand.notifications))

    return app


class _Unauthorized(Exception):
    pass


def _hashes(datas: Any) -> list[tuple[str, bytes]]:
    if not isinstance(datas, list) or not 1 <= len(datas) <= MAX_HASHES:
        raise ApiError(30000, f"datas must list 1 to {MAX_HASHES} hashes")
    items = []
    for entry in datas:
        name = entry.get("name") if isinstance(entry, dict) else None
        try:
            digest = base64.b64decode(entry.get("hash") or "", validate=True) \
                if isinstance(entry, dict) and isinstance(entry.get("hash"), str) else b""
        except (binascii.Error, ValueError):
            digest = b""
        if not isinstance(name, str) or not name or len(digest) != 32:
            raise ApiError(30000, "each data needs a name and a Base64 SHA-256 hash")
        items.append((name, digest))
    return items


def _uid_prefix(user_id: str) -> str:
    return {12: "CCCD", 9: "CMND"}.get(len(user_id), "") if user_id.isdigit() else ""


def _key_alg(sub: Subscriber) -> str:
    return "1.2.840.113549.1.1.1" if hasattr(sub.key, "key_size") and not hasattr(
        sub.key, "curve") else "1.2.840.10045.2.1"


def main(argv: list[str] | None = None) -> None:
    parser = web.arguments("VNPT SmartCA stand-in")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--redirect-uri", action="append", default=[],
                        help="a registered redirect URI of the IdP (repeatable; required)")
    parser.add_argument("--password-grant", action="store_true")
    args = parser.parse_args(argv)
    web.serve(create_app(args.data, client_id=args.client_id,
                         client_secret=args.client_secret, redirect_uris=args.redirect_uri,
                         password_grant=args.password_grant, lifetime=args.lifetime),
              args.host, args.port)


if __name__ == "__main__":
    main()
