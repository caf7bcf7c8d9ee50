"""Authlib wiring: the authorization server, its grants and endpoints, with Authlib's weak
defaults replaced (security-requirements §0):

- PKCE: S256 only and required for every client (`S256OnlyChallenge`).
- Authorization codes are consumed atomically *before* tokens are issued; a replayed code
  revokes every token issued from it (`CodeGrant.query_authorization_code`).
- Refresh tokens rotate; a reused one revokes the whole family (`RefreshGrant`).
- RFC 9207 `iss` in authorization responses (`IssuerParameter`).
"""
from __future__ import annotations

import json

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request, grants
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from flask import current_app
from sqlalchemy import bindparam, select, update

from idp.platform.clients import query_client  # lives in the platform (flows use it too)
from idp.platform.crypto import random_token, sha256_hex
from idp.platform.db import db, now
from idp.platform.models import AuthorizationCode, Citizen, Client, Token
from idp.protocol import claims
from idp.protocol.presented import presented_token
from idp.protocol.single_use import (
    CONSUME_CODE,
    CONSUME_REFRESH,
    INSERT_CODE,
    INSERT_TOKEN,
    consume_once,
    remember_session_client,
    revoke_grant,
)

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def settings() -> dict:
    return current_app.config["IDP"]


def keyring():
    return current_app.extensions["idp.keyring"]


# --------------------------------------------------------------------------- server

class Server(AuthorizationServer):
    """Accepts an already built OAuth2Request (a stored pending authorization) as well as the
    current Flask request."""

    def create_oauth2_request(self, request):
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)


def stored_request(params: dict) -> OAuth2Request:
    """Rebuild the OAuth2Request of a pending authorization from its stored parameters."""
    req = OAuth2Request("GET", settings()["issuer"] + "/authorize")
    req.payload = BasicOAuth2Payload(dict(params))
    return req


def save_token(token: dict, request: OAuth2Request) -> None:
    """Store hashes only. The new row inherits the grant (token family) and the
    authentication facts of the code or refresh token it came from."""
    source = request.authorization_code or request.refresh_token
    t = now()
    s = settings()
    refresh = token.get("refresh_token")
    if source is request.refresh_token:
        refresh_expires = source.refresh_expires_at  # absolute lifetime of the family
    else:
        refresh_expires = t + s["refresh_token_ttl"] if refresh else None
    db.session.connection().execute(INSERT_TOKEN, {
        "grant_id": source.grant_id, "client_id": request.client.client_id,
        "citizen_id": request.user.id, "access_token_hash": sha256_hex(token["access_token"]),
        "refresh_token_hash": sha256_hex(refresh) if refresh else None, "scope": token["scope"],
        "sid": source.sid, "auth_time": source.auth_time, "acr": source.acr,
        "amr_json": source.amr_json, "issued_at": t, "access_expires_at": t + token["expires_in"],
        "refresh_expires_at": refresh_expires})
    if source is request.authorization_code:
        # Remember which clients got tokens from this SSO session (logout).
        remember_session_client(source.sid, request.client.client_id, t)
    db.session.commit()


# --------------------------------------------------------------------------- PKCE

class S256OnlyChallenge(CodeChallenge):
    """RFC 9700 §2.1.1 / ASVS 5.0 10.4.6: a code_challenge is required from every client and
    only S256 is accepted (Authlib defaults to `plain` and requires PKCE of public clients
    only)."""
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE (S256) is required",
                                      redirect_uri=redirect_uri)
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256",
                                      redirect_uri=redirect_uri)
        try:
            super().validate_code_challenge(grant, redirect_uri)
        except InvalidRequestError as exc:
            exc.redirect_uri = redirect_uri
            raise

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


# --------------------------------------------------------------------------- grants

