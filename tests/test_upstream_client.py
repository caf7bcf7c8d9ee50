"""The IdP as a relying party of an upstream provider (idp/platform/upstream/client.py), over
real HTTP against a small upstream served on a loopback port: both modes' happy paths, every
refusal `finish()` can give, the ID token and logout token checks, and the logout URLs."""
from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from idp.platform.upstream import UpstreamError, UpstreamProvider, jwks
from idp.platform.upstream.settings import parse_provider
from tests.support.standins import closed_port_url, serve_wsgi

ISSUER = "https://id.example.gov.vn"
CLIENT = "cong-dvc"
SECRET = "s3cret-value"
PID = "001200000001"
BACKCHANNEL = "http://schemas.openid.net/event/backchannel-logout"


@cache
def rp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encrypt(plain: bytes, key_size: int) -> tuple[str, str]:
    key = os.urandom(key_size)
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    data = encryptor.update(padded) + encryptor.finalize()
    return b64(data), b64(rp_key().public_key().encrypt(key, padding.PKCS1v15()))


def seal(body: Any, key_size: int = 32) -> dict[str, str]:
    data, key = _encrypt(json.dumps(body, ensure_ascii=False).encode("utf-8"), key_size)
    return {"data": data, "key": key}


def encrypt_code(code: str) -> tuple[str, str]:
    return _encrypt(code.encode("ascii"), 32)


def signing_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})


KEY_A, KEY_B = signing_key("a"), signing_key("b")


class Upstream:
    """A provider in one process: /authorize redirects at once with a code; the rest follows
    `self.cfg`, which a test changes."""

    def __init__(self) -> None:
        self.url = ""
        self.cfg: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_forms: list[dict[str, str]] = []
        self.jwks_fetches = 0
        self.access_tokens: set[str] = set()
        self.app = self._app()

    def reset(self, **cfg: Any) -> None:
        self.cfg = {"mode": "oidc", "keys": [KEY_A], "sign_with": KEY_A, "claims": {},
                    "userinfo": {}, "encrypt_token": False, "encrypt_userinfo": False,
                    "encrypt_code": False, "token_status": 200, "userinfo_status": 200,
                    "token_body": None, "sleep": 0.0, "iss_param": None, **cfg}
        self.token_forms.clear()
        self.jwks_fetches = 0

    def id_token(self, nonce: str, claims: dict[str, Any]) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": CLIENT, "sub": "op-sub-1", "iat": now,
                "exp": now + 300, "nonce": nonce, "sid": "op-sid-1", **claims}
        body = {k: v for k, v in body.items() if v is not None}
        key = self.cfg["sign_with"]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)

    def _app(self) -> Flask:
        app = Flask("upstream")
        me = self

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(issuer=me.url, authorization_endpoint=f"{me.url}/authorize",
                           token_endpoint=f"{me.url}/token", jwks_uri=f"{me.url}/jwks",
                           userinfo_endpoint=f"{me.url}/userinfo",
                           end_session_endpoint=f"{me.url}/logout",
                           authorization_response_iss_parameter_supported=bool(
                               me.cfg.get("iss_supported")))

        @app.get("/jwks")
        def keys():
            me.jwks_fetches += 1
            return jsonify(keys=[k.as_dict(private=False) for k in me.cfg["keys"]])

        @app.get("/authorize")
        def authorize():
            args = request.args
            if args.get("error_test"):
                return "", 400
            plain = f"{secrets.token_hex(8)}.{secrets.token_hex(8)}"
            me.codes[plain] = dict(args)
            target = f"{args['redirect_uri']}?state={args['state']}"
            if me.cfg["encrypt_code"]:
                while True:  # VNeID's code is standard Base64: make sure a '+' travels
                    code, key = encrypt_code(plain)
                    if "+" in code:
                        break
                me.codes[code] = me.codes[plain]
                target += f"&code={code}&encrypt_key={key}"  # unescaped, as VNeID does
            else:
                target += f"&code={plain}"
            if me.cfg["iss_param"] is not None:
                target += f"&iss={me.cfg['iss_param']}"
            return redirect(target)

        @app.post("/token")
        def token():
            time.sleep(me.cfg["sleep"])
            form = request.form.to_dict()
            me.token_forms.append(form)
            if me.cfg["token_body"] is not None:
                return me.cfg["token_body"], me.cfg["token_status"], \
                    {"Content-Type": "application/json"}
            if me.cfg["token_status"] != 200:
                return jsonify(error="invalid_grant"), me.cfg["token_status"]
            granted = me.codes.get(form.get("code", ""))
            if granted is None or form.get("client_secret") != SECRET:
                return jsonify(error="invalid_grant"), 400
            body: dict[str, Any] = {"access_token": "at-" + secrets.token_hex(8),
                                    "token_type": "Bearer", "expires_in": 1800}
            if me.cfg["mode"] == "oidc":
                body["id_token"] = me.id_token(granted.get("nonce", ""), me.cfg["claims"])
            me.access_tokens.add(body["access_token"])
            return jsonify(seal(body, 16) if me.cfg["encrypt_token"] else body)

        @app.get("/userinfo")
        def userinfo():
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if bearer not in me.access_tokens:
                return "", 401
            if me.cfg["userinfo_status"] != 200:
                return "", me.cfg["userinfo_status"]
            info = {"citizenPid": PID, "fullName": "  Nguyễn Văn An ",
                    "birthDate": "1990-02-03", "accountType": "citizen", "accountLevel": 2}
            if me.cfg["mode"] == "oidc":
                info = {"sub": "op-sub-1", "preferred_username": PID,
                        "name": "Trần Thị Bình", "birthdate": "03/02/1990",
                        "accountLevel": "1"}
            info.update(me.cfg["userinfo"])
            info = {k: v for k, v in info.items() if v is not None}
            return jsonify(seal(info, 24) if me.cfg["encrypt_userinfo"] else info)

        return app


