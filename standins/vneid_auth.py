"""The VNeID stand-in's login: GET /authorize (checks, then the page of seeded citizens), the
page's POST (a citizen chosen, or "Hủy"), and the redirect back with the code — encrypted in
Shape A when `encrypt_code` (vneid.md §9 items 1–4), with `iss` in the OIDC mode (RFC 9207).
"""
from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, request

from standins import vneid_pages as pages
from standins.vneid_crypto import encrypt_code, load_public_key, plain_code
from standins.vneid_state import VneidStand

AUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
               "code_challenge", "code_challenge_method")
WRONG_ISSUER = "https://vneid.invalid/wrong-issuer"


def issuer(stand: VneidStand) -> str:
    return stand["issuer"] or request.host_url.rstrip("/")


def install_auth(app: Flask, stand: VneidStand) -> None:

    def back(params: list[tuple[str, str]], literal: tuple[str, ...] = ()) -> Any:
        if stand["mode"] == "oidc":
            iss = WRONG_ISSUER if stand["fault"] == "wrong_iss_param" else issuer(stand)
            params = [*params, ("iss", iss)]
        return pages.redirect_to(stand["redirect_uri"], params, literal)

    def check() -> Any:
        """None when the request may go on, else the answer (an error page or redirect)."""
        values = request.values
        if values.get("client_id") != stand["client_id"] or not stand["redirect_uri"] or \
                values.get("redirect_uri") != stand["redirect_uri"]:
            return pages.message("Yêu cầu đăng nhập không hợp lệ",
                                 "Ứng dụng hoặc địa chỉ quay lại chưa được đăng ký.", 400)
        state = values.get("state", "")
        if values.get("response_type") != "code":
            return back([("error", "unsupported_response_type"), ("state", state)])
        if stand["mode"] == "oidc" and (values.get("code_challenge") or
                                        values.get("code_challenge_method")):
            if values.get("code_challenge_method") != "S256" or \
                    not values.get("code_challenge"):
                return back([("error", "invalid_request"), ("state", state)])
        return None

    @app.get("/authorize")
    def authorize() -> Any:
        refused = check()
        if refused is not None:
            return refused
        hidden = {k: request.args[k] for k in AUTH_PARAMS if k in request.args}
        hidden["page_token"] = stand.page_token()
        with stand.lock:
            citizens = list(stand.citizens)
        return pages.login_page(client_id=stand["client_id"], citizens=citizens,
                                hidden=hidden, action="/authorize")

    @app.post("/authorize")
    def choose() -> Any:
        refused = check()
        if refused is not None:
            return refused
        form = request.form
        if not stand.take_page_token(form.get("page_token", "")):
            return pages.message("Phiên đăng nhập không hợp lệ",
                                 "Trang đăng nhập đã hết hạn; hãy bắt đầu lại.", 400)
        state = form.get("state", "")
        if form.get("cancel"):
            return back([("error", stand["cancel_error"]), ("state", state)])
        citizen = stand.citizen(form.get("citizen", ""))
        if citizen is None:
            return pages.message("Không tìm thấy công dân", "Hãy chọn lại.", 400)
        return back(*issue_code(citizen.pid, form, state))

    def issue_code(pid: str, form: Any, state: str) -> tuple[list[tuple[str, str]],
                                                             tuple[str, ...]]:
        sid = secrets.token_urlsafe(16)
        code = plain_code()
        record = {"pid": pid, "sid": sid, "client_id": stand["client_id"],
                  "redirect_uri": stand["redirect_uri"], "issued": stand.now(), "used": False,
                  "scope": form.get("scope", "openid") or "openid", "tokens": [],
                  "nonce": form.get("nonce", "") if stand["mode"] == "oidc" else "",
                  "code_challenge":
                      form.get("code_challenge", "") if stand["mode"] == "oidc" else "",
                  "plain": code, "encrypted": "", "encrypt_key": ""}
        params: list[tuple[str, str]] = []
        if stand["mode"] == "vneid-encrypted" and stand["encrypt_code"]:
            key = load_public_key(stand["rp_public_key_pem"])
            for _ in range(200):  # force_plus: until a literal '+' is in the code
                encrypted, encrypt_key = encrypt_code(key, code)
                if not stand["force_plus"] or "+" in encrypted:
                    break
            record["encrypted"], record["encrypt_key"] = encrypted, encrypt_key
            params = [("code", encrypted), ("encrypt_key", encrypt_key)]
        else:
            params = [("code", code)]
        with stand.lock:
            stand.sessions[sid] = {"pid": pid, "auth_time": int(stand.now())}
            stand.codes[code] = record
            if record["encrypted"]:
                stand.codes[record["encrypted"]] = record
        return [*params, ("state", state)], ("code", "encrypt_key")
