"""Issue 15, certificate sign-in through the login page (HTTP, the USB ký số tab): a portal
asking `acr_values=LoA3` gets the certificate tab, the citizen's token signs the flow's
challenge (a CMS SignedData, as the plugin's signCms makes it: standins/usb_token.py), the
IdP verifies signature, path, revocation (CRL/OCSP on a loopback server) and whom the
certificate names, and the ID token says LoA3 with the token's amr. Every refusal stays on
the tab with its message and signs nobody in; a LoA2 session asked for LoA3 gets only the
certificate step, for its own account."""
from __future__ import annotations

import base64
import json
import re

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.platform.db import db
from idp.platform.models import AuditEvent
from standins.usb_token import Token
from tests.support import (
    CITIZEN,
    CITIZEN2,
    auth_params,
    authorize,
    follow_to_login,
    form_action,
    hidden,
    login_form_submit,
    pkce_pair,
    query,
    token_request,
)
from tests.support.apps import make_app
from tests.support.pki import serve_pki

AMR_USB = ["hwk", "sc", "pin", "mfa"]


@pytest.fixture
def served():
    with serve_pki() as server:
        yield server


@pytest.fixture
def pki_app(database_url, served, tmp_path):
    app = make_app(database_url, **served.settings(tmp_path / "anchors"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def web(pki_app):
    return pki_app.test_client()


def token_for(served, person=CITIZEN, **issue) -> Token:
    leaf = served.pki.issue(uids=(f"CCCD:{person.id_number}",), cn=person.full_name, **issue)
    return Token(leaf.cert, leaf.key, list(leaf.chain))


def loa3_login_page(web, **extra):
    verifier, challenge = pkce_pair()
    params = auth_params(challenge=challenge, acr_values="LoA3", **extra)
    page = follow_to_login(web, authorize(web, params))
    return page.get_data(as_text=True), params, verifier


def sign_and_post(web, html: str, token: Token, *, tx_id: str | None = None,
                  certificate: bytes | None = None, content: bytes | None = None):
    """What usb-signer.js does: sign the page's challenge with the token, post the fields."""
    challenge = base64.b64decode(re.search(r'data-challenge="([^"]+)"', html).group(1))
    cms = token.sign_cms(content if content is not None else challenge)
    cert = certificate if certificate is not None else token.cert.public_bytes(Encoding.DER)
    return web.post(form_action(html), data={
        "csrf_token": hidden(html, "csrf_token"), "method": "usb",
        "tx_id": tx_id or hidden(html, "tx_id"),
        "certificate": base64.b64encode(cert).decode(),
        "signature": base64.b64encode(cms).decode()})


def claims_of(web, app, code: str, verifier: str) -> dict:
    r = token_request(web, code, verifier)
    assert r.status_code == 200, r.get_data(as_text=True)
    keys = KeySet.import_key_set(web.get("/jwks.json").get_json())
    return jwt.decode(r.get_json()["id_token"], keys).claims


def finish(web, r) -> dict:
    assert r.status_code == 303, r.get_data(as_text=True)[:1500]
    r = web.get(r.headers["Location"])  # /authorize/resume/<uid>
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    return query(r.headers["Location"])


def message_of(r) -> str:
    found = re.findall(r'data-msg="([a-z0-9_.]+)"', r.get_data(as_text=True))
    return found[0] if found else ""


def test_loa3_request_shows_only_the_certificate_tab(web):
    html, _, _ = loa3_login_page(web)
    assert 'data-usb-signer' in html and 'name="password"' not in html
    assert 'aria-current="true">USB ký số' in html
    assert "(không đủ mức xác thực)" in html  # the CMT/CCCD tab says why it is not offered


def test_usb_token_signs_in_at_loa3_with_its_amr(web, pki_app, served):
    html, params, verifier = loa3_login_page(web)
    got = finish(web, sign_and_post(web, html, token_for(served)))
    assert got["state"] == params["state"]
    claims = claims_of(web, pki_app, got["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["amr"] == AMR_USB
    with pki_app.app_context():
        events = [e.event for e in db.session.query(AuditEvent).all()]
    assert "login.certificate_ok" in events


def test_the_page_allows_the_plugin_addresses_only_there(web):
    r = follow_to_login(web, authorize(web, auth_params(challenge=pkce_pair()[1],
                                                        acr_values="LoA3")))
    csp = r.headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://localhost:4433 wss://localhost:4434 wss://localhost:4435" \
        in csp
    assert "wss://" not in web.get("/").headers.get("Content-Security-Policy", "")


@pytest.mark.parametrize("case, issue, expected, status", [
    ("expired", {"not_after": "past"}, "pki.expired", 400),
    ("untrusted", {"unknown_root": True}, "pki.untrusted", 400),
    ("key usage", {"key_usage": ("key_encipherment",)}, "pki.key_usage", 400),
    ("revoked", {"revoke": True}, "pki.revoked", 400),
])
def test_a_bad_certificate_is_refused_on_the_tab(web, served, case, issue, expected, status):
    import datetime as dt
    if issue.get("unknown_root"):
        leaf = served.pki.unknown_root_leaf(uids=(f"CCCD:{CITIZEN.id_number}",))
        token = Token(leaf.cert, leaf.key, list(leaf.chain))
    else:
        kw = {k: v for k, v in issue.items() if k != "revoke"}
        if kw.get("not_after") == "past":
            now = dt.datetime.now(dt.UTC)
            kw.update(not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1))
        token = token_for(served, **kw)
        if issue.get("revoke"):
            served.pki.revoke(token.cert)
    html, _, _ = loa3_login_page(web)
    r = sign_and_post(web, html, token)
    assert (r.status_code, message_of(r)) == (status, expected)
    assert "data-usb-signer" in r.get_data(as_text=True)  # back on the tab, a new challenge


def test_an_unreadable_status_fails_closed_with_a_wait(web, served):
    html, _, _ = loa3_login_page(web)
    served.down = {"ocsp", "crl"}
    r = sign_and_post(web, html, token_for(served))
    assert (r.status_code, message_of(r)) == (503, "pki.revocation_unavailable")
    assert int(r.headers["Retry-After"]) > 0


def test_a_challenge_signs_in_once(web, served):
    token = token_for(served)
    html, _, _ = loa3_login_page(web)
    first_tx = hidden(html, "tx_id")
    served.down = {"ocsp", "crl"}  # the first attempt fails after using the challenge
    assert sign_and_post(web, html, token).status_code == 503
    served.down = set()
    r = sign_and_post(web, html, token, tx_id=first_tx)
    assert (r.status_code, message_of(r)) == (400, "certificate.expired_or_used")


def test_a_signature_over_anything_else_is_refused(web, served):
    html, _, _ = loa3_login_page(web)
    r = sign_and_post(web, html, token_for(served), content=b'{"chosen":"by the browser"}')
    assert (r.status_code, message_of(r)) == (400, "certificate.signature_invalid")


def test_the_signer_must_be_the_certificate_the_page_read(web, served):
    html, _, _ = loa3_login_page(web)
    other = token_for(served, CITIZEN2).cert.public_bytes(Encoding.DER)
    r = sign_and_post(web, html, token_for(served), certificate=other)
    assert (r.status_code, message_of(r)) == (400, "certificate.signature_invalid")


def test_a_certificate_naming_no_account_signs_nobody_in(web, served):
    from tests.support.people import Person
    stranger = Person("001200000001", "", "Người Lạ", "2000-01-01", "male", "+84900000000")
    html, _, _ = loa3_login_page(web)
    r = sign_and_post(web, html, token_for(served, stranger))
    assert (r.status_code, message_of(r)) == (404, "certificate.no_account")
    assert "Set-Cookie" not in r.headers or "idp_session=" not in r.headers["Set-Cookie"]


def test_a_password_cannot_answer_a_loa3_request(web):
    html, _, _ = loa3_login_page(web)
    r = web.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                          "username": CITIZEN.id_number,
                                          "password": CITIZEN.password})
    assert (r.status_code, message_of(r)) == (400, "certificate.required")


def test_a_malformed_answer_is_a_clean_refusal(web):
    html, _, _ = loa3_login_page(web)
    for signature in ("", "%%%not base64%%%", base64.b64encode(b"junk").decode(), "A" * 40000):
        r = web.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                              "method": "usb", "tx_id": hidden(html, "tx_id"),
                                              "certificate": "", "signature": signature})
        assert r.status_code == 400, signature[:20]
        assert message_of(r).startswith("certificate."), message_of(r)
        html = r.get_data(as_text=True)


