"""VNPT SmartCA: the adapter (idp/platform/signers/smartca.py) against its stand-in
(standins/smartca.py) over real HTTP — the citizen's OAuth login (15-s single-use codes),
certificates, signhash approved in the "app" with a signature that verifies, notifyUrl called
exactly once, and every failure the port promises to name."""
from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils
from flask import Flask, request

from idp.platform.pki import testca
from idp.platform.signers.port import SignerCertificate, SignerError
from idp.platform.signers.smartca import SmartCaSigner
from standins import smartca
from tests.support.pages import hidden
from tests.support.standins import (
    Control,
    closed_port_url,
    serve_wsgi,
    subscriber,
    write_subscribers,
)

CLIENT_ID, CLIENT_SECRET = "idp-test", "smartca-client-secret"
REDIRECT = "http://127.0.0.1:1/dang-nhap/smartca/callback"
ALICE, BOB, CAROL, DAN = "001200000001", "079200000002", "001200000003", "001200000004"
PASSWORD = "Mat-khau-SmartCA-1"
DIGEST = hashlib.sha256(b'{"purpose":"login","nonce":"smartca"}').digest()


@pytest.fixture(scope="module")
def leaves():
    pki = testca.TestPki.create(base_url="http://127.0.0.1:1")
    return {name: pki.issue(uids=(f"CCCD:{cccd}",), cn=cn, key="rsa") for name, cccd, cn in (
        ("alice", ALICE, "Nguyễn Văn A"), ("bob", BOB, "Trần Thị B"),
        ("carol", CAROL, "Lê Văn C"), ("dan", DAN, "Phạm Văn D"))}


@pytest.fixture(scope="module")
def notified():
    """The IdP's notifyUrl receiver: records every POST."""
    received: list[dict] = []
    app = Flask("notify")

    @app.post("/notify")
    def notify():
        received.append(request.get_json())
        return ""
    with serve_wsgi(app) as base:
        yield f"{base}/notify", received


@pytest.fixture(scope="module")
def service(leaves, tmp_path_factory):
    data = tmp_path_factory.mktemp("smartca")
    write_subscribers(data, [
        subscriber(leaves["alice"], phone="0912345678", password=PASSWORD),
        subscriber(leaves["bob"], phone="0987654321", password=PASSWORD),
        subscriber(leaves["carol"], password=PASSWORD, status="revoked"),
        subscriber(leaves["dan"], password=PASSWORD, signatures_left=0)])
    app = smartca.create_app(data, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                             redirect_uris=[REDIRECT])
    with serve_wsgi(app) as base:
        yield base


@pytest.fixture
def control(service, notified):
    control = Control(service)
    control.reset()
    notified[1].clear()
    return control


@pytest.fixture
def signer(service, control, notified):
    return SmartCaSigner(service, CLIENT_ID, CLIENT_SECRET, timeout=2.0, notify_url=notified[0])


