"""The VNeID stand-in's OpenID side (mode "oidc", Shape B–like): discovery, JWKS, the end-
session endpoint /logout and the back-channel logout sender (OpenID Back-Channel Logout 1.0).
"""
from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask, jsonify, request

from standins import vneid_pages as pages
from standins.vneid_auth import issuer
from standins.vneid_state import VneidStand

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME = 120


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_claims(stand: VneidStand, token: str) -> dict[str, Any] | None:
    """The claims of an ID token this stand-in signed (expired or not), else None."""
    try:
        head, body, signature = token.split(".")
        header = json.loads(_unb64url(head))
        with stand.lock:
            keys = [*stand.keys, stand.stray_key]
        key = next(k for k in keys if k.kid == header.get("kid"))
        key.private.public_key().verify(_unb64url(signature), f"{head}.{body}".encode(),
                                        padding.PKCS1v15(), hashes.SHA256())
        claims = json.loads(_unb64url(body))
        return claims if isinstance(claims, dict) else None
    except Exception:  # noqa: BLE001 — any malformed hint is simply not a hint
        return None


def logout_token(stand: VneidStand, sub: str, sid: str) -> str:
    fault = stand["logout_token_fault"]
    now = int(stand.now())
    claims: dict[str, Any] = {
        "iss": issuer(stand), "aud": stand["client_id"], "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME, "jti": secrets.token_urlsafe(16), "sub": sub,
        "events": {BACKCHANNEL_EVENT: {}}}
    if sid:
        claims["sid"] = sid
    if fault == "wrong_aud":
        claims["aud"] = "someone-else"
    elif fault == "with_nonce":
        claims["nonce"] = secrets.token_urlsafe(8)
    elif fault == "no_events":
        del claims["events"]
    return stand.signing_key().sign(claims, bad_signature=fault == "bad_signature")


def send_backchannel(stand: VneidStand, sub: str, sid: str) -> dict[str, Any]:
    """POST logout_token to the RP's back-channel URI; what happened, for /_control/."""
    uri = stand["backchannel_logout_uri"]
    token = logout_token(stand, sub, sid)
    outcome: dict[str, Any] = {"uri": uri, "sid": sid, "logout_token": token}
    try:
        response = requests.post(uri, data={"logout_token": token}, timeout=5,
                                 allow_redirects=False)
        outcome["status"] = response.status_code
    except requests.RequestException as exc:
        outcome["status"], outcome["error"] = 0, type(exc).__name__
    with stand.lock:
        stand.backchannel.append(outcome)
    return outcome


def install_oidc(app: Flask, stand: VneidStand) -> None:

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        base = issuer(stand)
        here = request.host_url.rstrip("/")
        return jsonify({
            "issuer": base, "authorization_endpoint": f"{here}/authorize",
            "token_endpoint": f"{here}/token", "userinfo_endpoint": f"{here}/userinfo",
            "jwks_uri": f"{here}/jwks", "end_session_endpoint": f"{here}/logout",
            "response_types_supported": ["code"], "grant_types_supported":
                ["authorization_code"], "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "profile"],
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "authorization_response_iss_parameter_supported": True,
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["sub", "iss", "aud", "sid", "acr", "auth_time", "nonce",
                                 "preferred_username", "name", "birthdate"]})

    @app.get("/jwks")
    def jwks() -> Any:
        with stand.lock:
            keys = [k.jwk() for k in stand.keys]
        return jsonify({"keys": keys})

    @app.get("/logout")
    def end_session() -> Any:
        args = request.args
        claims = verified_claims(stand, args.get("id_token_hint", ""))
        if claims and claims.get("aud") == stand["client_id"]:
            sid = str(claims.get("sid", ""))
            with stand.lock:
                known = sid in stand.sessions
                stand.end_session(sid)
            if known and stand["backchannel_logout_uri"]:
                send_backchannel(stand, str(claims.get("sub", "")), sid)
        target = args.get("post_logout_redirect_uri", "")
        if target and target == stand["post_logout_redirect_uri"]:
            params = [("state", args["state"])] if "state" in args else []
            return pages.redirect_to(target, params) if params else \
                ("", 302, {"Location": target})
        return pages.message("Đã đăng xuất", "Bạn đã đăng xuất khỏi tài khoản VNeID.")


def backchannel_from_control(stand: VneidStand, who: dict[str, Any]) -> Any:
    """POST /_control/backchannel-logout {"citizenPid"} or {"sid"}: end the session(s) and
    tell the RP; answers {"status": the RP's last HTTP status, "sent": [...]}."""
    if not stand["backchannel_logout_uri"]:
        return jsonify({"error": "no backchannel_logout_uri registered"}), 409
    with stand.lock:
        if who.get("sid"):
            session = stand.sessions.get(str(who["sid"]))
            if session is None:
                return jsonify({"error": "no such session"}), 404
            targets = [(session["pid"], str(who["sid"]))]
        elif who.get("citizenPid"):
            pid = str(who["citizenPid"])
            if stand.citizen(pid) is None:
                return jsonify({"error": "no such citizen"}), 404
            targets = [(pid, sid) for sid, s in stand.sessions.items() if s["pid"] == pid] \
                or [(pid, "")]
        else:
            return jsonify({"error": "citizenPid or sid is required"}), 400
        for _, sid in targets:
            if sid:
                stand.end_session(sid)
    sent = []
    for pid, sid in targets:
        citizen = stand.citizen(pid)
        assert citizen is not None
        sent.append(send_backchannel(stand, citizen.subject, sid))
    return jsonify({"status": sent[-1]["status"], "sent": sent})
