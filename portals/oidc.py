"""The relying party's side of OpenID Connect, over Authlib: the IdP client (discovery,
authorization code + PKCE S256, client_secret_basic), the checks on the ID token and userinfo
after the code exchange, assurance-level comparison and the RP-initiated logout URL.

No Flask views here: portals.auth decides what the citizen sees when a step fails.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import Flask

ACR_ORDER = {"LoA1": 1, "LoA2": 2, "LoA3": 3}
CLOCK_SKEW = 60  # seconds of clock difference tolerated with the IdP (ID and logout tokens)


def acr_at_least(acr: str | None, required: str) -> bool:
    """Is the assurance level `acr` (possibly absent) at least `required`?"""
    return ACR_ORDER.get(acr or "", 0) >= ACR_ORDER[required]


def register_client(app: Flask, cfg: dict[str, Any]) -> FlaskOAuth2App:
    """The IdP as an Authlib client of `app`; metadata and JWKS come from discovery, so the
    portal follows the IdP's endpoints and key rotation without configuration."""
    oauth = OAuth(app)
    client: FlaskOAuth2App = oauth.register(
        "idp",
        client_id=cfg["client_id"],
        client_secret=cfg["client_secret"],
        server_metadata_url=cfg["issuer"] + "/.well-known/openid-configuration",
        client_kwargs={"scope": cfg["scope"], "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic", "timeout": 10},
    )
    return client


@dataclass
class Identity:
    """What a successful login yields: the ID token's claims, the userinfo and the raw ID
    token (kept as `id_token_hint` for the logout)."""

    claims: dict[str, Any]
    userinfo: dict[str, Any]
    id_token: str


def exchange_code(client: FlaskOAuth2App, cfg: dict[str, Any]) -> Identity:
    """Code exchange of the current callback request. Authlib checks state, PKCE, the ID token
    signature (refetching the JWKS on an unknown kid) and nonce; the claims options below add
    issuer, audience and the claims the portal relies on. The userinfo must be about the
    ID token's subject. Raises AuthlibBaseError, JoseError or ValueError when the response
    cannot be trusted; any other exception means the IdP could not be reached."""
    token = client.authorize_access_token(claims_options={
        "iss": {"essential": True, "value": cfg["issuer"]},
        "aud": {"essential": True, "value": cfg["client_id"]},
        "sub": {"essential": True},
        "acr": {"essential": True},
        "auth_time": {"essential": True},
    }, leeway=CLOCK_SKEW)
    if "userinfo" not in token:
        raise ValueError("no ID token in the token response")
    claims = dict(token["userinfo"])
    info = dict(client.userinfo(token=token))
    if info.get("sub") != claims["sub"]:
        raise ValueError("userinfo sub differs from the ID token's")
    return Identity(claims, info, token["id_token"])


def logout_url(client: FlaskOAuth2App, cfg: dict[str, Any], id_token: str,
               state: str) -> str | None:
    """The IdP's end-session URL bringing the citizen back to the portal's home with `state`,
    or None when the IdP (or its discovery document) offers no RP-initiated logout."""
    try:
        metadata = client.load_server_metadata()
    except Exception:  # noqa: BLE001 - the IdP unreachable: log out of the portal only
        metadata = {}
    if not metadata.get("end_session_endpoint"):
        return None
    result = client.create_logout_url(post_logout_redirect_uri=cfg["base_url"] + "/",
                                      id_token_hint=id_token, state=state,
                                      client_id=cfg["client_id"])
    return str(result["url"])
