"""Checks of an upstream provider's signed JWTs: the ID token (OIDC Core §3.1.3.7) and the
back-channel logout token (OIDC Back-Channel Logout 1.0 §2.6). Signature with the provider's
JWKS (one refetch on an unknown kid), then the claims; any failure is one UpstreamError whose
detail names the check, never the token or its claims' values."""
from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from joserfc import jwt

from idp.platform.upstream.errors import UpstreamError
from idp.platform.upstream.jwks import Keys

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_SAFE_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"}
MAX_JWT = 16384


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_JWT or token.count(".") != 2:
        raise ValueError("not a compact JWS")
    first = token.split(".", 1)[0]
    header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    if not isinstance(header, dict):
        raise ValueError("header")
    return header


def verified_claims(token: str, keys: Keys, reason: str) -> dict[str, Any]:
    """The claims of `token` once its signature checks out with the provider's keys."""
    try:
        header = _header(token)
    except (ValueError, TypeError):
        raise UpstreamError(reason, "malformed JWT") from None
    alg, kid = header.get("alg"), header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise UpstreamError(reason, "kid is not a string")
    if not isinstance(alg, str) or alg not in _SAFE_ALGS:
        raise UpstreamError(reason, "signature algorithm not accepted")
    if "crit" in header:
        raise UpstreamError(reason, "critical header not understood")
    key = keys.find(kid, _KTY[alg[:2]])
    if key is None:
        raise UpstreamError(reason, "no key of the provider matches the token's kid")
    if key.alg and key.alg != alg:
        raise UpstreamError(reason, "the key is for another algorithm")
    if alg not in {"RS256"} | keys.algorithms():  # RS256, or what the provider's JWKS names
        raise UpstreamError(reason, "signature algorithm not accepted")
    try:
        claims = jwt.decode(token, key, algorithms=[alg]).claims
    except Exception:  # joserfc raises several types: all mean "signature not good"
        raise UpstreamError(reason, "bad signature") from None
    if not isinstance(claims, dict):
        raise UpstreamError(reason, "claims are not an object")
    return claims


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(name)
    return float(value)


def _audience_ok(claims: dict[str, Any], client_id: str) -> bool:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud == client_id
    if not isinstance(aud, list) or client_id not in aud:
        return False
    if len(aud) > 1:
        return claims.get("azp") == client_id
    return claims.get("azp") in (None, client_id)


def check_id_token(token: str, keys: Keys, *, issuer: str, client_id: str, nonce: str,
                   skew: int, now: Callable[[], float] = time.time) -> dict[str, Any]:
    claims = verified_claims(token, keys, "bad_token")
    if claims.get("iss") != issuer:
        raise UpstreamError("wrong_issuer", "ID token from another issuer")
    if not _audience_ok(claims, client_id):
        raise UpstreamError("bad_token", "ID token for another audience (aud/azp)")
    try:
        exp, iat = _number(claims, "exp"), _number(claims, "iat")
    except ValueError as exc:
        raise UpstreamError("bad_token", f"ID token {exc} is not a number") from None
    t = now()
    if exp is None or exp + skew < t:
        raise UpstreamError("bad_token", "ID token expired (or no exp)")
    if iat is None or iat - skew > t:
        raise UpstreamError("bad_token", "ID token issued in the future (or no iat)")
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise UpstreamError("bad_token", "ID token nonce does not match")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise UpstreamError("bad_token", "ID token without sub")
    sid = claims.get("sid")
    if sid is not None and not isinstance(sid, str):
        raise UpstreamError("bad_token", "ID token sid is not a string")
    return claims


def check_logout_token(token: str, keys: Keys, *, issuer: str, client_id: str, skew: int,
                       now: Callable[[], float] = time.time) -> dict[str, Any]:
    reason = "bad_logout_token"
    claims = verified_claims(token, keys, reason)
    if claims.get("iss") != issuer:
        raise UpstreamError(reason, "logout token from another issuer")
    if not _audience_ok(claims, client_id):
        raise UpstreamError(reason, "logout token for another audience")
    try:
        exp, iat = _number(claims, "exp"), _number(claims, "iat")
    except ValueError as exc:
        raise UpstreamError(reason, f"logout token {exc} is not a number") from None
    t = now()
    if iat is None or abs(t - iat) > skew:
        raise UpstreamError(reason, "logout token iat missing or outside the allowed skew")
    if exp is not None and exp + skew < t:
        raise UpstreamError(reason, "logout token expired")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise UpstreamError(reason, "logout token without the back-channel logout event")
    if "nonce" in claims:
        raise UpstreamError(reason, "logout token carries a nonce")
    sub, sid, jti = claims.get("sub"), claims.get("sid"), claims.get("jti")
    if sub is not None and (not isinstance(sub, str) or not sub):
        raise UpstreamError(reason, "logout token sub is not a string")
    if sid is not None and (not isinstance(sid, str) or not sid):
        raise UpstreamError(reason, "logout token sid is not a string")
    if sub is None and sid is None:
        raise UpstreamError(reason, "logout token names neither sub nor sid")
    if not isinstance(jti, str) or not jti:
        raise UpstreamError(reason, "logout token without jti")
    return claims
