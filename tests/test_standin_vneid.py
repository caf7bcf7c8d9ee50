"""The VNeID stand-in (standins/vneid.py) itself, over real HTTP: Shape A with its encrypted
code and envelopes, the OIDC mode with signed ID tokens, PKCE, key rotation and back-channel
logout, and every named fault."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from flask import Flask, request

from standins import vneid
from tests.support.standins import serve_wsgi
from tests.support.vneid import cancel_login, fake_login, raw_param, rp_key, serve_vneid

REDIRECT = "http://127.0.0.1:1/dang-nhap/vneid/callback"
POST_LOGOUT = "http://127.0.0.1:1/da-dang-xuat"
AN, TRANG, BAO = "066085004217", "066190008812", "001200000001"


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict, dict]:
    head, body, _ = token.split(".")
    return json.loads(unb64url(head)), json.loads(unb64url(body))


def verify_jwt(token: str, jwks: dict) -> dict:
    """The claims, after checking the RS256 signature against the JWKS key of its kid."""
    header, claims = jwt_parts(token)
    assert header["alg"] == "RS256"
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    key = RSAPublicNumbers(int.from_bytes(unb64url(jwk["e"]), "big"),
                           int.from_bytes(unb64url(jwk["n"]), "big")).public_key()
    head, body, signature = token.split(".")
    key.verify(unb64url(signature), f"{head}.{body}".encode(), padding.PKCS1v15(),
               hashes.SHA256())
    return claims


@pytest.fixture(scope="module")
def shape_a():
    with serve_vneid("vneid-encrypted", redirect_uri=REDIRECT,
                     post_logout_redirect_uri=POST_LOGOUT) as service:
        yield service


@pytest.fixture(scope="module")
def receiver():
    """The RP's back-channel logout endpoint: records every logout_token."""
    received: list[str] = []
    app = Flask("backchannel")

    @app.post("/backchannel")
    def backchannel():
        received.append(request.form["logout_token"])
        return "", 200
    with serve_wsgi(app) as base:
        yield f"{base}/backchannel", received


@pytest.fixture(scope="module")
def oidc(receiver):
    with serve_vneid("oidc", redirect_uri=REDIRECT, post_logout_redirect_uri=POST_LOGOUT,
                     backchannel_logout_uri=receiver[0]) as service:
        yield service


@pytest.fixture(autouse=True)
def fresh(request):
    for name in ("shape_a", "oidc"):
        if name in request.fixturenames:
            request.getfixturevalue(name).control.reset()


def token_form(service, code: str, **extra: str) -> dict:
    return {"grant_type": "authorization_code", "code": code, "client_id": service.client_id,
            "client_secret": service.client_secret, "redirect_uri": service.redirect_uri,
            **extra}


def shape_a_login(service, pid: str = AN) -> tuple[str, str, str]:
    """(encrypted code as received, encrypt_key, plain code)."""
    location = fake_login(requests.Session(), service.authorize_url(), pid)
    code, encrypt_key = raw_param(location, "code"), raw_param(location, "encrypt_key")
    plain = rp_key().decrypt(code, encrypt_key).decode()
    return code, encrypt_key, plain


def shape_a_token(service, pid: str = AN) -> str:
    _, encrypt_key, plain = shape_a_login(service, pid)
    r = requests.post(f"{service.url}/token",
                      data=token_form(service, plain, encrypt_key=encrypt_key), timeout=5)
    assert r.status_code == 200
    return rp_key().open_envelope(r.json())["access_token"]


# --- Shape A -------------------------------------------------------------------------------

def test_shape_a_happy_path(shape_a):
    location = fake_login(requests.Session(), shape_a.authorize_url(nonce="n"), AN)
    assert location.startswith(REDIRECT + "?")
    assert raw_param(location, "state") == "state-1"
    code, encrypt_key = raw_param(location, "code"), raw_param(location, "encrypt_key")
    plain = rp_key().decrypt(code, encrypt_key).decode()
    guids = plain.split(".")
    assert len(guids) == 2 and all(len(g) == 36 for g in guids)
    r = requests.post(f"{shape_a.url}/token",
                      data=token_form(shape_a, plain, encrypt_key=encrypt_key), timeout=5)
    assert r.status_code == 200 and set(r.json()) == {"data", "key"}
    tokens = rp_key().open_envelope(r.json())
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 1800
    assert "id_token" not in tokens and tokens["scope"] == "openid"
    info = requests.get(f"{shape_a.url}/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    assert rp_key().open_envelope(info.json()) == {
        "citizenPid": AN, "fullName": "Nguyễn Văn An", "birthDate": "1985-03-14",
        "accountType": "CONG_DAN", "accountLevel": 2}