@pytest.fixture(scope="module")
def served() -> Iterator[Upstream]:
    upstream = Upstream()
    with serve_wsgi(upstream.app) as url:
        upstream.url = url
        yield upstream


@pytest.fixture
def upstream(served: Upstream) -> Upstream:
    served.reset()
    return served


def make(upstream: Upstream, tmp_path: Path, mode: str = "oidc", **table: Any) -> UpstreamProvider:
    (tmp_path / "rp.pem").write_bytes(pem(rp_key()))
    base: dict[str, Any] = {"mode": mode, "client_id": CLIENT, "client_secret": SECRET}
    if mode == "oidc":
        base |= {"issuer": upstream.url,
                 "discovery_url": f"{upstream.url}/.well-known/openid-configuration"}
    else:
        base |= {"authorization_endpoint": f"{upstream.url}/authorize",
                 "token_endpoint": f"{upstream.url}/token",
                 "userinfo_endpoint": f"{upstream.url}/userinfo",
                 "logout_endpoint": f"{upstream.url}/api/idp/third-party/logout",
                 "private_key_file": "rp.pem"}
    settings = parse_provider("vneid" if mode != "oidc" else "op", base | table, ISSUER,
                              tmp_path, {})
    upstream.cfg["mode"] = mode
    return UpstreamProvider(settings)


def sign_in(provider: UpstreamProvider, tamper=None):
    start = provider.begin()
    answer = requests.get(start.url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    raw = answer.headers["Location"].split("?", 1)[1]
    if tamper:
        raw = tamper(raw)
    return provider.finish(raw, start.expected)


def refused(reason: str, provider: UpstreamProvider, tamper=None) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        sign_in(provider, tamper)
    assert caught.value.reason == reason, caught.value.detail
    for secret in (PID, "Nguyễn", "Trần", SECRET):
        assert secret not in str(caught.value)
    return caught.value


# --- happy paths ------------------------------------------------------------------------------

def test_oidc_happy_path(upstream, tmp_path):
    provider = make(upstream, tmp_path)
    start = provider.begin()
    query = parse_qs(urlsplit(start.url).query)
    assert query["redirect_uri"] == [f"{ISSUER}/signin/upstream/op/callback"]
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] == [start.expected.nonce]
    assert len(start.expected.state) >= 22
    who = sign_in(provider)
    assert (who.provider, who.subject, who.pid, who.full_name) == \
        ("op", "op-sub-1", PID, "Trần Thị Bình")
    assert who.birth_date == datetime.date(1990, 2, 3) and who.account_level == 1
    assert who.sid == "op-sid-1" and who.id_token and who.access_token.startswith("at-")
    form = upstream.token_forms[-1]
    assert form["client_secret"] == SECRET and form["code_verifier"]
    assert form["redirect_uri"] == provider.redirect_uri and "encrypt_key" not in form
    assert PID not in repr(who)


