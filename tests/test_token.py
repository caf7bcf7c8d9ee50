"""Token endpoint, ID token, refresh rotation, userinfo, revocation, introspection."""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import (
    CITIZEN,
    ISSUER,
    NATIONAL_CB,
    PORTAL_CB,
    SECRET,
    SPA_CB,
    auth_params,
    basic,
    get_tokens,
    login_and_get_code,
    pkce_pair,
    token_request,
)


def jwks(client) -> KeySet:
    return KeySet.import_key_set(client.get("/jwks.json").get_json())


def decode(client, id_token: str) -> tuple[dict, dict]:
    token = jwt.decode(id_token, jwks(client), algorithms=["ES256", "RS256"])
    return token.header, token.claims


# ---------------------------------------------------------------- happy paths

def test_code_exchange_returns_tokens_with_no_store(client):
    verifier, challenge = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=challenge, scope="openid profile"))
    r = token_request(client, q["code"], verifier)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    body = r.get_json()
    assert body["token_type"].lower() == "bearer" and body["expires_in"] > 0
    assert "refresh_token" not in body  # only with offline_access
    assert body["id_token"] and body["access_token"]


def test_id_token_claims_and_signature(client):
    body, params, _ = get_tokens(client)
    header, claims = decode(client, body["id_token"])
    assert header["alg"] == "ES256" and header["kid"]
    assert claims["iss"] == ISSUER and claims["aud"] == "portal" and claims["azp"] == "portal"
    assert claims["nonce"] == params["nonce"]
    now = time.time()
    assert claims["iat"] <= now + 1 and claims["exp"] > now
    assert abs(claims["auth_time"] - now) < 60
    # Every login reaches login_min_acr (LoA2): password, then the SMS code.
    assert claims["acr"] == "LoA2" and claims["amr"] == ["pwd", "sms", "mfa"] and claims["sid"]
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["sub"] and claims["sub"] != CITIZEN.id_number


def test_rs256_per_client(client):
    body, _, _ = get_tokens(client, client_id="national", redirect_uri=NATIONAL_CB)
    header, claims = decode(client, body["id_token"])
    assert header["alg"] == "RS256" and claims["aud"] == "national"


def test_client_secret_post_and_public_client(client):
    get_tokens(client, client_id="portal-post", auth="post")
    # Public client: no secret, PKCE only (consent first: it is third-party).
    from tests.support import authorize, form_action, hidden, login_form_submit, query
    client = client.application.test_client()  # a new browser, not logged in
    verifier, challenge = pkce_pair()
    params = auth_params(client_id="spa", redirect_uri=SPA_CB, challenge=challenge)
    r = authorize(client, params)
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.get(login_form_submit(client, html, CITIZEN.id_number, CITIZEN.password,
                                     second_factor=True).headers["Location"])
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                             "action": "allow"})
    code = query(client.get(r.headers["Location"]).headers["Location"])["code"]
    r = token_request(client, code, verifier, client_id="spa", redirect_uri=SPA_CB, auth="none")
    assert r.status_code == 200, r.get_data(as_text=True)


# ---------------------------------------------------------------- token errors

def _code(client, scope="openid"):
    verifier, challenge = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=challenge, scope=scope))
    return q["code"], verifier


@pytest.mark.parametrize("verifier_kind, error", [
    ("missing", "invalid_request"),
    ("wrong", "invalid_grant"),
    ("malformed", "invalid_request"),
])
def test_pkce_verifier_is_enforced(client, verifier_kind, error):
    code, verifier = _code(client)
    bad = {"missing": None, "wrong": pkce_pair()[0], "malformed": "x"}[verifier_kind]
    r = token_request(client, code, bad)
    assert r.status_code == 400 and r.get_json()["error"] == error


def test_redirect_uri_must_match(client):
    code, verifier = _code(client)
    r = token_request(client, code, verifier, redirect_uri=PORTAL_CB + "/other")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_401_with_www_authenticate(client):
    code, verifier = _code(client)
    r = token_request(client, code, verifier, secret="wrong" * 8)
    assert r.status_code == 401 and r.get_json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in r.headers
    # The code was not consumed by the failed client authentication.
    assert token_request(client, code, verifier).status_code == 200


def test_code_of_another_client_is_invalid_grant(client):
    code, verifier = _code(client)
    r = token_request(client, code, verifier, client_id="portal-post", auth="post")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("data", [
    {"grant_type": "password", "username": "x", "password": "y"},
    {"grant_type": "client_credentials"},
    {"grant_type": "implicit"},
    {},
])
def test_unsupported_grants(client, data):
    r = client.post("/token", data=data, headers=basic())
    assert r.status_code == 400
    assert r.get_json()["error"] in ("unsupported_grant_type", "invalid_request")


