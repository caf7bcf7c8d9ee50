"""A stand-in for a CA's SIM ký số service behind the QĐ769 service-provider API (reference
pki.md §3; the status poll in the shape of VNPT's SP769 edition, §4):

    POST /get_certificate             the subscriber's valid certificates (cert, chain, serial)
    POST /sign                        a hash signing request → transaction id (asynchronous)
    GET|POST /sign/<id>/status        WAITING_FOR_SIGNER_CONFIRM | SUCCESS (+ signatures) |
                                      SIGNER_REJECTED | EXPIRED | SIGN_FAILED

Every call carries `sp_id` and `sp_password` in its JSON body (a GET status has none: 401).
`user_id` is the subscriber's CCCD or phone number (any spelling). Errors as NEAC's client
reads them, `{"code", "message"}`: 401 wrong SP credentials, 403 the certificate is revoked,
400 unknown user, bad document or unknown transaction. A request the "phone" does not answer
within its lifetime (default 120 s) expires. The signature is real: the subscriber's test key
signs the hex digest (RSA PKCS#1 v1.5 or ECDSA), so the IdP's verification is real too.

NEAC's webhook (the CA pushing the result to the SP) is not offered: its format is unknown,
and the IdP polls. Run: `python -m standins.mobile_sim --port 8702 --data DIR`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request

from standins import web
from standins.core import Stand, Subscriber, b64, utc_stamp

DEFAULT_SP_ID = "DVCQG"
DEFAULT_SP_PASSWORD = "demo-sp-password"
STATUS_MESSAGES = {"pending": "WAITING_FOR_SIGNER_CONFIRM", "approved": "SUCCESS",
                   "rejected": "SIGNER_REJECTED", "expired": "EXPIRED", "failed": "SIGN_FAILED"}
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_TIME_STAMP = re.compile(r"^\d{14}$")


class Refused(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def create_app(data_dir: str | Path, *, sp_id: str = DEFAULT_SP_ID,
               sp_password: str = DEFAULT_SP_PASSWORD, lifetime: float = 120.0) -> Flask:
    app = Flask("standins.mobile_sim")
    stand = Stand(Path(data_dir), lifetime=lifetime)
    web.install(app, stand, "SIM ký số")

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> Any:
        return jsonify({"code": exc.code, "message": exc.message}), exc.code

    def body() -> dict:
        """The JSON body, after the SP credentials check (401 before anything else)."""
        data = request.get_json(silent=True)
        data = data if isinstance(data, dict) else {}
        if data.get("sp_id") != sp_id or data.get("sp_password") != sp_password:
            raise Refused(401, "Invalid sp_id or sp_password")
        return data

    def subscriber_certs(data: dict) -> list[Subscriber]:
        """The certificates of `user_id` (optionally the one `serial_number`): 400 unknown,
        403 when every one of them is revoked."""
        user_id = data.get("user_id")
        if not isinstance(user_id, str) or not user_id.strip():
            raise Refused(400, "user_id is required")
        certs = stand.find(user_id)
        serial = data.get("serial_number")
        if serial:
            certs = [s for s in certs if s.serial.lower() == str(serial).strip().lower()]
        if not certs:
            raise Refused(400, "No subscriber or certificate for this user_id")
        valid = [s for s in certs if s.status == "valid"]
        if not valid:
            raise Refused(403, "Certificate revoked")
        return valid

    @app.post("/get_certificate")
    def get_certificate() -> Any:
        data = body()
        certs = subscriber_certs(data)
        return jsonify({"status_code": 200, "message": "Lay chung thu thanh cong", "data": {
            "user_certificates": [{
                "cert_id": s.credential_id, "cert_data": b64(s.cert_der),
                "chain_data": [b64(der) for der in s.chain_der],
                "serial_number": s.serial, "transaction_id": data.get("transaction_id"),
                "cert_subject": s.cert.subject.rfc4514_string(),
                "cert_valid_from": utc_stamp(s.cert.not_valid_before_utc),
                "cert_valid_to": utc_stamp(s.cert.not_valid_after_utc)} for s in certs]}})

    @app.post("/sign")
    def sign() -> Any:
        data = body()
        certs = subscriber_certs(data)
        if len(certs) > 1:
            raise Refused(400, "serial_number is required: the subscriber has several")
        for name in ("transaction_id", "time_stamp"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise Refused(400, f"{name} is required")
        if not _TIME_STAMP.match(data["time_stamp"]):
            raise Refused(400, "time_stamp must be YYYYMMddHHmmss")
        items = [_hash_item(f) for f in _files(data.get("sign_files"))]
        tx = stand.add(certs[0], items, display=items[0][0],
                       sp_transaction_id=data["transaction_id"],
                       description=str(data.get("transaction_desc") or ""))
        return jsonify({"status_code": 200, "message": "Cho nguoi dung xac nhan",
                        "data": {"transaction_id": tx.id, "signed_files": None}})

    @app.route("/sign/<tx_id>/status", methods=["GET", "POST"])
    def status(tx_id: str) -> Any:
        body()
        with stand.lock:
            tx = stand.transactions.get(tx_id)
        if tx is None:
            raise Refused(400, "Transaction not found")
        signatures = None
        if tx.state == "approved":
            signatures = [{"doc_id": label, "signature_value": b64(sig),
                           "timestamp_signature": utc_stamp(tx.finished or 0)}
                          for (label, _), sig in zip(tx.items, tx.signatures)]
        return jsonify({"status_code": 200, "message": STATUS_MESSAGES[tx.state],
                        "data": {"transaction_id": tx.id, "signatures": signatures}})

    return app


def _files(value: Any) -> list[dict]:
    if not isinstance(value, list) or not value or not all(isinstance(f, dict) for f in value):
        raise Refused(400, "sign_files must be a non-empty list")
    return value


def _hash_item(item: dict) -> tuple[str, bytes]:
    """(doc_id, digest) of one sign_files entry: a SHA-256 digest in hex, sign_type "hash"
    (in file_options as NEAC writes it, or beside the entry as SP769 samples do)."""
    options = item.get("file_options") if isinstance(item.get("file_options"), dict) else item
    if options.get("sign_type") != "hash":
        raise Refused(400, "Only sign_type hash is supported")
    doc_id, data = item.get("doc_id"), item.get("data_to_be_signed")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise Refused(400, "doc_id is required")
    if not isinstance(data, str) or not _HEX_SHA256.match(data):
        raise Refused(400, "data_to_be_signed must be a SHA-256 digest in hex")
    return doc_id, bytes.fromhex(data)


def main(argv: list[str] | None = None) -> None:
    parser = web.arguments("SIM ký số stand-in (QĐ769 service-provider API)")
    parser.add_argument("--sp-id", default=DEFAULT_SP_ID)
    parser.add_argument("--sp-password", default=DEFAULT_SP_PASSWORD)
    args = parser.parse_args(argv)
    web.serve(create_app(args.data, sp_id=args.sp_id, sp_password=args.sp_password,
                         lifetime=args.lifetime), args.host, args.port)


if __name__ == "__main__":
    main()
