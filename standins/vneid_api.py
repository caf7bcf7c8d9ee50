"""The VNeID stand-in's back-channel API: POST /token and GET /userinfo (vneid.md §9 items
5–7; in the OIDC mode with an ID token and OIDC claims), the Shape-A profile and logout pages
(`/api/idp/third-party/view-info|logout?token_id=`, item 8), and the envelope and ID-token
faults (item 9).
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, request

from standins import vneid_pages as pages
from standins.vneid_auth import issuer
from standins.vneid_crypto import ENVELOPE_FAULTS, envelope, load_public_key
from standins.vneid_state import ACCESS_LIFETIME, VneidStand

THROWAWAY: list[rsa.RSAPublicKey] = []  # an envelope fault without an RP key


def error(code: str, status: int, description: str = "") -> Any:
    body = {"error": code}
    if description:
        body["error_description"] = description
    return jsonify(body), status


def answer(stand: VneidStand, payload: dict[str, Any]) -> Any:
    """`payload` as JSON, or as the {data, key} envelope (encrypt_responses, or a fault)."""
    fault = stand["fault"]
    if not stand["encrypt_responses"] and fault not in ENVELOPE_FAULTS:
        return jsonify(payload)
    if stand["rp_public_key_pem"]:
        key = load_public_key(stand["rp_public_key_pem"])
    else:
        if not THROWAWAY:
            THROWAWAY.append(rsa.generate_private_key(65537, 2048).public_key())
        key = THROWAWAY[0]
    body = envelope(key, payload, fault if fault in ENVELOPE_FAULTS else "")
    return Response(body, 200, content_type="application/json")


def id_token(stand: VneidStand, record: dict[str, Any]) -> str:
    fault = stand["fault"]
    citizen = stand.citizen(record["pid"])
    assert citizen is not None
    now = int(stand.now())
    lifetime = stand["id_token_lifetime"]
    claims: dict[str, Any] = {
        "iss": issuer(stand), "aud": stand["client_id"], "sub": citizen.subject,
        "iat": now, "exp": now + lifetime,
        "auth_time": stand.sessions.get(record["sid"], {}).get("auth_time", now),
        "sid": record["sid"], "acr": str(citizen.level), "preferred_username": citizen.pid}
    if record["nonce"]:
        claims["nonce"] = record["nonce"]
    if fault == "wrong_issuer":
        claims["iss"] = claims["iss"] + "/wrong"
    elif fault == "wrong_aud":
        claims["aud"] = "someone-else"
    elif fault == "expired_id_token":
        claims["iat"], claims["exp"] = now - lifetime - 600, now - 600
    elif fault == "wrong_nonce":
        claims["nonce"] = "wrong-" + (record["nonce"] or secrets.token_urlsafe(8))
    key = stand.stray_key if fault == "unknown_kid" else stand.signing_key()
    return key.sign(claims, bad_signature=fault == "bad_id_token_signature")


def pkce_ok(challenge: str, verifier: str) -> bool:
    if not challenge:
        return True
    digest = hashlib.sha256(verifier.encode()).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return bool(verifier) and secrets.compare_digest(computed, challenge)


def install_api(app: Flask, stand: VneidStand) -> None:

    @app.post("/token")
    def token() -> Any:
        if request.mimetype != "application/x-www-form-urlencoded":
            return error("invalid_request", 415, "application/x-www-form-urlencoded only")
        form = request.form
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = request.authorization
        if stand["mode"] == "oidc" and auth is not None and auth.type == "basic" and \
                not secret:
            client_id, secret = auth.username or "", auth.password or ""
        allowed = stand["allowed_ips"]
        if client_id != stand["client_id"] or not secrets.compare_digest(
                secret.encode(), stand["client_secret"].encode()) or \
                (allowed and request.remote_addr not in allowed):
            return error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return error("unsupported_grant_type", 400)
        code = form.get("code", "")
        with stand.lock:
            record = stand.codes.get(code)
            if record is None:
                return error("invalid_grant", 400, "unknown code")
            if record["encrypted"]:
                expected = record["plain"] if stand["token_code"] == "decrypted" \
                    else record["encrypted"]
                if code != expected:
                    return error("invalid_grant", 400, f"the {stand['token_code']} code "
                                 "is expected")
                sent_key = form.get("encrypt_key")
                if sent_key is not None and sent_key != record["encrypt_key"]:
                    return error("invalid_grant", 400, "encrypt_key does not match")
            if record["used"]:
                for access in record["tokens"]:
                    stand.tokens.pop(access, None)
                return error("invalid_grant", 400, "code already used")
            record["used"] = True
            if stand.now() - record["issued"] > stand["code_lifetime"]:
                return error("invalid_grant", 400, "code expired")
            if record["client_id"] != client_id or \
                    record["redirect_uri"] != form.get("redirect_uri"):
                return error("invalid_grant", 400, "code issued to another redirect_uri")
            if not pkce_ok(record["code_challenge"], form.get("code_verifier", "")):
                return error("invalid_grant", 400, "PKCE verification failed")
            access = stand.issue_token(record)
            record["tokens"].append(access)
        payload: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                   "expires_in": ACCESS_LIFETIME, "scope": record["scope"]}
        if stand["mode"] == "oidc":
            payload["id_token"] = id_token(stand, record)
        return answer(stand, payload)

    @app.get("/userinfo")
    def userinfo() -> Any:
        scheme, _, access = request.headers.get("Authorization", "").partition(" ")
        grant = stand.token_grant(access.strip()) if scheme.lower() == "bearer" else None
        citizen = stand.citizen(grant["pid"]) if grant else None
        if citizen is None:
            body, status = error("invalid_token", 401)
            return body, status, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if stand["mode"] == "oidc":
            payload = {"sub": citizen.subject, "preferred_username": citizen.pid,
                       "name": citizen.full_name, "birthdate": citizen.birth_date,
                       **citizen.vneid_fields(stand["birth_date_format"])}
        else:
            payload = citizen.vneid_fields(stand["birth_date_format"])
        return answer(stand, payload)

    @app.get("/api/idp/third-party/view-info")
    def view_info() -> Any:
        grant = stand.token_grant(request.args.get("token_id", ""))
        citizen = stand.citizen(grant["pid"]) if grant else None
        if citizen is None:
            return pages.message("Phiên đăng nhập không hợp lệ",
                                 "Mã truy cập không hợp lệ hoặc đã hết hạn.", 401)
        return pages.profile(citizen)

    @app.get("/api/idp/third-party/logout")
    def third_party_logout() -> Any:
        with stand.lock:
            grant = stand.tokens.get(request.args.get("token_id", ""))
            if grant is not None:
                stand.end_session(grant["sid"])
        target = request.args.get("redirect_uri", "")
        if target and target == stand["post_logout_redirect_uri"]:
            return "", 302, {"Location": target}
        return pages.message("Đã đăng xuất", "Bạn đã đăng xuất khỏi tài khoản VNeID.")

