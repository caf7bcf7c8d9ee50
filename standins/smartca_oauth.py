"""The OAuth side of the SmartCA stand-in (VNPT's integration guide §3, reference pki.md §4):

- `/auth/authorize`: GET (or the guide's form POST without credentials) shows a small login
  page; a POST with `username` (the subscriber's CCCD, SmartCA's "Personal ID") and
  `password` redirects to the registered `redirect_uri` with `code` and `state`. An unknown
  client or redirect URI gets an error page, never a redirect.
- `/auth/token`: `authorization_code` (codes live 15 s and are single use: a second use also
  withdraws the tokens the first one gave), `refresh_token` (rotated) and, for a client allowed
  to, `password`. Client credentials in the form or HTTP Basic; errors are 400 with
  `{"error": "invalid_client" | "invalid_grant" | "invalid_scope" | "unsupported_grant_type"
  | "unauthorized_client"}`. Access tokens live 3600 s, refresh tokens 3 months.
- More than 5 wrong passwords lock the account for 5 minutes (login page and password grant).

Tokens are opaque random strings (SmartCA's are JWTs; the IdP treats them as opaque).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, render_template_string, request

from standins.core import Stand

CODE_LIFETIME = 15.0
ACCESS_LIFETIME = 3600
REFRESH_LIFETIME = 90 * 86400
MAX_FAILURES = 5
LOCK_SECONDS = 300.0

LOGIN_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Đăng nhập VNPT SmartCA</title></head>
<body>
<h1>VNPT SmartCA</h1>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
{% if fatal %}
<p>Yêu cầu đăng nhập không hợp lệ.</p>
{% else %}
<p>Ứng dụng <strong>{{ client_id }}</strong> đề nghị quyền gửi yêu cầu ký số tới tài khoản
SmartCA của bạn. Mỗi lần ký, bạn vẫn xác nhận trên ứng dụng VNPT SmartCA.</p>
<form method="post">
  {% for name, value in hidden.items() %}
  <input type="hidden" name="{{ name }}" value="{{ value }}">
  {% endfor %}
  <label>Số định danh cá nhân (CCCD) <input name="username" value="{{ username }}"
    autocomplete="username" required></label>
  <label>Mật khẩu <input type="password" name="password" autocomplete="current-password"
    required></label>
  <button type="submit">Đăng nhập và đồng ý</button>
</form>
{% endif %}
</body></html>"""


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    password_grant: bool = False


