"""SIM ký số: the QĐ769 adapter (idp/platform/signers/mobile_sim.py) against its stand-in
(standins/mobile_sim.py) over real HTTP — certificates, an asynchronous signing approved on
the "phone" with a signature that verifies, and every failure the port promises to name."""
from __future__ import annotations

import hashlib
import re

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from flask import Flask, jsonify

from idp.platform.pki import testca
from idp.platform.signers.mobile_sim import MobileSimSigner
from idp.platform.signers.port import SignerCertificate, SignerError
from standins import mobile_sim
from tests.support.standins import (
    Control,
    closed_port_url,
    serve_wsgi,
    subscriber,
    write_subscribers,
)

SP_ID, SP_PASSWORD = "DVCQG-TEST", "sp-secret-for-tests"
ALICE, BOB, CAROL = "001200000001", "079200000002", "001200000003"
DIGEST = hashlib.sha256(b'{"purpose":"login","nonce":"test"}').digest()


@pytest.fixture(scope="module")
def leaves():
    pki = testca.TestPki.create(base_url="http://127.0.0.1:1")
    return {"alice": pki.issue(uids=(f"CCCD:{ALICE}",), cn="Nguyễn Văn A", key="rsa"),
            "bob": pki.issue(uids=(f"CCCD:{BOB}",), cn="Trần Thị B", key="ec"),
            "carol": pki.issue(uids=(f"CCCD:{CAROL}",), cn="Lê Văn C", key="rsa")}


@pytest.fixture(scope="module")
def service(leaves, tmp_path_factory):
    data = tmp_path_factory.mktemp("sim")
    write_subscribers(data, [subscriber(leaves["alice"], phone="0912345678"),
                             subscriber(leaves["bob"], phone="0987654321"),
                             subscriber(leaves["carol"], phone="0901234567",
                                        status="revoked")])
    app = mobile_sim.create_app(data, sp_id=SP_ID, sp_password=SP_PASSWORD)
    with serve_wsgi(app) as base:
        yield base


@pytest.fixture
def control(service):
    control = Control(service)
    control.reset()
    return control


@pytest.fixture
def signer(service, control):
    return MobileSimSigner(service, SP_ID, SP_PASSWORD, timeout=2.0)


def _verify(leaf, signature: bytes) -> None:
    key = leaf.cert.public_key()
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, DIGEST, ec.ECDSA(prehashed))
    else:
        key.verify(signature, DIGEST, padding.PKCS1v15(), prehashed)


def _der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def test_certificates_by_cccd_and_by_phone(signer, leaves, control):
    alice = leaves["alice"]
    for account in (ALICE, "0912345678", "+84912345678"):
        [found] = signer.certificates(account)
        assert found.leaf_der == alice.der
        assert found.chain_der == tuple(_der(c) for c in alice.chain)
        assert found.serial == format(alice.cert.serial_number, "x")
    sent = control.requests()[0]["json"]
    assert sent["sp_id"] == SP_ID and sent["sp_password"] == SP_PASSWORD
    assert sent["user_id"] == ALICE and sent["transaction_id"]


@pytest.mark.parametrize("who, account", [("alice", ALICE), ("bob", "0987654321")])
def test_sign_pending_then_approved_on_the_phone_verifies(signer, leaves, control, service,
                                                          who, account):
    [cert] = signer.certificates(account)
    tx_id = signer.start(account, cert, DIGEST, "K7Q2")
    assert signer.status(account, tx_id).state == "pending"

    sign_request = control.requests()[-2]["json"]
    [item] = sign_request["sign_files"]
    assert item["doc_id"] == "K7Q2" and item["data_to_be_signed"] == DIGEST.hex()
    assert item["file_options"]["sign_type"] == "hash"
    assert sign_request["serial_number"] == cert.serial
    assert re.fullmatch(r"\d{14}", sign_request["time_stamp"])

    phone = leaves[who]
    page = requests.get(f"{service}/_phone/{account}", timeout=5)
    assert "K7Q2" in page.text and "Đồng ý" in page.text and "Từ chối" in page.text
    answered = requests.post(f"{service}/_phone/{account}/{tx_id}",
                             data={"decision": "approve"}, timeout=5)
    assert answered.ok and "K7Q2" not in answered.text

    status = signer.status(account, tx_id)
    assert status.state == "approved" and status.final
    _verify(phone, status.signature)
    with pytest.raises(Exception):  # noqa: B017 - any InvalidSignature subclass
        _verify(leaves["carol"], status.signature)


def test_rejected_on_the_phone(signer, control, service):
    [cert] = signer.certificates(ALICE)
    tx_id = signer.start(ALICE, cert, DIGEST, "AB12")
    requests.post(f"{service}/_phone/{ALICE}/{tx_id}", data={"decision": "reject"}, timeout=5)
    status = signer.status(ALICE, tx_id)
    assert status.state == "rejected" and status.signature is None