def opaque_token(*_args: object, **_kwargs: object) -> str:
    """An access token, refresh token or authorization code: 256 random bits, URL-safe."""
    return random_token(32)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def generate_authorization_code(self):
        return opaque_token()

    def save_authorization_code(self, code, request):
        session = request.idp_session  # set by authorize.issue_code
        data = request.payload.data
        db.session.connection().execute(INSERT_CODE, {
            "code_hash": sha256_hex(code), "grant_id": random_token(24),
            "client_id": request.client.client_id, "citizen_id": request.user.id,
            "redirect_uri": request.payload.redirect_uri, "scope": request.scope or "",
            "nonce": data.get("nonce"), "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method"),
            "auth_time": session.auth_time, "acr": session.acr, "amr_json": session.amr_json,
            "sid": session.sid, "expires_at": now() + settings()["code_ttl"]})
        db.session.commit()

    def query_authorization_code(self, code, client):
        """Consume the code in one statement (UPDATE ... WHERE consumed_at IS NULL RETURNING):
        of two concurrent redemptions exactly one gets the row. A code seen again is a replay:
        revoke what it issued (RFC 6749 §4.1.2, ASVS 5.0 10.4.2)."""
        if not code or len(code) > 200:
            return None
        return consume_once(AuthorizationCode, CONSUME_CODE, AuthorizationCode.code_hash,
                            AuthorizationCode.consumed_at, sha256_hex(code), client.client_id,
                            now=now(), reason="code_replay")

    def delete_authorization_code(self, authorization_code):
        """Nothing: the consumed row stays as a tombstone until it expires, so a replay can be
        recognised and its tokens revoked."""

    def authenticate_user(self, authorization_code):
        return active_citizen(authorization_code.citizen_id)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):
        # Refresh tokens only for offline_access (OIDC Core §11) and clients allowed to refresh.
        include = include_refresh_token and "offline_access" in (scope or "").split()
        return super().generate_token(user=user, scope=scope, grant_type=grant_type,
                                      expires_in=expires_in, include_refresh_token=include)


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation (RFC 9700 §4.14.2)

    def authenticate_refresh_token(self, refresh_token):
        if not refresh_token or len(refresh_token) > 200:
            return None
        return consume_once(Token, CONSUME_REFRESH, Token.refresh_token_hash,
                            Token.refresh_used_at, sha256_hex(refresh_token),
                            self.request.client.client_id, now=now(), reason="refresh_reuse")

    def authenticate_user(self, refresh_token):
        return active_citizen(refresh_token.citizen_id)

    def revoke_old_credential(self, refresh_token):
        """Already marked used when it was consumed."""


# What the token path needs of the account (`id` for the token row, `sub` for the ID token),
# read only while the account is active: one prebuilt Core statement, no ORM instance.
_ACTIVE_SUBJECT = select(
    Citizen.id, Citizen.sub, Citizen.account_type, Citizen.full_name, Citizen.org_mst,
    Citizen.org_mns, Citizen.legal_representative,  # the ID token's dvcqg claims
).where(Citizen.id == bindparam("id"), Citizen.status == "active")


def active_citizen(citizen_id: int):
    """The account (`.id`, `.sub`) if it is still active, else None."""
    return db.session.connection().execute(_ACTIVE_SUBJECT, {"id": citizen_id}).first()


# --------------------------------------------------------------------------- ID token

def build_id_token(client: Client, citizen, source, access_token: str | None,
                   nonce: str | None) -> str:
    """`citizen`: a row of `active_citizen` (the account's `sub`, and what
    claims.id_token_claims reads for the dvcqg scope: the account type, an organisation's)."""
    s = settings()
    alg = client.id_token_signed_response_alg
    t = int(now())
    payload = {
        "iss": s["issuer"], "sub": citizen.sub, "aud": client.client_id,
        "azp": client.client_id, "iat": t, "exp": t + s["id_token_ttl"],
        "auth_time": source.auth_time, "acr": source.acr, "amr": json.loads(source.amr_json),
        "sid": source.sid,
    }
    payload.update(claims.id_token_claims(citizen, source.scope, payload["amr"]))
    if nonce:
        payload["nonce"] = nonce
    if access_token:
        payload["at_hash"] = create_half_hash(access_token, alg).decode("ascii")
    return keyring().sign(payload, alg)