@pytest.mark.parametrize("token_code", ["decrypted", "encrypted"])
def test_vneid_encrypted_happy_path_with_a_plus_in_the_code(upstream, tmp_path, token_code):
    provider = make(upstream, tmp_path, "vneid-encrypted", token_code=token_code)
    upstream.cfg.update(encrypt_code=True, encrypt_token=True, encrypt_userinfo=True)
    start = provider.begin()
    query = parse_qs(urlsplit(start.url).query)
    assert "nonce" not in query and "code_challenge" not in query
    answer = requests.get(start.url, allow_redirects=False, timeout=5)
    raw = answer.headers["Location"].split("?", 1)[1]
    assert "+" in raw.split("code=", 1)[1].split("&", 1)[0]
    who = provider.finish(raw, start.expected)
    assert (who.subject, who.pid, who.full_name, who.account_type, who.account_level) == \
        (PID, PID, "Nguyễn Văn An", "citizen", 2)
    assert who.birth_date == datetime.date(1990, 2, 3) and who.id_token is None
    form = upstream.token_forms[-1]
    assert "encrypt_key" in form and "code_verifier" not in form
    assert ("+" in form["code"]) == (token_code == "encrypted")


def test_vneid_plain_answers_and_switches(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted", send_nonce=True, send_pkce=True)
    start = provider.begin()
    query = parse_qs(urlsplit(start.url).query)
    assert "nonce" in query and query["code_challenge_method"] == ["S256"]
    upstream.cfg["userinfo"] = {"birthDate": "31/02/1990", "accountLevel": 3}
    who = sign_in(provider)
    assert who.birth_date is None and who.account_level is None
    assert upstream.token_forms[-1]["code_verifier"]


def test_birth_date_forms(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted")
    upstream.cfg["userinfo"] = {"birthDate": "19900203", "accountLevel": True}
    who = sign_in(provider)
    assert who.birth_date == datetime.date(1990, 2, 3) and who.account_level is None


# --- refusals in the callback -----------------------------------------------------------------

def test_state_mismatch(upstream, tmp_path):
    provider = make(upstream, tmp_path)
    refused("bad_state", provider, lambda raw: raw.replace("state=", "state=x"))
    refused("bad_state", provider, lambda raw: "&".join(
        p for p in raw.split("&") if not p.startswith("state=")))


def test_error_parameters(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted")
    start = provider.begin()
    for error, reason in (("access_denied", "denied"), ("server_error", "upstream_error")):
        with pytest.raises(UpstreamError) as caught:
            provider.finish(f"error={error}&state={start.expected.state}", start.expected)
        assert caught.value.reason == reason


def test_iss_parameter(upstream, tmp_path):
    provider = make(upstream, tmp_path)
    upstream.cfg["iss_param"] = "https://evil.example"
    refused("wrong_issuer", provider)
    upstream.cfg["iss_param"] = None
    upstream.cfg["iss_supported"] = True
    refused("wrong_issuer", make(upstream, tmp_path))  # fresh discovery: iss now required
    upstream.cfg["iss_param"] = upstream.url
    assert sign_in(make(upstream, tmp_path)).pid == PID
    upstream.cfg["iss_supported"] = False


def test_damaged_encrypted_code(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted")
    upstream.cfg["encrypt_code"] = True
    refused("bad_envelope", provider, lambda raw: raw.replace("encrypt_key=", "encrypt_key=AA"))


# --- the token and userinfo requests ----------------------------------------------------------

def test_upstream_500(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted")
    upstream.cfg["token_status"] = 500
    refused("upstream_error", provider)


def test_oidc_invalid_grant(upstream, tmp_path):
    provider = make(upstream, tmp_path)
    upstream.cfg["token_status"] = 400
    refused("bad_grant", provider)


@pytest.mark.parametrize(("body", "reason"), [
    ("not json", "bad_response"),
    ('{"token_type": "Bearer"}', "bad_response"),
    ('{"data": "AAAA", "key": "AAAA"}', "bad_envelope"),
    ('{"data": "AAAA"', "bad_response"),
    ('{"access_token": "x", "token_type": "mac"}', "bad_response"),
])
def test_bad_token_answers(upstream, tmp_path, body, reason):
    provider = make(upstream, tmp_path, "vneid-encrypted")
    upstream.cfg["token_body"] = body
    refused(reason, provider)


def test_oversized_answer(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted", max_response_bytes=1024)
    upstream.cfg["token_body"] = '{"access_token": "' + "x" * 4000 + '"}'
    refused("bad_response", provider)


def test_timeout(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted", timeout=0.3)
    upstream.cfg["sleep"] = 1.0
    refused("timeout", provider)


def test_unreachable(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted",
                    token_endpoint=f"{closed_port_url()}/token")
    refused("unreachable", provider)


def test_userinfo_failures(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted")
    upstream.cfg["userinfo_status"] = 500
    refused("upstream_error", provider)
    upstream.cfg["userinfo_status"] = 200
    upstream.cfg["userinfo"] = {"citizenPid": "12345"}
    refused("bad_identity", provider)
    upstream.cfg["userinfo"] = {"citizenPid": "００１２０００００００１"}
    refused("bad_identity", provider)
    upstream.cfg["userinfo"] = {"fullName": "  "}
    refused("bad_identity", provider)


def test_oidc_userinfo_sub_mismatch(upstream, tmp_path):
    upstream.cfg["userinfo"] = {"sub": "someone-else"}
    refused("bad_token", make(upstream, tmp_path))


# --- the ID token -------------------------------------------------------------------------

@pytest.mark.parametrize(("claims", "reason"), [
    ({"iss": "https://evil.example"}, "wrong_issuer"),
    ({"aud": "another-client"}, "bad_token"),
    ({"aud": [CLIENT, "other"]}, "bad_token"),  # several audiences without azp
    ({"exp": int(time.time()) - 3600}, "bad_token"),
    ({"iat": int(time.time()) + 3600}, "bad_token"),
    ({"nonce": "not-the-nonce"}, "bad_token"),
    ({"sub": None}, "bad_token"),
])
def test_id_token_claims(upstream, tmp_path, claims, reason):
    upstream.cfg["claims"] = claims
    refused(reason, make(upstream, tmp_path))


def test_several_audiences_with_azp(upstream, tmp_path):
    upstream.cfg["claims"] = {"aud": [CLIENT, "other"], "azp": CLIENT}
    assert sign_in(make(upstream, tmp_path)).subject == "op-sub-1"


def test_id_token_bad_signature(upstream, tmp_path):
    impostor = RSAKey.generate_key(2048, parameters={"kid": "a"})
    upstream.cfg["sign_with"] = impostor
    refused("bad_token", make(upstream, tmp_path))


def test_unknown_kid_refetches_the_jwks_once(upstream, tmp_path, monkeypatch):
    provider = make(upstream, tmp_path)
    assert sign_in(provider).pid == PID and upstream.jwks_fetches == 1
    upstream.cfg.update(keys=[KEY_B], sign_with=KEY_B)  # the provider rotates its key
    refused("bad_token", provider)  # within 30 s of the last fetch: no refetch
    assert upstream.jwks_fetches == 1
    monkeypatch.setattr(jwks, "REFETCH_INTERVAL", 0.0)
    assert sign_in(provider).pid == PID and upstream.jwks_fetches == 2
    upstream.cfg["sign_with"] = signing_key("c")  # unknown everywhere: one refetch, refused
    refused("bad_token", provider)
    assert upstream.jwks_fetches == 3


# --- logout -----------------------------------------------------------------------------------

def logout_token(upstream: Upstream, key: RSAKey = KEY_A, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": upstream.url, "aud": CLIENT, "iat": now, "jti": secrets.token_hex(8),
            "sub": "op-sub-1", "sid": "op-sid-1", "events": {BACKCHANNEL: {}}, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, body, key)


def test_logout_token_valid(upstream, tmp_path):
    provider = make(upstream, tmp_path)
    token = logout_token(upstream, sid=None)
    request_ = provider.verify_logout_token(token)
    assert (request_.sub, request_.sid) == ("op-sub-1", None) and request_.jti


@pytest.mark.parametrize("claims", [
    {"nonce": "n"}, {"events": None}, {"events": {"other": {}}}, {"sub": None, "sid": None},
    {"iss": "https://evil.example"}, {"aud": "other"}, {"iat": int(time.time()) - 3600},
    {"exp": int(time.time()) - 3600}, {"jti": None},
])
def test_logout_token_refused(upstream, tmp_path, claims):
    provider = make(upstream, tmp_path)
    with pytest.raises(UpstreamError) as caught:
        provider.verify_logout_token(logout_token(upstream, **claims))
    assert caught.value.reason == "bad_logout_token"


def test_logout_token_bad_signature(upstream, tmp_path):
    provider = make(upstream, tmp_path)
    impostor = RSAKey.generate_key(2048, parameters={"kid": "a"})
    none = ".".join(b64(json.dumps(part).encode()).rstrip("=") for part in
                    ({"alg": "none", "kid": "a"}, {"iss": upstream.url})) + "."
    hs = jwt.encode({"alg": "HS256", "kid": "a"}, {"iss": upstream.url},
                    OctKey.import_key(b"k" * 32))
    for token in (logout_token(upstream, impostor), "not.a.jwt", "x" * 20, none, hs):
        with pytest.raises(UpstreamError) as caught:
            provider.verify_logout_token(token)
        assert caught.value.reason == "bad_logout_token"


def test_logout_urls(upstream, tmp_path):
    oidc = make(upstream, tmp_path)
    url = oidc.logout_url(id_token="idt", access_token="at", state="st",
                          post_logout_redirect_uri=f"{ISSUER}/logged-out")
    assert url is not None and url.startswith(f"{upstream.url}/logout?")
    assert parse_qs(urlsplit(url).query) == {
        "id_token_hint": ["idt"], "post_logout_redirect_uri": [f"{ISSUER}/logged-out"],
        "state": ["st"], "client_id": [CLIENT]}
    vneid = make(upstream, tmp_path, "vneid-encrypted")
    url = vneid.logout_url(id_token=None, access_token="a+b", state="st",
                           post_logout_redirect_uri=f"{ISSUER}/logged-out")
    assert url is not None
    assert parse_qs(urlsplit(url).query) == {"token_id": ["a+b"],
                                             "redirect_uri": [f"{ISSUER}/logged-out"]}
    assert vneid.logout_url(id_token=None, access_token=None, state="s",
                            post_logout_redirect_uri="x") is None
    none = make(upstream, tmp_path, "vneid-encrypted", logout_endpoint="")
    assert none.logout_url(id_token=None, access_token="at", state="s",
                           post_logout_redirect_uri="x") is None
    with pytest.raises(UpstreamError) as caught:
        vneid.verify_logout_token("a.b.c")
    assert caught.value.reason == "not_configured"


def test_provider_lookup_outside_and_inside_an_app(tmp_path):
    from idp.platform import upstream as package
    assert package.provider("vneid") is None and package.providers() == []
    app = Flask("t")
    app.config["IDP"] = {"issuer": ISSUER, "upstream_providers_file": ""}
    package.init_app(app)
    with app.app_context():
        assert package.provider("vneid") is None and package.providers() == []


def test_concurrent_sign_ins(upstream, tmp_path):
    provider = make(upstream, tmp_path, "vneid-encrypted")
    upstream.cfg.update(encrypt_code=True, encrypt_token=True)
    results: list[Any] = []

    def run() -> None:
        results.append(sign_in(provider).pid)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [PID] * 4


# --- against the VNeID stand-in (standins/vneid.py) -------------------------------------------

def _standin_provider(service: Any, tmp_path: Path, mode: str, **table: Any) -> UpstreamProvider:
    from tests.support.vneid import rp_key as standin_rp_key
    (tmp_path / "standin-rp.pem").write_text(standin_rp_key().pem_private(), encoding="ascii")
    base: dict[str, Any] = {"mode": mode, "client_id": service.client_id,
                            "client_secret": service.client_secret}
    if mode == "oidc":
        base |= {"issuer": service.url,
                 "discovery_url": f"{service.url}/.well-known/openid-configuration"}
    else:
        base |= {"authorization_endpoint": f"{service.url}/authorize",
                 "token_endpoint": f"{service.url}/token",
                 "userinfo_endpoint": f"{service.url}/userinfo",
                 "logout_endpoint": f"{service.url}/api/idp/third-party/logout",
                 "private_key_file": "standin-rp.pem"}
    return UpstreamProvider(parse_provider("vneid", base | table, ISSUER, tmp_path, {}))


def _standin_sign_in(provider: UpstreamProvider, pid: str = "001200000001", cancel=False):
    from tests.support.vneid import cancel_login, fake_login
    start = provider.begin()
    with requests.Session() as browser:
        location = cancel_login(browser, start.url) if cancel else \
            fake_login(browser, start.url, pid)
    assert location.startswith(provider.redirect_uri)
    return provider.finish(location.split("?", 1)[1], start.expected)


@pytest.mark.parametrize("token_code", ["decrypted", "encrypted"])
def test_standin_vneid_encrypted(tmp_path, token_code):
    from tests.support.vneid import serve_vneid
    redirect_uri = f"{ISSUER}/signin/upstream/vneid/callback"
    with serve_vneid("vneid-encrypted", redirect_uri=redirect_uri, force_plus=True,
                     token_code=token_code) as service:
        provider = _standin_provider(service, tmp_path, "vneid-encrypted",
                                     token_code=token_code)
        who = _standin_sign_in(provider)
        assert (who.subject, who.pid, who.full_name) == (PID, PID, "Đặng Quốc Bảo")
        assert who.birth_date == datetime.date(2000, 1, 15) and who.access_token
        url = provider.logout_url(id_token=None, access_token=who.access_token, state="s",
                                  post_logout_redirect_uri=f"{ISSUER}/logged-out")
        assert url is not None and requests.get(url, allow_redirects=False,
                                                timeout=5).status_code < 400
        with pytest.raises(UpstreamError) as caught:
            _standin_sign_in(provider, cancel=True)
        assert caught.value.reason == "denied"
        for fault in ("corrupt_key", "corrupt_data", "bad_padding", "truncated",
                      "missing_member"):
            service.control.settings(fault=fault)
            with pytest.raises(UpstreamError) as caught:
                _standin_sign_in(provider)
            assert caught.value.reason == "bad_envelope", fault


def test_standin_oidc(tmp_path):
    from tests.support.vneid import serve_vneid
    redirect_uri = f"{ISSUER}/signin/upstream/vneid/callback"
    with serve_vneid("oidc", redirect_uri=redirect_uri) as service:
        provider = _standin_provider(service, tmp_path, "oidc")
        who = _standin_sign_in(provider)
        assert who.pid == PID and who.id_token and who.sid and who.subject != PID
        for fault, reason in (("wrong_nonce", "bad_token"), ("wrong_aud", "bad_token"),
                              ("expired_id_token", "bad_token"),
                              ("bad_id_token_signature", "bad_token"),
                              ("wrong_issuer", "wrong_issuer"),
                              ("wrong_iss_param", "wrong_issuer")):
            service.control.settings(fault=fault)
            with pytest.raises(UpstreamError) as caught:
                _standin_sign_in(provider)
            assert caught.value.reason == reason, fault
        service.control.settings(fault="")
        url = provider.logout_url(id_token=who.id_token, access_token=None, state="s",
                                  post_logout_redirect_uri=f"{ISSUER}/logged-out")
        assert url is not None and url.startswith(service.url)