def login(signer: SmartCaSigner, user_id: str = ALICE, password: str = PASSWORD,
          state: str = "st-123") -> str:
    """The citizen's browser at SmartCA: the login page, then the redirect with the code."""
    browser = requests.Session()
    page = browser.get(signer.authorize_url(REDIRECT, state), timeout=5)
    assert page.status_code == 200 and "Đăng nhập" in page.text
    form = {name: hidden(page.text, name) for name in
            ("response_type", "client_id", "redirect_uri", "state", "scope")}
    answer = browser.post(page.url, data={**form, "username": user_id, "password": password},
                          allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    target = urlsplit(answer.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    query = parse_qs(target.query)
    assert query["state"] == [state]
    return query["code"][0]


def token(signer: SmartCaSigner, user_id: str = ALICE) -> str:
    return signer.exchange_code(login(signer, user_id), REDIRECT).access_token


def _verify(leaf, signature: bytes) -> None:
    leaf.cert.public_key().verify(signature, DIGEST, padding.PKCS1v15(),
                                  utils.Prehashed(hashes.SHA256()))


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_login_token_userinfo_and_certificates(signer, leaves):
    tokens = signer.exchange_code(login(signer), REDIRECT)
    assert tokens.access_token and tokens.refresh_token and tokens.expires_in == 3600
    user = signer.userinfo(tokens.access_token)
    assert (user.uid, user.uid_prefix, user.phone, user.acc_type) == (ALICE, "CCCD",
                                                                      "0912345678", 0)
    [cert] = signer.certificates(tokens.access_token)
    alice = leaves["alice"]
    assert cert.leaf_der == alice.der and cert.credential_id
    assert cert.chain_der == tuple(c.public_bytes(serialization.Encoding.DER)
                                   for c in alice.chain)
    assert cert.serial == format(alice.cert.serial_number, "x")


def test_wrong_password_shows_the_page_again_and_locks_after_five(signer, service):
    browser = requests.Session()
    url = signer.authorize_url(REDIRECT, "s")
    page = browser.get(url, timeout=5)
    form = {n: hidden(page.text, n) for n in ("response_type", "client_id", "redirect_uri",
                                               "state", "scope")}
    for _ in range(6):
        answer = browser.post(page.url, data={**form, "username": ALICE, "password": "sai"},
                              allow_redirects=False, timeout=5)
        assert answer.status_code == 200 and "Sai số định danh" in answer.text or \
            "tạm khóa" in answer.text
    answer = browser.post(page.url, data={**form, "username": ALICE, "password": PASSWORD},
                          allow_redirects=False, timeout=5)
    assert answer.status_code == 200 and "tạm khóa" in answer.text


def test_unregistered_redirect_uri_is_never_redirected_to(service):
    other = SmartCaSigner(service, CLIENT_ID, CLIENT_SECRET)
    answer = requests.get(other.authorize_url("https://evil.example/cb", "s"),
                          allow_redirects=False, timeout=5)
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_code_is_single_use_and_reuse_withdraws_its_tokens(signer):
    code = login(signer)
    first = signer.exchange_code(code, REDIRECT)
    with pytest.raises(SignerError) as caught:
        signer.exchange_code(code, REDIRECT)
    assert caught.value.reason == "invalid_grant"
    with pytest.raises(SignerError) as caught:
        signer.certificates(first.access_token)
    assert caught.value.reason == "invalid_grant"


def test_code_older_than_15_seconds_is_refused(signer, control):
    code = login(signer)
    control.settings(clock_offset=16)
    with pytest.raises(SignerError) as caught:
        signer.exchange_code(code, REDIRECT)
    assert caught.value.reason == "invalid_grant"


def test_code_for_another_redirect_uri_is_refused(signer):
    with pytest.raises(SignerError) as caught:
        signer.exchange_code(login(signer), REDIRECT + "/other")
    assert caught.value.reason == "invalid_grant"


def test_refresh_rotates_the_refresh_token(signer):
    tokens = signer.exchange_code(login(signer), REDIRECT)
    renewed = signer.refresh(tokens.refresh_token)
    assert signer.certificates(renewed.access_token)
    with pytest.raises(SignerError) as caught:
        signer.refresh(tokens.refresh_token)
    assert caught.value.reason == "invalid_grant"


def test_wrong_client_secret_is_refused_credentials(service, signer):
    code = login(signer)
    wrong = SmartCaSigner(service, CLIENT_ID, "not-the-secret", timeout=2.0)
    with pytest.raises(SignerError) as caught:
        wrong.exchange_code(code, REDIRECT)
    assert caught.value.reason == "refused_credentials"


def test_signhash_approved_in_the_app_verifies_and_notifies_once(signer, leaves, control,
                                                                 service, notified):
    access = token(signer)
    [cert] = signer.certificates(access)
    tx_id = signer.start(access, cert, DIGEST, "Mã xác nhận K7Q2")
    assert signer.status(access, tx_id).state == "pending"
    sent = control.requests()[-2]
    assert sent["authorization"] == f"Bearer {access}"
    assert sent["json"]["description"] == "Mã xác nhận K7Q2"
    assert sent["json"]["credentialId"] == cert.credential_id and sent["json"]["refTranId"]

    page = requests.get(f"{service}/_phone/{ALICE}", timeout=5)
    assert "Mã xác nhận K7Q2" in page.text and "Đồng ý" in page.text
    requests.post(f"{service}/_phone/{ALICE}/{tx_id}", data={"decision": "approve"}, timeout=5)

    status = signer.status(access, tx_id)
    assert status.state == "approved"
    _verify(leaves["alice"], status.signature)
    url, received = notified
    _wait_for(lambda: received)
    assert control.act(tx_id, "reject").status_code == 409  # final: stays approved
    signer.status(access, tx_id)
    time.sleep(0.2)
    assert received == [{"tranId": tx_id, "refTranId": sent["json"]["refTranId"],
                         "status": 1}]
    assert len(control.notifications()) == 1


@pytest.mark.parametrize("action, state, code", [("reject", "rejected", 4002),
                                                 ("expire", "expired", 4001),
                                                 ("fail", "failed", 4004)])
def test_final_states_and_their_single_notification(signer, control, notified, action, state,
                                                    code):
    access = token(signer)
    [cert] = signer.certificates(access)
    tx_id = signer.start(access, cert, DIGEST, "AB12")
    assert control.act(tx_id, action).ok
    status = signer.status(access, tx_id)
    assert status.state == state and status.signature is None
    _wait_for(lambda: notified[1])
    assert [n["status"] for n in notified[1]] == [code]


def test_unanswered_transaction_expires(signer, control):
    access = token(signer)
    [cert] = signer.certificates(access)
    tx_id = signer.start(access, cert, DIGEST, "EX01")
    control.settings(clock_offset=121)
    assert signer.status(access, tx_id).state == "expired"


def test_another_users_transaction_is_failed(signer):
    alice, bob = token(signer, ALICE), token(signer, BOB)
    [cert] = signer.certificates(alice)
    tx_id = signer.start(alice, cert, DIGEST, "AB12")
    assert signer.status(bob, tx_id).state == "failed"
    assert signer.status(alice, "no-such-transaction").state == "failed"
    with pytest.raises(SignerError) as caught:  # 60001: bob cannot sign with alice's key
        signer.start(bob, cert, DIGEST, "AB12")
    assert caught.value.reason == "not_registered"


def test_revoked_credential(signer, leaves):
    access = token(signer, CAROL)
    with pytest.raises(SignerError) as caught:
        signer.certificates(access)
    assert caught.value.reason == "revoked"


def test_service_pack_used_up(signer):
    access = token(signer, DAN)
    [cert] = signer.certificates(access)
    with pytest.raises(SignerError) as caught:
        signer.start(access, cert, DIGEST, "AB12")
    assert caught.value.reason == "not_registered"


def test_bad_token_is_invalid_grant(signer):
    with pytest.raises(SignerError) as caught:
        signer.certificates("not-a-token")
    assert caught.value.reason == "invalid_grant"


def test_down_slow_broken_or_garbled(service, signer, control):
    access = token(signer)
    with pytest.raises(SignerError) as caught:
        SmartCaSigner(closed_port_url(), CLIENT_ID, CLIENT_SECRET).certificates(access)
    assert caught.value.reason == "unavailable"
    control.settings(latency=0.6)
    with pytest.raises(SignerError) as caught:
        SmartCaSigner(service, CLIENT_ID, CLIENT_SECRET, timeout=0.2).certificates(access)
    assert caught.value.reason == "unavailable"
    for fault, reason in (("html", "unavailable"), ("error", "unavailable"),
                          ("malformed", "bad_response")):
        control.settings(latency=0, fault=fault)
        for call in (lambda: signer.certificates(access),
                     lambda: signer.status(access, "t"),
                     lambda: signer.refresh("r")):
            with pytest.raises(SignerError) as caught:
                call()
            assert caught.value.reason == reason, fault


GARBLED = [
    {"code": 0, "content": {"tranStatus": "1"}},
    {"code": 0, "content": {"tranStatus": 1, "documents": []}},
    {"code": 0, "content": {"tranStatus": 1, "documents": [{"sig": "%%%"}]}},
    {"code": 0, "content": {"tranStatus": 77}},
    {"code": 0, "content": None},
    {"content": {"tranStatus": 4000}},
]


@pytest.mark.parametrize("body", GARBLED)
def test_garbled_answers_are_bad_response(body, leaves):
    app = Flask("garbled")
    for path in ("/csc/credentials/gettraninfo", "/csc/credentials/list",
                 "/csc/signature/signhash", "/identityapi/userinfo/info"):
        app.add_url_rule(path, path, lambda: body, methods=["POST"])
    with serve_wsgi(app) as base:
        signer = SmartCaSigner(base, CLIENT_ID, CLIENT_SECRET, timeout=2.0)
        cert = SignerCertificate(leaves["alice"].der, (), "01", "cred")
        for call in (lambda: signer.status("t", "x"), lambda: signer.certificates("t"),
                     lambda: signer.start("t", cert, DIGEST, "AB12"),
                     lambda: signer.userinfo("t")):
            with pytest.raises(SignerError) as caught:
                call()
            assert caught.value.reason == "bad_response"


def test_from_settings_requires_url_and_client():
    from idp.platform.config import ConfigError
    with pytest.raises(ConfigError):
        SmartCaSigner.from_settings({"smartca_url": "gwsca.vnpt.vn"})
    with pytest.raises(ConfigError):
        SmartCaSigner.from_settings({"smartca_url": "https://gwsca.vnpt.vn"})
    made = SmartCaSigner.from_settings({
        "smartca_url": "https://gwsca.vnpt.vn/", "smartca_client_id": "c",
        "smartca_client_secret": "s", "signer_timeout": 5})
    assert made.authorize_url("https://idp.example/cb", "x").startswith(
        "https://gwsca.vnpt.vn/auth/authorize?response_type=code&client_id=c&")
