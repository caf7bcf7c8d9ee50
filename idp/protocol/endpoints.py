"""Machine-facing endpoints: discovery, JWKS, token, userinfo, revocation, introspection,
health. Discovery and JWKS are served from precomputed bytes; userinfo reads one indexed row."""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, request
from sqlalchemy import bindparam, exists, select, text

from idp.platform.crypto import sha256_hex
from idp.platform.db import db, now
from idp.platform.models import Citizen, FederatedIdentity, Token
from idp.platform.web import csrf
from idp.protocol import claims, oauth2

bp = Blueprint("endpoints", __name__)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def discovery_document(issuer: str) -> dict:
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "userinfo_endpoint": issuer + "/userinfo",
        "jwks_uri": issuer + "/jwks.json",
        "revocation_endpoint": issuer + "/revoke",
        "introspection_endpoint": issuer + "/introspect",
        "scopes_supported": claims.SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": oauth2.CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": oauth2.CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": claims.ACR_VALUES,
        "claims_supported": claims.CLAIMS_SUPPORTED,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page", "touch"],
        "ui_locales_supported": ["vi", "en"],
        "claims_locales_supported": ["vi"],
        "authorization_response_iss_parameter_supported": True,
        "end_session_endpoint": issuer + "/logout",
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


def discovery_bytes(issuer: str) -> tuple[bytes, str]:
    """The discovery document as served (compact UTF-8 JSON) and its ETag."""
    body = json.dumps(discovery_document(issuer), separators=(",", ":"),
                      ensure_ascii=False).encode()
    return body, '"' + sha256_hex(body.decode())[:32] + '"'


def _static_json(body: bytes, etag: str, max_age: int) -> Response:
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": etag,
               "Access-Control-Allow-Origin": "*"}
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    return Response(body, 200, headers=headers, content_type="application/json")


@bp.get("/.well-known/openid-configuration")
def discovery():
    """Served by protocol/static_documents.py below Flask; this view answers what the
    middleware passes on (and apps built without it)."""
    cache = current_app.extensions.setdefault("idp.cache", {})
    if "discovery" not in cache:
        cache["discovery"] = discovery_bytes(current_app.config["IDP"]["issuer"])
    body, etag = cache["discovery"]
    return _static_json(body, etag, 3600)


@bp.get("/jwks.json")
def jwks():
    body, etag = current_app.extensions["idp.keyring"].jwks()
    return _static_json(body, etag, current_app.config["IDP"]["jwks_max_age"])


def _repeated_parameter() -> Response | None:
    """RFC 6749 §3.2: request parameters MUST NOT be included more than once."""
    for key in request.form:
        if len(request.form.getlist(key)) > 1:
            body = json.dumps({"error": "invalid_request",
                               "error_description": f"Repeated parameter {key[:40]}"})
            return Response(body, 400, headers=NO_STORE, content_type="application/json")
    return None


# Credentials of a client authentication method other than HTTP Basic, sent in the body.
BODY_CLIENT_CREDENTIALS = ("client_secret", "client_assertion", "client_assertion_type")


def _several_client_auth_methods() -> Response | None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request.
    HTTP Basic *and* a secret (or assertion) in the body is refused as invalid_request, before
    either is checked (a `client_id` alone in the body is not a method)."""
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    if scheme.lower() != "basic":
        return None
    if not any(request.form.get(name) or request.args.get(name)
               for name in BODY_CLIENT_CREDENTIALS):
        return None
    body = json.dumps({"error": "invalid_request",
                       "error_description": "More than one client authentication method"})
    return Response(body, 400, headers=NO_STORE, content_type="application/json")


def _refused_client_request() -> Response | None:
    refused = _repeated_parameter()
    return refused if refused is not None else _several_client_auth_methods()


@bp.post("/token")
@csrf.exempt
def token():
    if (refused := _refused_client_request()) is not None:
        return refused
    response = oauth2.server().create_token_response()
    response.headers.update(NO_STORE)
    return response


def _client_endpoint(name: str):
    """RFC 7009 revocation / RFC 7662 introspection: the client's request checked first."""
    if (refused := _refused_client_request()) is not None:
        return refused
    return oauth2.server().create_endpoint_response(name)


