"""Validation of OAuth client metadata (RFC 7591 / OIDC Registration names, CONTRACT.md §3):
pure functions, no database, no Flask. Used by `idp clients import|add` before a client is
stored; errors are the accounts layer's `ValidationError` (code, message, field), so the CLI
reports citizen and client files the same way."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from idp.accounts.validation import ValidationError

# --- Client metadata (RFC 7591 / OIDC Registration names, CONTRACT.md §3) --------------------

GRANT_TYPES = ("authorization_code", "refresh_token")
SCOPES = ("openid", "profile", "phone", "email", "offline_access", "dvcqg")
DEFAULT_SCOPE = "openid profile phone email offline_access"
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
SIGNING_ALGS = ("ES256", "RS256")
ACR_VALUES = ("LoA1", "LoA2", "LoA3")
CLIENT_SECRET_MIN = 32
CLIENT_FIELDS = (
    "client_id", "client_secret", "client_name", "redirect_uris", "post_logout_redirect_uris",
    "grant_types", "response_types", "scope", "token_endpoint_auth_method",
    "id_token_signed_response_alg", "default_acr_values", "backchannel_logout_uri",
    "backchannel_logout_session_required", "first_party", "login_acr_floor",
)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,100}", re.ASCII)
_SECRET = re.compile(r"[\x21-\x7e]+", re.ASCII)  # printable ASCII, no spaces
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _bad(field: str, message: str, code: str = "client.invalid"):
    return ValidationError(code, message, field)


def validate_uri(value, field: str) -> str:
    """An absolute https URI, or http on a loopback host; no fragment, no wildcard, no
    user:password@ (RFC 9700 §2.1 exact matching, OIDC Registration §2)."""
    if not isinstance(value, str) or not value:
        raise _bad(field, "URI phải là một chuỗi không rỗng.")
    if len(value) > 2000 or not value.isascii() or any(
            ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7f for ch in value):
        raise _bad(field, f"URI không hợp lệ: {value!r}.")
    if "*" in value:
        raise _bad(field, f"URI không được chứa ký tự đại diện (*): {value}")
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise _bad(field, f"URI không hợp lệ: {value}") from None
    if "#" in value:
        raise _bad(field, f"URI không được chứa phân đoạn (#): {value}")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _bad(field, f"URI phải là địa chỉ tuyệt đối https://: {value}")
    if parts.username is not None or parts.password is not None:
        raise _bad(field, f"URI không được chứa thông tin đăng nhập: {value}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise _bad(field, "Chỉ cho phép http:// với địa chỉ loopback (127.0.0.1, localhost, "
                          f"[::1]); hãy dùng https://: {value}")
    return value


def _uri_list(value, field: str, required: bool) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(field, "Phải là một danh sách các URI.")
    if required and not value:
        raise _bad(field, "Cần ít nhất một URI.")
    result: list[str] = []
    for item in value:
        uri = validate_uri(item, field)
        if uri not in result:
            result.append(uri)
    return result


def _string_list(value, field: str, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(field, "Phải là một danh sách chuỗi.")
    result: list[str] = []
    for item in value:
        if item not in allowed:
            raise _bad(field, f"Giá trị {item!r} không được hỗ trợ (cho phép: "
                              f"{', '.join(allowed)}).")
        if item not in result:
            result.append(item)
    return result


def _choice(value, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _bad(field, f"Giá trị {value!r} không được hỗ trợ (cho phép: {', '.join(allowed)}).")
    return value


def _bool(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(field, "Phải là true hoặc false.")
    return value


def validate_client_metadata(data, check_backchannel_uri=None,
                             lowest_acr_floor: str = "LoA2") -> dict:
    """The normalised metadata to store with Client.set_metadata(): defaults filled in, and
    without client_secret (that is stored hashed; see `client_secret_of`).

    `check_backchannel_uri(uri)`, when given, is the deployment's guard on where the IdP may
    POST logout tokens (idp.netguard.check_url with the configured policy); it raises a
    ValueError whose message says why.

    `login_acr_floor` (our own name, not RFC 7591) is the level this client's logins end at
    when the RP asks for less; a floor below `lowest_acr_floor` (policy.lowest_client_floor:
    the deployment's `login_min_acr` unless `allow_loa1_clients`) is refused."""
    if not isinstance(data, dict):
        raise ValidationError("client.type", "Mỗi client phải là một đối tượng JSON.")
    for key in data:
        if key not in CLIENT_FIELDS:
            raise _bad(str(key), "Trường không được hỗ trợ.", "client.unknown_field")
    for key in ("client_id", "client_name", "redirect_uris"):
        if key not in data:
            raise _bad(key, "Trường bắt buộc.", "client.required")

    meta: dict = {}
    client_id = data["client_id"]
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise _bad("client_id", "Gồm 1-100 ký tự A-Z, a-z, 0-9, dấu chấm, gạch dưới, gạch ngang.")
    meta["client_id"] = client_id

    name = data["client_name"]
    name = " ".join(unicodedata.normalize("NFC", name).split()) if isinstance(name, str) else ""
    if not 1 <= len(name) <= 200 or any(unicodedata.category(c).startswith("C") for c in name):
        raise _bad("client_name", "Tên client phải là chuỗi 1-200 ký tự.")
    meta["client_name"] = name

    meta["redirect_uris"] = _uri_list(data["redirect_uris"], "redirect_uris", required=True)
    if "post_logout_redirect_uris" in data:
        meta["post_logout_redirect_uris"] = _uri_list(
            data["post_logout_redirect_uris"], "post_logout_redirect_uris", required=False)

    grants = _string_list(data.get("grant_types", list(GRANT_TYPES)), "grant_types", GRANT_TYPES)
    if "authorization_code" not in grants:
        raise _bad("grant_types", "Phải có authorization_code.")
    meta["grant_types"] = grants

    if data.get("response_types", ["code"]) != ["code"]:
        raise _bad("response_types", 'Chỉ hỗ trợ ["code"].')
    meta["response_types"] = ["code"]

    if "scope" in data:
        scope = data["scope"]
        if not isinstance(scope, str):
            raise _bad("scope", "Phải là một chuỗi các phạm vi cách nhau bởi dấu cách.")
        scopes = _string_list(scope.split(), "scope", SCOPES)
        if "openid" not in scopes:
            raise _bad("scope", "Phải có openid.")
        if "offline_access" in scopes and "refresh_token" not in grants:
            raise _bad("scope", "offline_access cần grant_types có refresh_token.")
    else:
        scopes = [s for s in DEFAULT_SCOPE.split()
                  if s != "offline_access" or "refresh_token" in grants]
    meta["scope"] = " ".join(scopes)

    method = _choice(data.get("token_endpoint_auth_method", "client_secret_basic"),
                     "token_endpoint_auth_method", AUTH_METHODS)
    meta["token_endpoint_auth_method"] = method
    secret = data.get("client_secret")
    if method == "none":
        if secret is not None:
            raise _bad("client_secret", "Client công khai (none) không được có client_secret.")
    elif secret is None:
        raise _bad("client_secret", "Trường bắt buộc khi token_endpoint_auth_method là "
                                    f"{method}.", "client.required")
    elif not isinstance(secret, str) or not _SECRET.fullmatch(secret):
        raise _bad("client_secret", "Phải là chuỗi ký tự ASCII in được, không có khoảng trắng.")
    elif not CLIENT_SECRET_MIN <= len(secret) <= 200:
        raise _bad("client_secret", f"Phải dài từ {CLIENT_SECRET_MIN} đến 200 ký tự.")

    meta["id_token_signed_response_alg"] = _choice(
        data.get("id_token_signed_response_alg", "ES256"), "id_token_signed_response_alg",
        SIGNING_ALGS)
    if "default_acr_values" in data:
        meta["default_acr_values"] = _string_list(data["default_acr_values"],
                                                  "default_acr_values", ACR_VALUES)
    if "login_acr_floor" in data:
        floor = _choice(data["login_acr_floor"], "login_acr_floor", ACR_VALUES)
        if ACR_VALUES.index(floor) < ACR_VALUES.index(lowest_acr_floor):
            raise _bad("login_acr_floor",
                       f"Triển khai này yêu cầu mọi lần đăng nhập đạt tối thiểu "
                       f"{lowest_acr_floor} (mật khẩu + mã OTP); chỉ cho phép client {floor} "
                       f"khi cấu hình allow_loa1_clients = true.", "client.acr_floor_refused")
        meta["login_acr_floor"] = floor
    if "backchannel_logout_uri" in data:
        meta["backchannel_logout_uri"] = validate_uri(data["backchannel_logout_uri"],
                                                      "backchannel_logout_uri")
        if check_backchannel_uri is not None:
            try:
                check_backchannel_uri(meta["backchannel_logout_uri"])
            except ValueError as exc:
                raise _bad("backchannel_logout_uri", str(exc), "client.uri_blocked") from None
    if "backchannel_logout_session_required" in data:
        meta["backchannel_logout_session_required"] = _bool(
            data["backchannel_logout_session_required"], "backchannel_logout_session_required")
    meta["first_party"] = _bool(data.get("first_party", True), "first_party")
    return meta


def client_secret_of(data: dict) -> str | None:
    """The client secret of metadata that passed validate_client_metadata()."""
    return data.get("client_secret")
