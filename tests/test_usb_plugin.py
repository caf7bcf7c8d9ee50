"""The USB-plugin stand-in (standins/usb_plugin.py) over a real loopback websocket, driven the
way the sign-in page drives VNPT's plugin (tests/support/usb_plugin.py). What the server later
relies on is checked with the product's own verifier (idp.platform.pki.signature.verify_cms):
the CMS verifies over the challenge with the certificate getCertInfo reported — and, in the
failure modes, that each one answers the code the page maps to its message."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from idp.platform.pki import testca
from idp.platform.pki.signature import SignatureInvalid, verify_cms
from standins.usb_plugin import PluginServer
from standins.usb_protocol import Plugin, Settings, make_licence
from standins.usb_token import load_tokens, token_entry, write_tokens
from tests.support.apps import free_port
from tests.support.usb_plugin import (
    PluginClient,
    PluginControl,
    PluginFailure,
    connect_first,
    plugin_server,
    usb_sign,
)

CHALLENGE = json.dumps({"iss": "https://idp.test", "purpose": "login", "nonce": "n" * 22,
                        "code": "K7Q2"}).encode()


@pytest.fixture(scope="module")
def leaves():
    pki = testca.TestPki.create(base_url="http://127.0.0.1:1")
    return (pki.issue(uids=("CCCD:001200000001",), cn="Nguyễn Văn A", ca="vnpt", key="rsa"),
            pki.issue(uids=("CCCD:001200000002",), cn="Trần Thị B", ca="vnpt", key="ec"))


@pytest.fixture(scope="module")
def token_dir(leaves, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tokens")
    write_tokens(directory, [token_entry(leaf.cert, leaf.key, leaf.chain, f"token {i}")
                             for i, leaf in enumerate(leaves)])
    return directory


@pytest.fixture(scope="module")
def server(token_dir):
    """One TLS stand-in for the module; each test starts from its defaults."""
    with plugin_server(token_dir) as running:
        yield running


@pytest.fixture
def plugin(server):
    server.plugin.reset()
    with PluginClient(server.url, trust=server.tls_cert_pem, domain="idp.test") as client:
        yield client


def control(server) -> PluginControl:
    return PluginControl(server.control_url, trust=server.tls_cert_pem)


def test_check_plugin_version_and_callback_echo(plugin):
    assert plugin.check_plugin() == "1"
    assert plugin.get_version()
    reply_to = plugin.call(7, "", callback="pluginChecked")  # asserts the echo itself
    assert reply_to == "1"


def test_get_cert_info_reports_the_inserted_token(plugin, leaves):
    info = plugin.get_cert_info()
    cert = x509.load_der_x509_certificate(base64.b64decode(info["base64"]))
    assert cert == leaves[0].cert
    assert info["serial"] == format(leaves[0].cert.serial_number, "X")
    assert info["subjectCN"] == "Nguyễn Văn A"
    assert info["issuerCN"] == "Test VNPT Certification Authority"
    assert dt.datetime.fromisoformat(info["notAfter"]) == leaves[0].cert.not_valid_after_utc


def test_sign_cms_verifies_over_the_challenge_with_the_reported_certificate(plugin, leaves):
    info = plugin.get_cert_info()
    signed = plugin.sign_cms(CHALLENGE)
    assert (signed.code, signed.error) == (0, "")
    signer = verify_cms(signed.data, CHALLENGE)
    assert signer == leaves[0].cert
    assert base64.b64decode(info["base64"]) == signer.public_bytes(
        Encoding.DER)
    content = cms.ContentInfo.load(signed.data)["content"]
    assert content["encap_content_info"]["content"].native == CHALLENGE  # attached by default
    assert len(content["certificates"]) == 1 + len(leaves[0].chain)  # signer + intermediates
    with pytest.raises(SignatureInvalid):
        verify_cms(signed.data, CHALLENGE + b" ")


def test_detached_sign_cms_and_sign_hash_verify_against_the_content(plugin, server, leaves):
    server.plugin.configure(detached=True)
    signed = plugin.sign_cms(CHALLENGE)
    assert cms.ContentInfo.load(signed.data)["content"]["encap_content_info"][
        "content"].native is None
    assert verify_cms(signed.data, CHALLENGE) == leaves[0].cert
    hashed = plugin.sign_hash(hashlib.sha256(CHALLENGE).digest())
    assert hashed.code == 0
    assert verify_cms(hashed.data, CHALLENGE) == leaves[0].cert
    with pytest.raises(SignatureInvalid):
        verify_cms(hashed.data, b"another challenge")
    assert plugin.sign_hash(b"\x00" * 20).code == 1  # SHA-1 length: refused as bad input


def test_a_serial_chooses_the_token_and_an_ec_key_signs(plugin, leaves):
    serial = format(leaves[1].cert.serial_number, "x")
    assert plugin.get_cert_info(serial=serial)["subjectCN"] == "Trần Thị B"
    assert verify_cms(plugin.sign_cms(CHALLENGE).data, CHALLENGE) == leaves[1].cert
    assert plugin.get_cert_info(serial="00") is None  # no such certificate: ""


@pytest.mark.parametrize("mode, code", [("cancel", 11), ("no_key", 4),
                                        ("cert_unreadable", 2), ("sign_error", 3)])
def test_failure_modes_answer_the_plugin_codes(plugin, server, mode, code):
    with control(server) as ctl:
        assert ctl.configure(mode=mode)["mode"] == mode
    info = plugin.get_cert_info()
    assert (info is None) == (mode == "cert_unreadable")
    for result in (plugin.sign_cms(CHALLENGE), plugin.sign_hash(hashlib.sha256(b"x").digest())):
        assert result.code == code
        assert result.data == b""
        assert result.error


def test_the_page_sequence_maps_codes_to_message_ids(server, leaves):
    trust = server.tls_cert_pem
    for mode, message_id in [("cancel", "cancelled"), ("no_key", "nokey"),
                             ("cert_unreadable", "nocert"), ("sign_error", "failed")]:
        server.plugin.configure(mode=mode)
        with pytest.raises(PluginFailure) as failure:
            usb_sign(server.url, CHALLENGE, trust=trust)
        assert failure.value.message_id == message_id
    server.plugin.reset()
    cert_der, cms_der = usb_sign(server.url, CHALLENGE, trust=trust)
    assert x509.load_der_x509_certificate(cert_der) == verify_cms(cms_der, CHALLENGE)


def test_a_token_without_its_key_answers_4(tmp_path, leaves):
    with plugin_server(tmp_path, [token_entry(leaves[0].cert, None, leaves[0].chain)],
                       tls=False) as server, PluginClient(server.url) as client:
        assert server.url.startswith("ws://")
        assert client.get_cert_info()["subjectCN"] == "Nguyễn Văn A"
        assert client.sign_cms(CHALLENGE).code == 4


def test_wrong_certificate_mode_signs_with_another_token(plugin, server, leaves):
    server.plugin.configure(mode="wrong_cert")
    info = plugin.get_cert_info()
    signed = plugin.sign_cms(CHALLENGE)
    assert signed.code == 0
    signer = verify_cms(signed.data, CHALLENGE)
    assert signer == leaves[1].cert  # a valid signature, by a certificate the page did not send
    assert base64.b64decode(info["base64"]) != signer.public_bytes(
        Encoding.DER)


def test_wrong_certificate_mode_needs_two_tokens(tmp_path, leaves):
    write_tokens(tmp_path, [token_entry(leaves[0].cert, leaves[0].key)])
    with pytest.raises(ValueError, match="second token"):
        Plugin(load_tokens(tmp_path), Settings(mode="wrong_cert"))


def test_slow_mode_holds_the_reply(plugin, server):
    server.plugin.configure(delay=0.6, slow_functions=[4])
    assert plugin.check_plugin(timeout=0.5) == "1"  # not slowed
    with pytest.raises(TimeoutError):
        plugin.sign_cms(CHALLENGE, timeout=0.2)
    started = time.monotonic()
    # The late reply to the first request is still in flight: it arrives first.
    assert plugin.ws.recv(timeout=5).endswith("*callbackDefault")
    assert plugin.sign_cms(CHALLENGE, timeout=5).code == 0
    assert time.monotonic() - started >= 0.5


def test_not_running_means_no_port_answers_and_the_next_port_is_tried(server):
    nobody = [f"wss://127.0.0.1:{free_port()}/plugin" for _ in range(3)]
    started = time.monotonic()
    with pytest.raises(PluginFailure) as failure:
        connect_first(nobody, trust=server.tls_cert_pem, timeout=1)
    assert failure.value.message_id == "unavailable"
    assert time.monotonic() - started < 3  # refused at once, no timeout needed
    with connect_first(nobody[:2] + [server.url], trust=server.tls_cert_pem) as client:
        assert client.get_cert_info() is not None


def test_licence_check_rejects_expired_and_foreign_licences(plugin, server):
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    assert plugin.set_licence("anything")["code"] == 0  # licence "any": accepted
    server.plugin.configure(licence="check")
    assert plugin.set_licence(make_licence(now - day, now + day))["code"] == 0
    assert plugin.set_licence(make_licence(now - day, now + day, "idp.test"))["code"] == 0
    assert plugin.set_licence(make_licence(now - 9 * day, now - day))["code"] == 1
    assert plugin.set_licence(make_licence(now - day, now + day, "other.example"))["code"] == 1
    assert plugin.set_licence("not base64 !")["code"] == 1


def test_control_socket_reports_calls_and_refuses_bad_settings(plugin, server):
    plugin.check_plugin()
    plugin.get_cert_info()
    with control(server) as ctl:
        calls = ctl.state()["calls"]
        assert [c["function"] for c in calls] == [7, 0]
        assert {c["domain"] for c in calls} == {"idp.test"}
        with pytest.raises(ValueError, match="mode"):
            ctl.configure(mode="exploded")
        with pytest.raises(ValueError, match="unknown settings"):
            ctl.configure(colour="red")
        ctl.reset()
        assert ctl.state()["calls"] == []


def test_malformed_and_unknown_requests(plugin):
    plugin.ws.send("not json")
    assert json.loads(plugin.ws.recv(timeout=5).rpartition("*")[0])["code"] == 1
    assert json.loads(plugin.call(2, "JVBERi0="))["code"] == 5  # SignPDF: not implemented
    assert json.loads(plugin.call(4, "%%%"))["code"] == 1  # SignCMS of non-Base64


def test_other_paths_are_not_found(server):
    from websockets.exceptions import InvalidStatus
    with pytest.raises(InvalidStatus) as refused:
        PluginClient(server.url.replace("/plugin", "/other"), trust=server.tls_cert_pem)
    assert refused.value.response.status_code == 404


def test_the_command_line_serves_the_token_directory(token_dir):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "standins.usb_plugin", "--port", str(port), "--data",
         str(token_dir), "--plain", "--mode", "cancel"],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client = PluginClient(f"ws://127.0.0.1:{port}/plugin", timeout=1)
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "the stand-in did not start"
                time.sleep(0.1)
        with client:
            assert client.check_plugin() == "1"
            assert client.get_cert_info()["subjectCN"] == "Nguyễn Văn A"
            assert client.sign_cms(CHALLENGE).code == 11
    finally:
        process.terminate()
        process.wait(10)


def test_server_object_reports_its_tls_certificate(server):
    cert = x509.load_pem_x509_certificate(server.tls_cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert isinstance(server, PluginServer) and server.url.startswith("wss://127.0.0.1:")


def test_only_a_page_that_asks_may_connect_to_the_plugin():
    """The site's CSP keeps connect-src at 'self'; the certificate page adds the plugin's
    addresses with web.allow_connect (usb-signer.js cannot reach it otherwise)."""
    from flask import Flask

    from idp.platform import web
    app = Flask(__name__)
    app.after_request(web._security_headers)
    ports = " ".join(f"wss://localhost:{p}" for p in (4433, 4434, 4435))

    @app.get("/usb")
    def usb():
        web.allow_connect(*ports.split())
        return "<p>usb</p>"

    @app.get("/other")
    def other():
        return "<p>other</p>"

    client = app.test_client()
    assert f"connect-src 'self' {ports};" in client.get("/usb").headers["Content-Security-Policy"]
    other_csp = client.get("/other").headers["Content-Security-Policy"]
    assert "connect-src 'self';" in other_csp and "wss:" not in other_csp