def test_an_unknown_carrier_is_refused(web):
    html, _, _ = loa3_login_page(web)
    r = web.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                          "method": "sim"})
    assert (r.status_code, message_of(r)) == (400, "certificate.unavailable")


def test_a_loa2_session_asked_for_loa3_gets_only_the_certificate_step(web, pki_app, served):
    verifier, challenge = pkce_pair()
    page = follow_to_login(web, authorize(web, auth_params(challenge=challenge)))
    finish(web, login_form_submit(web, page.get_data(as_text=True), CITIZEN.id_number,
                                  CITIZEN.password, second_factor=True))
    verifier, challenge = pkce_pair()
    r = authorize(web, auth_params(challenge=challenge, acr_values="LoA3"))
    step = follow_to_login(web, r)
    html = step.get_data(as_text=True)
    assert "data-usb-signer" in html and 'name="password"' not in html
    wrong = sign_and_post(web, html, token_for(served, CITIZEN2))
    assert (wrong.status_code, message_of(wrong)) == (403, "certificate.other_account")
    got = finish(web, sign_and_post(web, wrong.get_data(as_text=True), token_for(served)))
    claims = claims_of(web, pki_app, got["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["amr"] == AMR_USB


def test_without_trust_anchors_loa3_is_still_refused(client):
    r = authorize(client, auth_params(challenge=pkce_pair()[1], acr_values="LoA3"))
    assert r.status_code == 302
    assert query(r.headers["Location"])["error"] == "access_denied"


def test_the_answer_is_json_fields_only(web):
    from idp.methods.certificate.method import parse
    from idp.methods.refusal import Refusal
    with web.application.test_request_context():
        for bad in ("[]", "{", json.dumps({"tx_id": 1})):
            with pytest.raises(Refusal):
                parse(bad)


def test_a_certificate_that_signs_in_is_recorded_and_once_removed_is_refused(
        web, pki_app, served):
    from idp.accounts import cert_bindings
    from idp.accounts.citizen_admin import by_id_number
    from idp.platform.pki.testca import sha256_hex
    token, spare = token_for(served), token_for(served)
    html, _, _ = loa3_login_page(web)
    finish(web, sign_and_post(web, html, token))
    with pki_app.app_context():
        citizen = by_id_number(CITIZEN.id_number)
        listed = cert_bindings.rows(citizen, "usb")
        assert [row.cert_sha256 for row in listed] == [sha256_hex(token.cert)]
        assert cert_bindings.remove(citizen, listed[0].id, "usb")
        db.session.commit()
        assert cert_bindings.rows(citizen, "usb") == []
    other_browser = pki_app.test_client()
    html, _, _ = loa3_login_page(other_browser)
    r = sign_and_post(other_browser, html, token)
    assert (r.status_code, message_of(r)) == (403, "certificate.removed")
    finish(other_browser, sign_and_post(other_browser, r.get_data(as_text=True), spare))