def test_plus_kept_literal_in_location(shape_a):
    shape_a.control.settings(force_plus=True)
    location = fake_login(requests.Session(), shape_a.authorize_url(), TRANG)
    query = urlsplit(location).query
    code = raw_param(location, "code")
    assert "+" in code and f"code={code}" in query  # '+', '/', '=' unescaped
    assert rp_key().decrypt(code, raw_param(location, "encrypt_key"))


def test_raw_encrypted_code_switch(shape_a):
    shape_a.control.settings(token_code="encrypted")
    code, encrypt_key, plain = shape_a_login(shape_a)
    assert requests.post(f"{shape_a.url}/token", timeout=5, data=token_form(
        shape_a, plain, encrypt_key=encrypt_key)).status_code == 400
    code, encrypt_key, _ = shape_a_login(shape_a)
    r = requests.post(f"{shape_a.url}/token", timeout=5,
                      data=token_form(shape_a, code, encrypt_key=encrypt_key))
    assert r.status_code == 200 and rp_key().open_envelope(r.json())["access_token"]


def test_plain_mode_without_encryption(shape_a):
    shape_a.control.settings(encrypt_code=False, encrypt_responses=False,
                             birth_date_format="YYYYMMDD")
    location = fake_login(requests.Session(), shape_a.authorize_url(), BAO)
    assert raw_param(location, "encrypt_key") is None
    r = requests.post(f"{shape_a.url}/token", timeout=5,
                      data=token_form(shape_a, raw_param(location, "code")))
    info = requests.get(f"{shape_a.url}/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert info.json()["birthDate"] == "20000115" and info.json()["accountLevel"] == 1


def test_code_single_use_and_expiry(shape_a):
    _, encrypt_key, plain = shape_a_login(shape_a)
    form = token_form(shape_a, plain, encrypt_key=encrypt_key)
    first = requests.post(f"{shape_a.url}/token", data=form, timeout=5)
    assert first.status_code == 200
    access = rp_key().open_envelope(first.json())["access_token"]
    replay = requests.post(f"{shape_a.url}/token", data=form, timeout=5)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert requests.get(f"{shape_a.url}/userinfo", timeout=5, headers={
        "Authorization": f"Bearer {access}"}).status_code == 401  # withdrawn on replay
    _, encrypt_key, plain = shape_a_login(shape_a)
    shape_a.control.settings(clock_offset=11)
    late = requests.post(f"{shape_a.url}/token", timeout=5,
                         data=token_form(shape_a, plain, encrypt_key=encrypt_key))
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_token_endpoint_refusals(shape_a):
    _, encrypt_key, plain = shape_a_login(shape_a)
    form = token_form(shape_a, plain, encrypt_key=encrypt_key)
    as_json = requests.post(f"{shape_a.url}/token", json=form, timeout=5)
    assert as_json.status_code == 415
    wrong = requests.post(f"{shape_a.url}/token", data={**form, "client_secret": "x"},
                          timeout=5)
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
    other_uri = requests.post(f"{shape_a.url}/token", timeout=5,
                              data={**form, "redirect_uri": REDIRECT + "/"})
    assert other_uri.status_code == 400
    first_plain = plain
    _, encrypt_key, plain = shape_a_login(shape_a)
    shape_a.control.settings(allowed_ips=["10.9.9.9"])
    blocked = requests.post(f"{shape_a.url}/token", timeout=5,
                            data=token_form(shape_a, plain, encrypt_key=encrypt_key))
    assert blocked.status_code == 401
    recorded = [r for r in shape_a.control.requests() if r["path"] == "/token"]
    assert recorded[0]["json"]["code"] == first_plain
    assert recorded[1]["form"]["client_secret"] == "x"


def test_authorize_refuses_without_redirect(shape_a):
    for params in ({"redirect_uri": REDIRECT + "x"}, {"client_id": "someone"}):
        r = requests.get(shape_a.authorize_url(**params), allow_redirects=False, timeout=5)
        assert r.status_code == 400 and "Location" not in r.headers


def test_login_page_and_cancel(shape_a):
    page = requests.get(shape_a.authorize_url(), timeout=5)
    assert "Đăng nhập bằng tài khoản định danh điện tử VNeID (môi trường thử nghiệm)" \
        in page.text
    assert "Võ Thị Thu Trang" in page.text and "066078009934" in page.text
    location = cancel_login(requests.Session(), shape_a.authorize_url(state="s 2"))
    assert parse_qs(urlsplit(location).query) == {"error": ["access_denied"],
                                                  "state": ["s 2"]}
    shape_a.control.settings(cancel_error="login_cancelled")
    assert "error=login_cancelled" in cancel_login(requests.Session(),
                                                   shape_a.authorize_url())
    bare = requests.post(f"{shape_a.url}/authorize", timeout=5, allow_redirects=False, data={
        "response_type": "code", "client_id": "idp-test", "redirect_uri": REDIRECT,
        "citizen": AN})
    assert bare.status_code == 400  # no page token: not a bare POST


def test_profile_and_logout(shape_a):
    access = shape_a_token(shape_a)
    profile = requests.get(f"{shape_a.url}/api/idp/third-party/view-info",
                           params={"token_id": access}, timeout=5)
    assert profile.status_code == 200 and "Nguyễn Văn An" in profile.text
    out = requests.get(f"{shape_a.url}/api/idp/third-party/logout", allow_redirects=False,
                       params={"token_id": access, "redirect_uri": POST_LOGOUT}, timeout=5)
    assert out.status_code == 302 and out.headers["Location"] == POST_LOGOUT
    assert requests.get(f"{shape_a.url}/userinfo", timeout=5, headers={
        "Authorization": f"Bearer {access}"}).status_code == 401
    access = shape_a_token(shape_a)
    out = requests.get(f"{shape_a.url}/api/idp/third-party/logout", allow_redirects=False,
                       params={"token_id": access, "redirect_uri": "http://evil"}, timeout=5)
    assert out.status_code == 200 and "Đã đăng xuất" in out.text


def test_userinfo_refuses_bad_token(shape_a):
    assert requests.get(f"{shape_a.url}/userinfo", timeout=5).status_code == 401
    access = shape_a_token(shape_a)
    shape_a.control.settings(clock_offset=1801)
    assert requests.get(f"{shape_a.url}/userinfo", timeout=5, headers={
        "Authorization": f"Bearer {access}"}).status_code == 401


def test_citizens_replaced(shape_a):
    shape_a.control.citizens([{"citizenPid": "079300000009", "fullName": "Lý Thị Mới",
                               "birthDate": "2003-12-01", "accountLevel": 1}])
    page = requests.get(shape_a.authorize_url(), timeout=5)
    assert "Lý Thị Mới" in page.text and "Nguyễn Văn An" not in page.text


# --- faults --------------------------------------------------------------------------------

def faulted(service, fault: str, what: str = "token") -> requests.Response:
    """The /token (or /userinfo) answer with `fault` set."""
    access = shape_a_token(service) if what == "userinfo" else ""
    _, encrypt_key, plain = shape_a_login(service)
    service.control.settings(fault=fault)
    if what == "userinfo":
        return requests.get(f"{service.url}/userinfo", timeout=5,
                            headers={"Authorization": f"Bearer {access}"})
    return requests.post(f"{service.url}/token", timeout=5,
                         data=token_form(service, plain, encrypt_key=encrypt_key))


@pytest.mark.parametrize("what", ["token", "userinfo"])
def test_envelope_faults(shape_a, what):
    def opens(body: dict) -> bool:
        try:
            rp_key().open_envelope(body)
            return True
        except Exception:  # noqa: BLE001 — any failure is the point
            return False
    for fault in ("corrupt_key", "corrupt_data", "bad_padding", "truncated"):
        shape_a.control.reset()
        r = faulted(shape_a, fault, what)
        assert r.status_code == 200 and not opens(r.json()), fault
    shape_a.control.reset()
    body = faulted(shape_a, "missing_member", what).json()
    assert "data" in body and "key" not in body
    shape_a.control.reset()
    assert len(faulted(shape_a, "oversized", what).content) > 2 * 1024 * 1024


def test_bad_padding_unwraps_but_does_not_unpad(shape_a):
    body = faulted(shape_a, "bad_padding").json()
    assert len(rp_key().unwrap(body["key"])) == 32
    with pytest.raises(ValueError):
        rp_key().open_envelope(body)


def test_http_faults_and_latency(shape_a):
    assert faulted(shape_a, "error").status_code == 500
    shape_a.control.reset()
    html = faulted(shape_a, "html")
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    shape_a.control.reset()
    assert faulted(shape_a, "malformed").json() == {"surprise": "this is not the protocol"}
    shape_a.control.reset()
    shape_a.control.settings(latency=0.05)
    started = time.monotonic()
    shape_a_token(shape_a)
    assert time.monotonic() - started >= 0.05
    assert requests.get(f"{shape_a.url}/_control/settings", timeout=5).status_code == 200


def test_unknown_fault_refused(shape_a):
    r = requests.post(f"{shape_a.url}/_control/settings", json={"fault": "nope"}, timeout=5)
    assert r.status_code == 400


# --- OIDC mode -----------------------------------------------------------------------------

def pkce() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(b"v" * 40).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def oidc_login(service, pid: str = AN, **params: str) -> dict:
    """The redirect's query after logging in with nonce and PKCE."""
    location = fake_login(requests.Session(), service.authorize_url(**params), pid)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def oidc_tokens(service, pid: str = AN, **extra: str) -> requests.Response:
    verifier, challenge = pkce()
    query = oidc_login(service, pid, nonce="n-1", code_challenge=challenge,
                       code_challenge_method="S256")
    return requests.post(f"{service.url}/token", timeout=5, data=token_form(
        service, query["code"], code_verifier=verifier, **extra))


def test_discovery_and_jwks(oidc):
    config = requests.get(f"{oidc.url}/.well-known/openid-configuration", timeout=5).json()
    assert config["issuer"] == oidc.url and config["jwks_uri"] == f"{oidc.url}/jwks"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["backchannel_logout_supported"] is True
    assert config["authorization_response_iss_parameter_supported"] is True
    keys = requests.get(config["jwks_uri"], timeout=5).json()["keys"]
    assert len(keys) == 1 and keys[0]["kid"] and keys[0]["alg"] == "RS256"


def test_oidc_happy_path(oidc):
    verifier, challenge = pkce()
    query = oidc_login(oidc, TRANG, nonce="n-1", code_challenge=challenge,
                       code_challenge_method="S256")
    assert query["iss"] == oidc.url and query["state"] == "state-1"
    auth = (oidc.client_id, oidc.client_secret)  # client_secret_basic
    form = token_form(oidc, query["code"], code_verifier=verifier)
    del form["client_secret"]
    r = requests.post(f"{oidc.url}/token", data=form, auth=auth, timeout=5)
    assert r.status_code == 200
    tokens = r.json()
    jwks = requests.get(f"{oidc.url}/jwks", timeout=5).json()
    claims = verify_jwt(tokens["id_token"], jwks)
    assert claims["iss"] == oidc.url and claims["aud"] == oidc.client_id
    assert claims["nonce"] == "n-1" and claims["acr"] == "2" and claims["sid"]
    assert claims["preferred_username"] == TRANG and claims["sub"] != TRANG
    assert claims["exp"] - claims["iat"] == 300
    info = requests.get(f"{oidc.url}/userinfo", timeout=5, headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info["sub"] == claims["sub"] and info["birthdate"] == "1990-06-25"
    assert info["citizenPid"] == TRANG and info["name"] == "Võ Thị Thu Trang"


def test_pkce_checked(oidc):
    verifier, challenge = pkce()
    for sent in ({}, {"code_verifier": "wrong" * 10}):
        query = oidc_login(oidc, code_challenge=challenge, code_challenge_method="S256")
        r = requests.post(f"{oidc.url}/token", data=token_form(oidc, query["code"], **sent),
                          timeout=5)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    location = requests.get(oidc.authorize_url(code_challenge=challenge,
                                               code_challenge_method="plain"),
                            allow_redirects=False, timeout=5).headers["Location"]
    assert "error=invalid_request" in location


def test_key_rotation(oidc):
    old = requests.get(f"{oidc.url}/jwks", timeout=5).json()["keys"][0]["kid"]
    new = oidc.control.rotate_key()["kid"]
    kids = [k["kid"] for k in requests.get(f"{oidc.url}/jwks", timeout=5).json()["keys"]]
    assert kids == [new]
    header, _ = jwt_parts(oidc_tokens(oidc).json()["id_token"])
    assert header["kid"] == new != old
    newer = oidc.control.rotate_key(keep_old=True)["kid"]
    kids = [k["kid"] for k in requests.get(f"{oidc.url}/jwks", timeout=5).json()["keys"]]
    assert kids == [newer, new]


@pytest.mark.parametrize("fault", ["bad_id_token_signature", "wrong_issuer", "wrong_aud",
                                   "expired_id_token", "wrong_nonce", "unknown_kid"])
def test_id_token_faults(oidc, fault):
    oidc.control.settings(fault=fault)
    token = oidc_tokens(oidc).json()["id_token"]
    jwks = requests.get(f"{oidc.url}/jwks", timeout=5).json()
    header, claims = jwt_parts(token)
    if fault in ("bad_id_token_signature", "unknown_kid"):
        with pytest.raises(Exception):  # noqa: B017 — bad signature or no such kid
            verify_jwt(token, jwks)
        return
    verify_jwt(token, jwks)
    if fault == "wrong_issuer":
        assert claims["iss"] != oidc.url
    elif fault == "wrong_aud":
        assert claims["aud"] != oidc.client_id
    elif fault == "expired_id_token":
        assert claims["exp"] < time.time()
    else:
        assert claims["nonce"] != "n-1"


def test_wrong_iss_param(oidc):
    oidc.control.settings(fault="wrong_iss_param")
    assert oidc_login(oidc)["iss"] != oidc.url


def test_end_session_and_backchannel(oidc, receiver):
    url, received = receiver
    received.clear()
    tokens = oidc_tokens(oidc).json()
    r = requests.get(f"{oidc.url}/logout", allow_redirects=False, timeout=5, params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT,
        "state": "bye"})
    assert r.status_code == 302 and r.headers["Location"] == f"{POST_LOGOUT}?state=bye"
    assert requests.get(f"{oidc.url}/userinfo", timeout=5, headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    jwks = requests.get(f"{oidc.url}/jwks", timeout=5).json()
    claims = verify_jwt(received[-1], jwks)
    _, id_claims = jwt_parts(tokens["id_token"])
    assert claims["sid"] == id_claims["sid"] and claims["sub"] == id_claims["sub"]
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in claims and claims["exp"] - claims["iat"] == 120
    unregistered = requests.get(f"{oidc.url}/logout", allow_redirects=False, timeout=5,
                                params={"post_logout_redirect_uri": "http://evil"})
    assert unregistered.status_code == 200


def test_backchannel_from_control(oidc, receiver):
    url, received = receiver
    received.clear()
    tokens = oidc_tokens(oidc, BAO).json()
    assert oidc.control.backchannel_logout(citizenPid=BAO)["status"] == 200
    assert jwt_parts(received[-1])[1]["sid"] == jwt_parts(tokens["id_token"])[1]["sid"]
    assert requests.get(f"{oidc.url}/userinfo", timeout=5, headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    jwks = requests.get(f"{oidc.url}/jwks", timeout=5).json()
    for fault in ("bad_signature", "wrong_aud", "with_nonce", "no_events"):
        oidc.control.settings(logout_token_fault=fault)
        sid = jwt_parts(oidc_tokens(oidc).json()["id_token"])[1]["sid"]
        assert oidc.control.backchannel_logout(sid=sid)["status"] == 200
        _, claims = jwt_parts(received[-1])
        if fault == "bad_signature":
            with pytest.raises(Exception):  # noqa: B017
                verify_jwt(received[-1], jwks)
        elif fault == "wrong_aud":
            assert claims["aud"] != oidc.client_id
        elif fault == "with_nonce":
            assert "nonce" in claims
        else:
            assert "events" not in claims


def test_cli_settings(tmp_path):
    pem = tmp_path / "rp.pem"
    pem.write_text(rp_key().pem_public(), encoding="ascii")
    args = vneid.parse_args(["--port", "0", "--redirect-uri", REDIRECT,
                             "--rp-public-key", str(pem), "--issuer", "http://x/"])
    settings = vneid.settings_from(args)
    assert settings["issuer"] == "http://x" and len(settings["citizens"]) == 4
    app = vneid.create_app(settings)
    assert app.test_client().get("/.well-known/openid-configuration").json["issuer"] \
        == "http://x"
    with pytest.raises(ValueError):
        vneid.create_app({**settings, "rp_public_key_pem": ""})
