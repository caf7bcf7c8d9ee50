"""Blueprint "backchannel": the receiver of OpenID Connect Back-Channel Logout 1.0. The IdP
POSTs a signed logout token when a citizen's IdP session ends (logout, password reset, "sign
out other sessions"); every portal session of that IdP session (`sid`) or citizen (`sub`) ends
at once. Answers are JSON for the IdP, never pages, and never cached."""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jws import JWSRegistry

from portals.oidc import CLOCK_SKEW
from portals.state import PortalState, portal

log = logging.getLogger(__name__)

bp = Blueprint("backchannel", __name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_MAX_AGE = 15 * 60     # accept logout tokens issued up to 15 min ago (IdP retries)
MAX_TOKEN_LENGTH = 8192
LOGOUT_TYPES = ("logout+jwt", "application/logout+jwt", "jwt")


def validate_logout_token(token: str, state: PortalState) -> dict[str, Any]:
    """OpenID Connect Back-Channel Logout 1.0 §2.6; raises ValueError naming the failed
    check (the IdP logs our answer; a citizen never sees it)."""
    cfg = state.config
    metadata = state.idp.load_server_metadata()
    algs = [a for a in metadata.get("id_token_signing_alg_values_supported", ["ES256"])
            if a != "none"]
    registry = JWSRegistry(algorithms=algs)
    try:
        try:
            decoded = jwt.decode(token, state.keys.keyset(), registry=registry)
        except InvalidKeyIdError:
            decoded = jwt.decode(token, state.keys.keyset(force=True), registry=registry)
    except (JoseError, ValueError) as exc:
        raise ValueError(f"signature: {exc}") from None
    typ = decoded.header.get("typ")
    if typ is not None and typ.lower() not in LOGOUT_TYPES:
        raise ValueError("typ")
    c = decoded.claims
    t = time.time()
    if c.get("iss") != cfg["issuer"]:
        raise ValueError("iss")
    aud = c.get("aud")
    if not (aud == cfg["client_id"] or (isinstance(aud, list) and cfg["client_id"] in aud)):
        raise ValueError("aud")
    iat = c.get("iat")
    if not isinstance(iat, (int, float)) or iat > t + CLOCK_SKEW \
            or iat < t - LOGOUT_TOKEN_MAX_AGE:
        raise ValueError("iat")
    exp = c.get("exp")
    if exp is not None and (not isinstance(exp, (int, float)) or exp < t - CLOCK_SKEW):
        raise ValueError("exp")
    events = c.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise ValueError("events")
    if "nonce" in c:
        raise ValueError("nonce")
    if not isinstance(c.get("jti"), str) or not c["jti"]:
        raise ValueError("jti")
    sid, sub = c.get("sid"), c.get("sub")
    if not sid and not sub:
        raise ValueError("sid/sub")
    if (sid is not None and not isinstance(sid, str)) or \
            (sub is not None and not isinstance(sub, str)):
        raise ValueError("sid/sub")
    # The client is registered with backchannel_logout_session_required = true.
    if cfg.get("backchannel_session_required", True) and not sid:
        raise ValueError("sid required")
    return c


@bp.post("/auth/backchannel-logout")
def backchannel_logout() -> ResponseReturnValue:
    state = portal()
    headers = {"Cache-Control": "no-store"}
    token = request.form.get("logout_token", "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return jsonify(error="invalid_request", error_description="logout_token missing"), \
            400, headers
    try:
        claims = validate_logout_token(token, state)
    except ValueError as exc:
        log.warning("back-channel logout refused: %s", exc)
        return jsonify(error="invalid_request",
                       error_description=f"invalid logout_token ({exc})"), 400, headers
    except Exception as exc:  # noqa: BLE001 - the IdP's JWKS unreachable
        log.warning("back-channel logout: cannot validate: %r", exc)
        return jsonify(error="temporarily_unavailable"), 503, headers
    if state.store.remember_jti(claims["jti"], LOGOUT_TOKEN_MAX_AGE + CLOCK_SKEW):
        count = state.store.revoke_by(state.config["issuer"], claims.get("sid"),
                                      claims.get("sub"))
        log.info("back-channel logout: %d session(s) ended", count)
    # A replayed jti was already processed: the answer stays 200 (idempotent for retries).
    return "", 200, headers