def test_unanswered_request_expires_after_its_lifetime(signer, control):
    [cert] = signer.certificates(ALICE)
    tx_id = signer.start(ALICE, cert, DIGEST, "EX01")
    control.settings(clock_offset=119)
    assert signer.status(ALICE, tx_id).state == "pending"
    control.settings(clock_offset=121)
    assert signer.status(ALICE, tx_id).state == "expired"
    assert control.act(tx_id, "approve").status_code == 409  # too late to approve


def test_sign_failure_and_unknown_transaction(signer, control):
    [cert] = signer.certificates(ALICE)
    tx_id = signer.start(ALICE, cert, DIGEST, "FA11")
    control.act(tx_id, "fail")
    assert signer.status(ALICE, tx_id).state == "failed"
    assert signer.status(ALICE, "no-such-transaction").state == "failed"


def test_unknown_user(signer):
    with pytest.raises(SignerError) as caught:
        signer.certificates("012345678901")
    assert caught.value.reason == "unknown_user"


def test_revoked_certificate_is_403(signer, leaves, control):
    with pytest.raises(SignerError) as caught:
        signer.certificates(CAROL)
    assert caught.value.reason == "revoked"
    # Signing with it (serial known from elsewhere) is refused the same way.
    carol = leaves["carol"]
    cert = SignerCertificate(carol.der, (), format(carol.cert.serial_number, "x"))
    with pytest.raises(SignerError) as caught:
        signer.start(CAROL, cert, DIGEST, "RV01")
    assert caught.value.reason == "revoked"


def test_wrong_sp_credentials_are_401(service, control):
    wrong = MobileSimSigner(service, SP_ID, "not-the-password", timeout=2.0)
    with pytest.raises(SignerError) as caught:
        wrong.certificates(ALICE)
    assert caught.value.reason == "refused_credentials"
    with pytest.raises(SignerError) as caught:
        wrong.status(ALICE, "whatever")
    assert caught.value.reason == "refused_credentials"


def test_service_down_slow_or_broken_is_unavailable(service, signer, control):
    with pytest.raises(SignerError) as caught:
        MobileSimSigner(closed_port_url(), SP_ID, SP_PASSWORD, timeout=2.0).certificates(ALICE)
    assert caught.value.reason == "unavailable"
    control.settings(latency=0.6)
    with pytest.raises(SignerError) as caught:
        MobileSimSigner(service, SP_ID, SP_PASSWORD, timeout=0.2).certificates(ALICE)
    assert caught.value.reason == "unavailable"
    for fault in ("html", "error"):
        control.settings(latency=0, fault=fault)
        with pytest.raises(SignerError) as caught:
            signer.certificates(ALICE)
        assert caught.value.reason == "unavailable", fault


def test_answer_in_the_wrong_shape_is_bad_response(signer, control):
    control.settings(fault="malformed")
    with pytest.raises(SignerError) as caught:
        signer.certificates(ALICE)
    assert caught.value.reason == "bad_response"


GARBLED = [
    {"status_code": 200, "data": {"user_certificates": "nope"}},
    {"status_code": 200, "data": {"user_certificates": [{"cert_data": "%%%"}]}},
    {"status_code": 200, "data": {"user_certificates": [{"cert_data": "aGVsbG8="}]}},
    {"status_code": 200, "data": {"user_certificates": [7]}},
    {"status_code": "two hundred"},
    [1, 2, 3],
]


@pytest.mark.parametrize("body", GARBLED)
def test_garbled_answers_are_bad_response(body, leaves):
    app = Flask("garbled")
    app.add_url_rule("/get_certificate", "certs", lambda: jsonify(body), methods=["POST"])
    app.add_url_rule("/sign", "sign", lambda: jsonify(
        {"status_code": 200, "data": {"transaction_id": 5}}), methods=["POST"])
    app.add_url_rule("/sign/<tx>/status", "status", lambda tx: jsonify(
        {"status_code": 200, "message": "SUCCESS", "data": {"signatures": [{}]}}),
        methods=["POST"])
    with serve_wsgi(app) as base:
        signer = MobileSimSigner(base, SP_ID, SP_PASSWORD, timeout=2.0)
        with pytest.raises(SignerError) as caught:
            signer.certificates(ALICE)
        assert caught.value.reason == "bad_response"
        with pytest.raises(SignerError) as caught:
            signer.status(ALICE, "t")
        assert caught.value.reason == "bad_response"
        cert = SignerCertificate(leaves["alice"].der, (), "01")
        with pytest.raises(SignerError) as caught:
            signer.start(ALICE, cert, DIGEST, "X1")
        assert caught.value.reason == "bad_response"


def test_from_settings_requires_url_and_credentials():
    from idp.platform.config import ConfigError
    with pytest.raises(ConfigError):
        MobileSimSigner.from_settings({"mobile_sign_url": ""})
    with pytest.raises(ConfigError):
        MobileSimSigner.from_settings({"mobile_sign_url": "https://sim.example"})
    made = MobileSimSigner.from_settings({
        "mobile_sign_url": "https://sim.example/api/", "mobile_sign_sp_id": "X",
        "mobile_sign_sp_password": "Y", "signer_timeout": 7})
    assert made.base_url == "https://sim.example/api" and made.timeout == 7.0