@bp.post("/revoke")
@csrf.exempt
def revoke():
    return _client_endpoint("revocation")


@bp.post("/introspect")
@csrf.exempt
def introspect():
    return _client_endpoint("introspection")


def _bearer_error(error: str, description: str, status: int) -> Response:
    header = f'Bearer error="{error}", error_description="{description}"'
    body = json.dumps({"error": error, "error_description": description})
    return Response(body, status, headers={"WWW-Authenticate": header, **NO_STORE},
                    content_type="application/json")


# The token and its account's claims in one prebuilt statement (issue 14).
_USERINFO = select(
    Token.scope, Token.access_expires_at, Token.revoked_at, Citizen.status, Citizen.sub,
    Citizen.id_number, Citizen.full_name, Citizen.birth_date, Citizen.gender, Citizen.phone,
    Citizen.email, Citizen.updated_at, Citizen.account_type, Citizen.org_mst, Citizen.org_mns,
    Citizen.legal_representative,
    exists().where(FederatedIdentity.citizen_id == Citizen.id).label("vneid_linked"),
).join(Citizen, Citizen.id == Token.citizen_id).where(
    Token.access_token_hash == bindparam("digest"))


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    """OIDC Core §5.3: bearer token in the Authorization header (or, for POST, the form body
    per RFC 6750 §2.2); JSON claims for the token's scope. A token sent by more than one
    method (header, body, query) is an invalid_request (RFC 6750 §2, §3.1)."""
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    header_token = scheme.lower() == "bearer" and bool(value.strip())
    sent = [header_token] + [bool(v) for v in request.form.getlist("access_token")] + \
        [bool(v) for v in request.args.getlist("access_token")]
    if sum(sent) > 1:
        return _bearer_error("invalid_request",
                             "The access token was sent by more than one method", 400)
    if header_token:
        access_token = value.strip()
    elif request.method == "POST" and request.form.get("access_token") and not auth:
        access_token = request.form["access_token"]
    else:
        return Response(status=401, headers={"WWW-Authenticate": 'Bearer realm="userinfo"',
                                             **NO_STORE})
    if len(access_token) > 200:
        return _bearer_error("invalid_token", "The access token is invalid", 401)
    row = db.session.connection().execute(_USERINFO, {"digest": sha256_hex(access_token)}).first()
    if row is None or row.revoked_at is not None or row.access_expires_at <= now():
        return _bearer_error("invalid_token", "The access token is invalid or expired", 401)
    if "openid" not in row.scope.split():
        return _bearer_error("insufficient_scope", "The openid scope is required", 403)
    if row.status != "active":
        return _bearer_error("invalid_token", "The account is not active", 401)
    body = json.dumps(claims.userinfo(row, row.scope), ensure_ascii=False)
    return Response(body, 200, headers=NO_STORE, content_type="application/json")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


def _database_up() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        db.session.rollback()
        return False


def _redis_up(client) -> bool:
    """The client's socket timeouts (store.redis_client) bound the wait."""
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False


@bp.get("/readyz")
def readyz():
    """Ready when the database and, if configured (`redis_url`), Redis answer:
    {"status": "ok"|"unavailable", "database": "up"|"down"[, "redis": "up"|"down"]}."""
    checks = {"database": "up" if _database_up() else "down"}
    redis_client = current_app.extensions.get("idp.redis")
    if redis_client is not None:
        checks["redis"] = "up" if _redis_up(redis_client) else "down"
    ready = all(v == "up" for v in checks.values())
    return {"status": "ok" if ready else "unavailable", **checks}, 200 if ready else 503, \
        NO_STORE