class SmartCaStand(Stand):
    """The stand-in's state plus OAuth's: codes, tokens, failed logins, notifyUrl calls."""

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.codes: dict[str, dict[str, Any]] = {}
            self.access_tokens: dict[str, dict[str, Any]] = {}
            self.refresh_tokens: dict[str, dict[str, Any]] = {}
            self.failures: dict[str, list[float]] = {}  # user_id -> [count, locked until]
            self.notifications: list[dict[str, Any]] = []

    def bearer_user(self) -> str | None:
        """The user id of the request's unexpired Bearer token, else None."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self.lock:
            grant = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
            if grant is None or grant["expires"] < self.now():
                return None
            return grant["user_id"]

    def check_login(self, username: str, password: str) -> str:
        """"" when right, else the Vietnamese reason; counts failures and locks."""
        with self.lock:
            count, locked_until = self.failures.get(username, [0, 0.0])
            if locked_until > self.now():
                return "Tài khoản tạm khóa 5 phút do nhập sai mật khẩu quá 5 lần."
            users = [s for s in self.subscribers if s.user_id == username and s.password]
            if users and secrets.compare_digest(users[0].password.encode(), password.encode()):
                self.failures.pop(username, None)
                return ""
            count += 1
            locked = self.now() + LOCK_SECONDS if count > MAX_FAILURES else 0.0
            self.failures[username] = [0 if locked else count, locked]
            if locked:
                return "Tài khoản tạm khóa 5 phút do nhập sai mật khẩu quá 5 lần."
            return (f"Sai số định danh hoặc mật khẩu. Bạn còn {MAX_FAILURES - count} lần thử "
                    "trước khi tài khoản bị tạm khóa.")

    def issue_tokens(self, user_id: str, client_id: str, code: str = "") -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.lock:
            self.access_tokens[access] = {"user_id": user_id, "code": code,
                                          "expires": self.now() + ACCESS_LIFETIME}
            self.refresh_tokens[refresh] = {"user_id": user_id, "client_id": client_id,
                                            "code": code,
                                            "expires": self.now() + REFRESH_LIFETIME}
        return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
                "expires_in": ACCESS_LIFETIME, "scope": "sign offline_access"}

    def withdraw(self, code: str) -> None:
        with self.lock:
            for table in (self.access_tokens, self.refresh_tokens):
                for token in [t for t, grant in table.items() if grant["code"] == code]:
                    del table[token]


def install_oauth(app: Flask, stand: SmartCaStand, client: Client) -> None:

    def page(error: str = "", status: int = 200, fatal: bool = False) -> Any:
        hidden = {k: request.values.get(k, "") for k in
                  ("response_type", "client_id", "redirect_uri", "state", "scope")}
        return render_template_string(LOGIN_PAGE, error=error, fatal=fatal, hidden=hidden,
                                      client_id=client.client_id,
                                      username=request.values.get("username", "")), status

    def back(redirect_uri: str, **params: str) -> Any:
        joiner = "&" if "?" in redirect_uri else "?"
        return "", 302, {"Location": f"{redirect_uri}{joiner}{urlencode(params)}"}

    @app.route("/auth/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        values = request.values
        redirect_uri = values.get("redirect_uri", "")
        if values.get("client_id") != client.client_id or \
                redirect_uri not in client.redirect_uris:
            return page("Ứng dụng hoặc địa chỉ quay lại chưa được đăng ký.", 400, fatal=True)
        state = values.get("state", "")
        if values.get("response_type") != "code":
            return back(redirect_uri, error="unsupported_response_type", state=state)
        if "sign" not in values.get("scope", "").split():
            return back(redirect_uri, error="invalid_scope", state=state)
        if request.method == "GET" or "username" not in request.form:
            return page()
        error = stand.check_login(request.form.get("username", ""),
                                  request.form.get("password", ""))
        if error:
            return page(error, 200)
        code = secrets.token_urlsafe(24)
        with stand.lock:
            stand.codes[code] = {"user_id": request.form["username"], "used": False,
                                 "client_id": client.client_id, "redirect_uri": redirect_uri,
                                 "issued": stand.now()}
        return back(redirect_uri, code=code, state=state)

    @app.post("/auth/token")
    def token() -> Any:
        form = request.form
        auth = request.authorization
        client_id = form.get("client_id") or (auth.username if auth else "")
        secret = form.get("client_secret") or (auth.password if auth else "")
        if client_id != client.client_id or not secrets.compare_digest(
                (secret or "").encode(), client.client_secret.encode()):
            return jsonify({"error": "invalid_client"}), 400
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return code_grant(form.get("code", ""), form.get("redirect_uri", ""))
        if grant_type == "refresh_token":
            with stand.lock:
                grant = stand.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if grant is None or grant["expires"] < stand.now() or \
                    grant["client_id"] != client.client_id:
                return invalid_grant("refresh token unknown or expired")
            return jsonify(stand.issue_tokens(grant["user_id"], client.client_id,
                                              grant["code"]))
        if grant_type == "password":
            if not client.password_grant:
                return jsonify({"error": "unauthorized_client"}), 400
            error = stand.check_login(form.get("username", ""), form.get("password", ""))
            if error:
                return invalid_grant(error)
            return jsonify(stand.issue_tokens(form["username"], client.client_id))
        return jsonify({"error": "unsupported_grant_type"}), 400

    def code_grant(code: str, redirect_uri: str) -> Any:
        with stand.lock:
            grant = stand.codes.get(code)
            if grant is None:
                return invalid_grant("unknown code")
            if grant["used"]:
                stand.withdraw(code)
                return invalid_grant("code already used")
            grant["used"] = True
            if stand.now() - grant["issued"] > CODE_LIFETIME:
                return invalid_grant("code expired")
            if grant["client_id"] != client.client_id or grant["redirect_uri"] != redirect_uri:
                return invalid_grant("code issued to another client or redirect_uri")
        return jsonify(stand.issue_tokens(grant["user_id"], client.client_id, code))

    def invalid_grant(description: str) -> Any:
        return jsonify({"error": "invalid_grant", "error_description": description}), 400