def test_garbage_code_and_huge_input_never_500(client):
    for code in ("", "x", "é" * 50, "a" * 5000):
        r = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                        "redirect_uri": PORTAL_CB, "code_verifier": "v" * 50},
                        headers=basic())
        assert r.status_code in (400, 413), (code[:10], r.status_code)


def test_expired_code_is_invalid_grant(client, monkeypatch):
    code, verifier = _code(client)
    import idp.protocol.oauth2
    later = time.time() + 3600
    monkeypatch.setattr(idp.protocol.oauth2, "now", lambda: later)
    r = token_request(client, code, verifier)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"


# ---------------------------------------------------------------- code single use

def test_replayed_code_fails_and_revokes_the_first_tokens(client):
    code, verifier = _code(client)
    first = token_request(client, code, verifier).get_json()
    auth = {"Authorization": "Bearer " + first["access_token"]}
    assert client.get("/userinfo", headers=auth).status_code == 200
    again = token_request(client, code, verifier)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers=auth).status_code == 401


def test_two_concurrent_redemptions_give_exactly_one_success(app):
    client = app.test_client()
    code, verifier = _code(client)
    barrier = threading.Barrier(2)
    results = []

    def redeem():
        c = app.test_client()
        barrier.wait()
        results.append(token_request(c, code, verifier).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 400]


# ---------------------------------------------------------------- refresh

def _refresh(client, rt, client_id="portal"):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": rt},
                       headers=basic(client_id))


def test_refresh_rotates_and_returns_a_new_id_token(client):
    body, _, _ = get_tokens(client)
    r = _refresh(client, body["refresh_token"])
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    new = r.get_json()
    assert new["refresh_token"] != body["refresh_token"]
    assert new["access_token"] != body["access_token"]
    _, old_claims = decode(client, body["id_token"])
    _, claims = decode(client, new["id_token"])
    assert claims["sub"] == old_claims["sub"] and claims["auth_time"] == old_claims["auth_time"]
    assert "nonce" not in claims
    assert _refresh(client, new["refresh_token"]).status_code == 200


def test_refresh_reuse_revokes_the_whole_family(client):
    body, _, _ = get_tokens(client)
    second = _refresh(client, body["refresh_token"]).get_json()
    reuse = _refresh(client, body["refresh_token"])
    assert reuse.status_code == 400 and reuse.get_json()["error"] == "invalid_grant"
    # The legitimate successor is dead too, and so are the access tokens.
    assert _refresh(client, second["refresh_token"]).status_code == 400
    for at in (body["access_token"], second["access_token"]):
        assert client.get("/userinfo", headers={"Authorization": "Bearer " + at}
                          ).status_code == 401


def test_refresh_token_of_another_client_is_refused(client):
    body, _, _ = get_tokens(client)
    r = client.post("/token", data={"grant_type": "refresh_token",
                                    "refresh_token": body["refresh_token"],
                                    "client_id": "portal-post", "client_secret": SECRET})
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    # ...without burning it for its owner.
    assert _refresh(client, body["refresh_token"]).status_code == 200


def test_refresh_cannot_widen_scope(client):
    body, _, _ = get_tokens(client)
    r = client.post("/token", data={"grant_type": "refresh_token",
                                    "refresh_token": body["refresh_token"],
                                    "scope": "openid profile dvcqg"}, headers=basic())
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_scope"


# ---------------------------------------------------------------- userinfo

def test_userinfo_get_and_post_with_scope_claims(client):
    body, _, _ = get_tokens(client, scope="openid profile phone email dvcqg")
    auth = {"Authorization": "Bearer " + body["access_token"]}
    get = client.get("/userinfo", headers=auth)
    post = client.post("/userinfo", headers=auth)
    assert get.status_code == post.status_code == 200
    info = get.get_json()
    assert info == post.get_json()
    _, claims = decode(client, body["id_token"])
    assert info["sub"] == claims["sub"]
    assert info["name"] == "Nguyễn Văn An" and info["family_name"] == "Nguyễn"
    assert info["phone_number"] == "+84941234947" and info["phone_number_verified"] is True
    assert info["SoDinhDanh"] == CITIZEN.id_number and info["NgayThangNamSinh"] == "19890315"
    assert info["GioiTinh"] == 1 and info["SoDienThoai"] == "0941234947"
    assert get.headers["Content-Type"].startswith("application/json")


def test_userinfo_releases_only_the_granted_scopes(client):
    body, _, _ = get_tokens(client, scope="openid")
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}
                      ).get_json()
    assert set(info) == {"sub"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer " + "x" * 500}])
def test_userinfo_rejects_bad_tokens_with_www_authenticate(client, headers):
    r = client.get("/userinfo", headers=headers)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------- revocation, introspection

def test_revoking_the_access_token(client):
    body, _, _ = get_tokens(client)
    r = client.post("/revoke", data={"token": body["access_token"],
                                     "token_type_hint": "access_token"}, headers=basic())
    assert r.status_code == 200
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}
                      ).status_code == 401