class OpenIDExtension(OpenIDCode):
    def exists_nonce(self, nonce, request):
        return False  # nonces are per request; RPs check them (OIDC Core §3.1.3.7)

    def process_token(self, grant, response):
        _, token, _ = response
        request = grant.request
        if "openid" not in (token.get("scope") or "").split():
            return token
        code = request.authorization_code
        token["id_token"] = build_id_token(request.client, request.user, code,
                                           token.get("access_token"), code.nonce)
        return token


def refresh_id_token(grant, response):
    """OIDC Core §12.2: a refresh returns a new ID token with the original authentication
    facts (signed with the *current* key)."""
    _, token, _ = response
    request = grant.request
    if "openid" in (token.get("scope") or "").split():
        token["id_token"] = build_id_token(request.client, request.user, request.refresh_token,
                                           token.get("access_token"), None)
    return token


class RefreshWithIdToken:
    def __call__(self, grant):
        grant.register_hook("after_create_token_response", refresh_id_token)


# --------------------------------------------------------------------------- endpoints

class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        return presented_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        row = token.row
        if token.kind == "refresh_token":
            # RFC 7009 §2.1: revoking a refresh token revokes the grant's access tokens too.
            revoke_grant(row.grant_id, "revoked_by_client", row.client_id)
        else:
            db.session.execute(update(Token).where(Token.id == row.id).values(revoked_at=now()))
            db.session.commit()


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return presented_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        # A portal introspects tokens issued to itself (for its own APIs).
        return token.row.client_id == client.client_id

    def introspect_token(self, token):
        t, row = now(), token.row
        if token.kind == "refresh_token":
            active = (row.revoked_at is None and row.refresh_used_at is None
                      and (row.refresh_expires_at or 0) > t)
            exp = row.refresh_expires_at
        else:
            active = row.revoked_at is None and row.access_expires_at > t
            exp = row.access_expires_at
        if not active:
            return {"active": False}
        return {"active": True, "scope": row.scope, "client_id": row.client_id,
                "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
                "exp": int(exp), "iat": int(row.issued_at), "sub": row.sub,
                "aud": row.client_id, "iss": settings()["issuer"], "acr": row.acr,
                "auth_time": row.auth_time}

    def create_endpoint_response(self, request):
        # RFC 7662 §2.2: an inactive, unknown or foreign token is just {"active": false}.
        client = self.authenticate_endpoint_client(request)
        self.check_params(request, client)
        token = self.query_token(request.form.get("token"), request.form.get("token_type_hint"))
        if token is None or not self.check_permission(token, client, request):
            body = {"active": False}
        else:
            body = self.introspect_token(token)
        return 200, body, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


def safe_client_secret_basic(query_client_, request):
    """Authlib's client_secret_basic raises on some malformed headers (non-ASCII, bad UTF-8,
    nothing after "Basic"): treat them as no credentials, i.e. 401 invalid_client."""
    try:
        return authenticate_client_secret_basic(query_client_, request)
    except (ValueError, IndexError):
        return None


class Issuer(IssuerParameter):
    def get_issuer(self):
        return settings()["issuer"]


def server() -> Server:
    return current_app.extensions["idp.oauth2"]


def init_app(app) -> None:
    s = app.config["IDP"]
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": s["access_token_ttl"],
                                             "refresh_token": s["access_token_ttl"]}
    # 256-bit tokens from one os.urandom call each (Authlib's default draws every character
    # with SystemRandom.choice: ~90 urandom calls per token response).
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = opaque_token
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = opaque_token
    # No OAUTH2_SCOPES_SUPPORTED: unknown scopes are dropped, not refused (RFC 6749 §3.3;
    # the conformance suite asks for `address` and expects success).
    srv = Server()
    srv.init_app(app, query_client=query_client, save_token=save_token)
    srv.register_client_auth_method("client_secret_basic", safe_client_secret_basic)
    srv.register_grant(CodeGrant, [S256OnlyChallenge(required=True), OpenIDExtension()])
    srv.register_grant(RefreshGrant, [RefreshWithIdToken()])
    srv.register_endpoint(Revocation)
    srv.register_endpoint(Introspection)
    srv.register_extension(Issuer())
    app.extensions["idp.oauth2"] = srv
