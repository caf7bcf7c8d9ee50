"""One upstream identity provider, seen from the IdP as its relying party.

`begin()` builds the authorization URL (fresh state, nonce and PKCE verifier), `finish()`
checks the browser's callback and redeems the code (token, ID token, userinfo), returning the
citizen's `UpstreamIdentity`; `logout_url()` and `verify_logout_token()` serve logout.

Two modes: "oidc" (a standard OpenID provider: discovery, JWKS, ID token, nonce and PKCE
S256 always) and "vneid-encrypted" (VNeID's partner API, reference/vneid.md: no ID token,
the code and the token/userinfo answers may be encrypted to our RSA key, subject = citizenPid).
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, unquote_plus, urlencode

import requests

from idp.platform.upstream import envelope
from idp.platform.upstream.errors import UpstreamError
from idp.platform.upstream.id_token import check_id_token, check_logout_token
from idp.platform.upstream.jwks import Keys, Metadata
from idp.platform.upstream.model import Expected, LogoutRequest, Start, UpstreamIdentity
from idp.platform.upstream.settings import ProviderSettings
from idp.platform.upstream.transport import Reply, exchange

PID = re.compile(r"[0-9]{12}")
_RAW_PARAMS = ("code", "encrypt_key")  # standard Base64: a literal '+' stays a '+'
_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y")


def parse_callback(raw_query: str) -> dict[str, str]:
    """The callback's parameters (first of each). `code` and `encrypt_key` are only
    percent-decoded (reference/vneid.md §2); the others are form-decoded."""
    params: dict[str, str] = {}
    for part in raw_query.lstrip("?").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = unquote_plus(name)
        if name in params:
            continue
        params[name] = unquote(value) if name in _RAW_PARAMS else unquote_plus(value)
    return params


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(url: str, query: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


def _text(obj: dict[str, Any], *names: str) -> str:
    for name in names:
        value = obj.get(name)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return ""


def birth_date(value: str) -> datetime.date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    return None


def account_level(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value in (1, 2) else None


class UpstreamProvider:
    def __init__(self, settings: ProviderSettings, session: requests.Session | None = None,
                 now: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.name, self.label, self.mode = settings.name, settings.label, settings.mode
        self.redirect_uri = settings.redirect_uri
        self.backchannel_logout_uri = settings.backchannel_logout_uri
        self.session = session or requests.Session()
        self._now = now
        self.metadata = Metadata(settings, self._get_json)
        self.keys = Keys(settings, self.metadata, self._get_json, monotonic)

    def __repr__(self) -> str:
        return f"<UpstreamProvider {self.name} ({self.mode})>"

    @property
    def _oidc(self) -> bool:
        return self.mode == "oidc"

    # --- HTTP ------------------------------------------------------------------------------

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> Reply:
        s = self.settings
        return exchange(self.session, method, url, timeout=s.timeout,
                        limit=s.max_response_bytes, party=f"{s.name} {what}", **kwargs)

    def _get_json(self, url: str) -> Any:
        reply = self._call("GET", url, "metadata", headers={"Accept": "application/json"})
        if reply.status != 200:
            raise UpstreamError("upstream_error", f"{self.name} metadata: HTTP {reply.status}")
        return reply.json(f"{self.name} metadata")

    def _maybe_enveloped(self, body: Any, what: str) -> dict[str, Any]:
        if envelope.looks_like_envelope(body):
            return envelope.open_envelope(self.settings.private_key, body)
        if not isinstance(body, dict):
            raise UpstreamError("bad_response", f"{self.name} {what}: not a JSON object")
        return body

    # --- the sign-in -----------------------------------------------------------------------

    def begin(self) -> Start:
        s = self.settings
        expected = Expected(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                            code_verifier=secrets.token_urlsafe(48))
        endpoint = self.metadata.endpoint("authorization_endpoint")
        if not endpoint:
            raise UpstreamError("not_configured", f"{self.name}: no authorization endpoint")
        query = {"response_type": "code", "client_id": s.client_id,
                 "redirect_uri": self.redirect_uri, "scope": " ".join(s.scopes),
                 "state": expected.state}
        if self._oidc or s.send_nonce:
            query["nonce"] = expected.nonce
        if self._oidc or s.send_pkce:
            query["code_challenge"] = _s256(expected.code_verifier)
            query["code_challenge_method"] = "S256"
        return Start(url=_with_query(endpoint, query), expected=expected)

    def finish(self, raw_query: str, expected: Expected) -> UpstreamIdentity:
        s = self.settings
        params = parse_callback(raw_query)
        if "error" in params:
            reason = "denied" if params["error"] == "access_denied" else "upstream_error"
            raise UpstreamError(reason, f"{self.name} answered error={params['error'][:64]!r}")
        state = params.get("state", "")
        if not state or not hmac.compare_digest(state.encode("utf-8"),
                                                expected.state.encode("utf-8")):
            raise UpstreamError("bad_state", f"{self.name}: state missing or not ours")
        if self._oidc:
            if "iss" in params:
                if params["iss"] != s.issuer:
                    raise UpstreamError("wrong_issuer", f"{self.name}: iss parameter differs")
            elif self.metadata.flag("authorization_response_iss_parameter_supported"):
                raise UpstreamError("wrong_issuer", f"{self.name}: iss parameter missing")
        code = params.get("code", "")
        if not code:
            raise UpstreamError("bad_response", f"{self.name}: callback without code")
        encrypt_key = params.get("encrypt_key")
        if encrypt_key is not None:
            plain = envelope.decrypt_code(s.private_key, code, encrypt_key)
            if s.token_code == "decrypted":
                code = plain
        tokens = self._redeem(code, encrypt_key, expected)
        access_token = tokens["access_token"]
        claims: dict[str, Any] = {}
        id_token: str | None = None
        if self._oidc:
            id_token = tokens.get("id_token")
            if not isinstance(id_token, str) or not id_token:
                raise UpstreamError("bad_token", f"{self.name}: token answer without id_token")
            claims = check_id_token(id_token, self.keys, issuer=s.issuer,
                                    client_id=s.client_id, nonce=expected.nonce,
                                    skew=s.clock_skew, now=self._now)
        info = self._userinfo(access_token, claims.get("sub"))
        return self._identity({**claims, **info}, claims, id_token, access_token)

    def _redeem(self, code: str, encrypt_key: str | None, expected: Expected) -> dict[str, Any]:
        s = self.settings
        form = {"grant_type": "authorization_code", "code": code, "client_id": s.client_id,
                "redirect_uri": self.redirect_uri, "client_secret": s.client_secret}
        if encrypt_key is not None:
            form["encrypt_key"] = encrypt_key
        if self._oidc or s.send_pkce:
            form["code_verifier"] = expected.code_verifier
        endpoint = self.metadata.endpoint("token_endpoint")
        if not endpoint:
            raise UpstreamError("not_configured", f"{self.name}: no token endpoint")
        reply = self._call("POST", endpoint, "token", data=form,
                           headers={"Accept": "application/json"})
        if not 200 <= reply.status < 300:
            if self._oidc and reply.status == 400 and _error_of(reply.body) == "invalid_grant":
                raise UpstreamError("bad_grant", f"{self.name} token: invalid_grant")
            raise UpstreamError("upstream_error", f"{self.name} token: HTTP {reply.status}")
        tokens = self._maybe_enveloped(reply.json(f"{self.name} token"), "token")
        access = tokens.get("access_token")
        if not isinstance(access, str) or not access:
            raise UpstreamError("bad_response", f"{self.name} token: no access_token")
        token_type = tokens.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise UpstreamError("bad_response", f"{self.name} token: token_type not Bearer")
        return tokens

    def _userinfo(self, access_token: str, sub: Any) -> dict[str, Any]:
        endpoint = self.metadata.endpoint("userinfo_endpoint")
        if not endpoint:
            return {}
        reply = self._call("GET", endpoint, "userinfo",
                           headers={"Authorization": f"Bearer {access_token}",
                                    "Accept": "application/json"})
        if reply.status != 200:
            raise UpstreamError("upstream_error", f"{self.name} userinfo: HTTP {reply.status}")
        info = self._maybe_enveloped(reply.json(f"{self.name} userinfo"), "userinfo")
        if self._oidc and info.get("sub") != sub:
            raise UpstreamError("bad_token", f"{self.name} userinfo: sub differs from ID token")
        return info

    def _identity(self, attrs: dict[str, Any], claims: dict[str, Any], id_token: str | None,
                  access_token: str) -> UpstreamIdentity:
        names = (("citizenPid", "preferred_username"), ("fullName", "name"),
                 ("birthDate", "birthdate")) if self._oidc else \
            (("citizenPid",), ("fullName",), ("birthDate",))
        pid = _text(attrs, *names[0]).strip()
        if not (pid.isascii() and PID.fullmatch(pid)):
            raise UpstreamError("bad_identity", f"{self.name}: ID number is not 12 digits")
        full_name = unicodedata.normalize("NFC", _text(attrs, *names[1]).strip())
        if not full_name:
            raise UpstreamError("bad_identity", f"{self.name}: no full name")
        born = _text(attrs, *names[2])
        sid = claims.get("sid")
        return UpstreamIdentity(
            provider=self.name, subject=claims["sub"] if self._oidc else pid, pid=pid,
            full_name=full_name, birth_date=birth_date(born) if born else None,
            account_type=_text(attrs, "accountType"),
            account_level=account_level(attrs.get("accountLevel")),
            sid=sid if isinstance(sid, str) else None, id_token=id_token,
            access_token=access_token)

    # --- logout ----------------------------------------------------------------------------

    def logout_url(self, *, id_token: str | None, access_token: str | None,
                   post_logout_redirect_uri: str, state: str) -> str | None:
        s = self.settings
        if not self._oidc:
            if not s.logout_endpoint or not access_token:
                return None
            return _with_query(s.logout_endpoint, {"token_id": access_token,
                                                   "redirect_uri": post_logout_redirect_uri})
        try:
            endpoint = self.metadata.endpoint("end_session_endpoint")
        except UpstreamError:
            return None
        if not endpoint:
            return None
        query = {"post_logout_redirect_uri": post_logout_redirect_uri, "state": state,
                 "client_id": s.client_id}
        if id_token:
            query = {"id_token_hint": id_token, **query}
        return _with_query(endpoint, query)

    def verify_logout_token(self, token: str) -> LogoutRequest:
        s = self.settings
        if not self._oidc:
            raise UpstreamError("not_configured", f"{self.name}: no back-channel logout")
        try:
            claims = check_logout_token(token, self.keys, issuer=s.issuer,
                                        client_id=s.client_id, skew=s.clock_skew, now=self._now)
        except UpstreamError as exc:
            if exc.reason in ("timeout", "unreachable", "upstream_error", "bad_response",
                              "wrong_issuer"):
                raise UpstreamError("bad_logout_token", f"keys unavailable ({exc.reason})") \
                    from None
            raise
        return LogoutRequest(sub=claims.get("sub"), sid=claims.get("sid"), jti=claims["jti"])


def _error_of(body: bytes) -> str:
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    error = obj.get("error") if isinstance(obj, dict) else None
    return error if isinstance(error, str) else ""