def test_revoking_the_refresh_token_kills_the_grant(client):
    body, _, _ = get_tokens(client)
    assert client.post("/revoke", data={"token": body["refresh_token"]},
                       headers=basic()).status_code == 200
    assert _refresh(client, body["refresh_token"]).status_code == 400
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}
                      ).status_code == 401


def test_revocation_of_unknown_token_is_200_and_needs_client_auth(client):
    assert client.post("/revoke", data={"token": "unknown"}, headers=basic()).status_code == 200
    assert client.post("/revoke", data={"token": "unknown"}).status_code in (400, 401)


def test_introspection(client):
    body, _, _ = get_tokens(client)
    r = client.post("/introspect", data={"token": body["access_token"]}, headers=basic())
    info = r.get_json()
    assert info["active"] is True and info["client_id"] == "portal" and info["scope"]
    assert info["iss"] == ISSUER and info["exp"] > time.time()
    # Another client learns nothing.
    r = client.post("/introspect", data={"token": body["access_token"],
                                         "client_id": "portal-post", "client_secret": SECRET})
    assert r.get_json() == {"active": False}
    client.post("/revoke", data={"token": body["access_token"]}, headers=basic())
    r = client.post("/introspect", data={"token": body["access_token"]}, headers=basic())
    assert r.get_json() == {"active": False}
    assert client.post("/introspect", data={"token": "x"}).status_code == 401 or \
        client.post("/introspect", data={"token": "x"}).status_code == 400


# ---------------------------------------------------------------- discovery and JWKS

def test_discovery_document(client):
    r = client.get("/.well-known/openid-configuration")
    doc = r.get_json()
    assert doc["issuer"] == ISSUER
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert set(doc["scopes_supported"]) >= {"openid", "profile", "phone", "email",
                                            "offline_access", "dvcqg"}
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                 "revocation_endpoint", "introspection_endpoint"):
        assert doc[name].startswith(ISSUER + "/")
    etag = r.headers["ETag"]
    assert client.get("/.well-known/openid-configuration",
                      headers={"If-None-Match": etag}).status_code == 304


def test_jwks_has_kids_cache_headers_and_etag(client):
    r = client.get("/jwks.json")
    keys = r.get_json()["keys"]
    assert len(keys) == 4  # ES256 and RS256, each current + next
    assert all(k["kid"] and k["use"] == "sig" for k in keys)
    assert len({k["kid"] for k in keys}) == 4
    assert all("d" not in k and "p" not in k for k in keys)  # public parts only
    assert "max-age" in r.headers["Cache-Control"]
    assert client.get("/jwks.json", headers={"If-None-Match": r.headers["ETag"]}
                      ).status_code == 304


def test_key_rotation_old_tokens_verify_new_tokens_use_new_kid(app, client):
    from idp.platform import keys as keymod
    from idp.platform.db import db
    old_body, _, _ = get_tokens(client)
    old_header, _ = decode(client, old_body["id_token"])
    before = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    with app.app_context():
        changes = keymod.rotate(app.extensions["idp.keyring"]._kek)
        app.extensions["idp.keyring"].invalidate()
    promoted = [kid for kid, old, new in changes if new == "current"]
    after = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    assert old_header["kid"] in after and set(promoted) <= before
    decode(client, old_body["id_token"])  # still verifies against the published JWKS
    new_body, _, _ = get_tokens(client, prompt="login")
    new_header, _ = decode(client, new_body["id_token"])
    assert new_header["kid"] != old_header["kid"] and new_header["kid"] in promoted
    # Refresh after rotation signs with the new key (Hydra#3573).
    refreshed = _refresh(client, old_body["refresh_token"]).get_json()
    assert decode(client, refreshed["id_token"])[0]["kid"] == new_header["kid"]
    # Retiring the previous key removes it from JWKS.
    with app.app_context():
        keymod.retire(old_header["kid"])
        app.extensions["idp.keyring"].invalidate()
        db.session.remove()
    assert old_header["kid"] not in {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    with pytest.raises(Exception):  # noqa: B017 - whatever joserfc raises for an unknown key
        decode(client, old_body["id_token"])


def test_json_error_bodies_have_no_500(client):
    for path in ("/token", "/revoke", "/introspect"):
        r = client.post(path, data="{not json", content_type="application/json")
        assert r.status_code < 500
    assert json.loads(client.get("/healthz").get_data())["status"] == "ok"
