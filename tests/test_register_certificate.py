"""Issue 15 item 4, registration at IAL3 over HTTP (flows/register/certificate.py): a citizen
signs the registration's challenge with a USB token whose certificate carries their CCCD; the
certificate fills the ID number and name (no carrier KYC), the birth date must agree with the
CCCD, then the phone's code and the password as in the mobile path. The account records
IAL3 by certificate and holds the certificate as a sign-in method, listed on the account page
and removable there (under a fresh authentication, with an SMS notice). An existing account is
told after the signature, with the alert SMS to its phone; an untrusted or revoked
certificate, a replayed challenge and a certificate of the wrong kind write nothing."""
from __future__ import annotations

import datetime as dt
import json
import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from idp.methods.certificate import challenge as challenges
from idp.platform.db import db
from standins import mobile_sim, smartca
from standins.usb_token import Token
from tests.support import CITIZEN, cert_registration, form_action, hidden
from tests.support.apps import make_app
from tests.support.cert_registration import (
    AMR_USB,
    SCOPE,
    account,
    account_count,
    bindings,
    certificate_reauth,
    der_sha256,
    details,
    follow,
    html,
    message_of,
    post,
    resume,
    set_password,
    sign,
    start,
    token_for,
    tokens_of,
    verify,
)
from tests.support.oidc import auth_params, pkce_pair
from tests.support.people import ISSUER
from tests.support.registration import sent, start_create
from tests.support.standins import Control, serve_wsgi, subscriber, write_subscribers

# The shared fixtures: a test PKI on loopback and an app that trusts it.
served, app = cert_registration.served, cert_registration.app

CCCD = "001200000001"  # Hà Nội, a man born in 2000
NAME = "Lê Văn Kiểm"
PHONE = "+84912000333"


def kiem(served, **issue):
    return token_for(served, (f"CCCD:{CCCD}",), NAME, **issue)


def to_details(client, served, token=None):
    page = start(client)
    return follow(client, sign(client, page, token or kiem(served)))


def test_a_citizen_registers_by_usb_token_at_ial3(app, client, served):
    token = kiem(served)
    verifier, challenge = pkce_pair()
    page = start(client, params=auth_params(challenge=challenge, prompt="create", scope=SCOPE))
    page = follow(client, sign(client, page, token))
    text = html(page)
    # The certificate's identity is shown, not asked; the CCCD says "male": no gender field.
    assert NAME in text and CCCD in text and 'name="id_number"' not in text
    assert 'name="full_name"' not in text and 'name="gender"' not in text
    assert 'name="captcha' not in text
    code_page = follow(client, details(client, page, birth_date="17/05/2000"))
    assert 'name="otp"' in html(code_page)
    password_page = verify(app, client, code_page, PHONE)
    assert 'name="password_confirm"' in html(password_page)
    assert "chữ ký số" in html(password_page)
    done = set_password(client, password_page)
    assert "Đăng ký thành công" in html(done) and "IAL3" in html(done)
    assert 'data-testid="register-done-verified"' in html(done)

    created = account(app, CCCD)
    assert created.full_name == NAME and created.birth_date == "2000-05-17"
    assert created.gender == "male" and created.phone == PHONE
    assert (created.account_type, created.ial, created.verified_by) == ("citizen", "IAL3", "usb")
    [bound] = bindings(app, created.id)
    assert bound.carrier == "usb" and bound.cert_sha256 == der_sha256(token)
    assert bound.cert_serial == token.serial
    assert "Test VNPT Certification Authority" in bound.cert_issuer
    assert json.loads(bound.cert_uids) == [["CCCD", CCCD]]

    # Logged in with the certificate: the portal's code carries LoA3 and the token's amr.
    got = resume(client, done)
    claims, info = tokens_of(client, got["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["amr"] == AMR_USB
    assert claims["LoaiTaiKhoan"] == "1" and info["SoDinhDanh"] == CCCD
    assert info["HoVaTen"] == NAME and info["LoaiTaiKhoan"] == "1"


def test_the_birth_date_must_agree_with_the_cccd(app, client, served):
    page = to_details(client, served)
    r = details(client, page, birth_date="17/05/1999")
    assert r.status_code == 400 and 'data-msg="id_number.birth_year"' in html(r)
    r = details(client, r, birth_date="")
    assert r.status_code == 400 and 'data-msg="register.birth_date_required"' in html(r)
    r = details(client, r, birth_date="17/05/2000", consent=None)
    assert r.status_code == 400 and 'data-msg="register.consent_required"' in html(r)
    assert account_count(app) == 2 and not sent(app)


def test_a_cmnd_certificate_asks_the_gender_too(app, client, served):
    token = token_for(served, ("CMND:123456789",), NAME)
    page = to_details(client, served, token)
    assert 'name="gender"' in html(page)
    r = details(client, page, birth_date="17/05/1990")
    assert r.status_code == 400 and 'data-msg="register.gender_required"' in html(r)
    r = details(client, r, birth_date="17/05/1990", gender="male")
    assert r.status_code == 303


def test_an_existing_account_is_told_after_the_signature_with_an_alert(app, client, served):
    token = token_for(served, (f"CCCD:{CITIZEN.id_number}",), CITIZEN.full_name)
    page = start(client)
    r = sign(client, page, token)
    page = follow(client, r)
    text = html(page)
    assert 'data-msg="register.account_exists_certificate"' in text
    assert 'value="forgot"' in text and 'value="complain"' not in text
    assert account_count(app) == 2 and not bindings(app)
    # The existing account's phone gets the alert, as in the mobile path; nothing else is sent.
    assert [m["to"] for m in sent(app)] == [CITIZEN.phone]
    # A hand-made complaint is refused: it needs a phone proven in this flow.
    r = post(client, page, action="complain")
    assert r.status_code == 403


@pytest.mark.parametrize("case", ["untrusted", "revoked", "expired"])
def test_a_bad_certificate_is_refused_and_nothing_is_written(app, client, served, case):
    if case == "untrusted":
        leaf = served.pki.unknown_root_leaf(uids=(f"CCCD:{CCCD}",), cn=NAME)
        token = Token(leaf.cert, leaf.key, list(leaf.chain))
    elif case == "expired":
        now = dt.datetime.now(dt.UTC)
        token = kiem(served, not_before=now - dt.timedelta(days=400),
                     not_after=now - dt.timedelta(days=1))
    else:
        token = kiem(served)
        served.pki.revoke(token.cert)
    page = start(client)
    r = sign(client, page, token)
    assert (r.status_code, message_of(r)) == (400, f"pki.{case}")
    assert "data-usb-signer" in html(r)  # still on the signing page, with a new challenge
    assert hidden(html(r), "tx_id") != hidden(html(page), "tx_id")
    assert account_count(app) == 2 and not bindings(app) and not sent(app)


def test_a_replayed_challenge_is_refused(app, client, served):
    token = kiem(served)
    page = start(client)
    first_tx = hidden(html(page), "tx_id")
    served.down = {"ocsp", "crl"}  # the first attempt fails closed after using the challenge
    r = sign(client, page, token)
    assert (r.status_code, message_of(r)) == (503, "pki.revocation_unavailable")
    served.down = set()
    r = sign(client, page, token, tx_id=first_tx)
    assert (r.status_code, message_of(r)) == (400, "certificate.expired_or_used")
    # A signature over anything but the challenge is refused too.
    r = sign(client, r, token, content=b'{"chosen":"by the browser"}')
    assert (r.status_code, message_of(r)) == (400, "certificate.signature_invalid")
    assert account_count(app) == 2 and not bindings(app)
    r = sign(client, r, token)  # the page's fresh challenge works
    assert r.status_code == 303


def test_an_organisation_certificate_cannot_register_a_citizen(app, client, served):
    token = token_for(served, ("MST:0123456787",), "Công ty TNHH Thử Nghiệm")
    r = sign(client, start(client), token)
    assert (r.status_code, message_of(r)) == (400, "organisation.organisation_certificate")
    assert account_count(app) == 2


def radio(text: str, name: str, key: str) -> str:
    tag = re.search(r'<input type="radio" name="%s" value="%s"[^>]*>' % (name, key), text)
    assert tag, (name, key)
    return tag.group(0)


def test_the_choice_page_offers_the_usb_token_where_it_is_configured(app, client):
    text = html(start_create(client))
    for name, key in (("method", "usb_token"), ("account_type", "business"),
                      ("account_type", "agency")):
        assert " disabled" not in radio(text, name, key), key
    # A carrier not configured here (SIM ký số, SmartCA until their work lands) stays
    # "(chưa hỗ trợ)"; the page names them from the registry, not from a list of its own.
    from idp.flows import certificate_step
    with app.test_request_context():
        configured = {m.id for m in certificate_step.carriers()}
    for key, carrier in (("sim_pki", "sim"), ("smartca", "smartca")):
        assert (" disabled" in radio(text, "method", key)) == (carrier not in configured)
    assert "Bộ phận Một cửa" not in text  # organisations register here now


def test_the_account_page_lists_and_removes_the_certificate(app, client, served):
    token = kiem(served)
    page = to_details(client, served, token)
    code_page = follow(client, details(client, page, birth_date="17/05/2000"))
    resume(client, set_password(client, verify(app, client, code_page, PHONE)))
    created = account(app, CCCD)
    [bound] = bindings(app, created.id)

    text = html(client.get("/account/"))
    assert 'data-methods="certificate"' in text and f'data-method-id="{bound.id}"' in text
    assert token.serial in text and 'data-ial="IAL3"' in text and "USB ký số" in text
    remove = f"/account/certificates/{bound.id}/remove"
    # A change needs a fresh full authentication: here by the certificate itself.
    r = certificate_reauth(client, client.get(remove), token)
    assert r.status_code == 303 and r.headers["Location"] == remove
    confirm = client.get(remove)
    assert "Gỡ chứng thư số" in html(confirm) and token.serial in html(confirm)
    r = post(client, confirm)
    assert r.status_code == 303 and r.headers["Location"] == "/account/"
    assert not bindings(app, created.id)
    assert 'data-msg="account.certificate_removed"' in html(client.get("/account/"))
    texts = [m["text"] for m in sent(app) if m["to"] == PHONE]
    assert any("chung thu so" in t for t in texts), texts
    # Another account's binding id is not this account's to remove.
    assert client.post(f"/account/certificates/{bound.id + 1000}/remove",
                       data={"csrf_token": hidden(html(confirm), "csrf_token")}
                       ).headers["Location"] == "/account/"


# --------------------------------------------------------------------------- SIM ký số

SP_ID, SP_PASSWORD = "DVCQG-TEST", "sp-password-for-tests"
SIM_PHONE = "0983333444"


@pytest.fixture
def sim(database_url, served, tmp_path):
    """An app trusting the PKI with the SIM ký số stand-in configured, and the stand-in's
    control (its subscriber: Kiểm's certificate on SIM_PHONE)."""
    leaf = served.pki.issue(uids=(f"CCCD:{CCCD}",), cn=NAME)
    write_subscribers(tmp_path / "sim", [subscriber(leaf, phone=SIM_PHONE)])
    with serve_wsgi(mobile_sim.create_app(tmp_path / "sim", sp_id=SP_ID,
                                          sp_password=SP_PASSWORD)) as url:
        app = make_app(database_url, **served.settings(tmp_path / "anchors"),
                       mobile_sign_url=url, mobile_sign_sp_id=SP_ID,
                       mobile_sign_sp_password=SP_PASSWORD, signer_timeout=3.0)
        yield app, Control(url)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def sim_waiting(web, control):
    page = start(web, method="sim_pki")
    text = html(page)
    assert 'name="signer_account"' in text and 'value="sim"' in text
    r = post(web, page, method="sim", signer_account=SIM_PHONE)
    waiting = follow(web, r)
    assert "data-auto-check" in html(waiting), html(waiting)[:1500]
    [tx] = [t for t in control.transactions() if t["state"] == "pending"]
    return waiting, tx


def test_a_citizen_registers_by_sim_approved_on_the_phone(sim):
    app, control = sim
    web = app.test_client()
    waiting, tx = sim_waiting(web, control)
    r = post(web, waiting, action="check")
    assert (r.status_code, message_of(r)) == (200, "signer.pending")
    assert control.act(tx["id"], "approve").status_code == 200
    time.sleep(1.1)  # one question to the service per second and request
    page = follow(web, post(web, r, action="check"))
    assert 'name="birth_date"' in html(page) and CCCD in html(page)
    code_page = follow(web, details(web, page, birth_date="17/05/2000"))
    done = set_password(web, verify(app, web, code_page, PHONE))
    assert "SIM ký số" in html(done)
    created = account(app, CCCD)
    assert (created.ial, created.verified_by) == ("IAL3", "sim")
    assert [b.carrier for b in bindings(app, created.id)] == ["sim"]


def test_a_rejected_sim_request_goes_back_to_the_signing_page(sim):
    app, control = sim
    web = app.test_client()
    waiting, tx = sim_waiting(web, control)
    assert control.act(tx["id"], "reject").status_code == 200
    page = follow(web, post(web, waiting, action="check"))
    assert message_of(page) == "signer.rejected" and 'name="signer_account"' in html(page)
    assert message_of(web.get(page.request.path)) != "signer.rejected"  # said once
    assert account_count(app) == 2 and not bindings(app)


# --------------------------------------------------------------------------- VNPT SmartCA

AMR_SMARTCA = ["mca", "user"]
CLIENT_ID, CLIENT_SECRET = "idp-test", "smartca-client-secret"
SMARTCA_PASSWORD = "Mat-khau-SmartCA-1"
CALLBACK = ISSUER + "/signin/smartca/callback"


@pytest.fixture
def smartca_app(database_url, served, tmp_path):
    """An app trusting the PKI with the SmartCA stand-in configured (its subscriber: Kiểm,
    logging in there with SMARTCA_PASSWORD), and the stand-in's control."""
    leaf = served.pki.issue(uids=(f"CCCD:{CCCD}",), cn=NAME)
    write_subscribers(tmp_path / "smartca", [subscriber(leaf, password=SMARTCA_PASSWORD)])
    with serve_wsgi(smartca.create_app(tmp_path / "smartca", client_id=CLIENT_ID,
                                       client_secret=CLIENT_SECRET,
                                       redirect_uris=[CALLBACK])) as url:
        app = make_app(database_url, **served.settings(tmp_path / "anchors"), smartca_url=url,
                       smartca_client_id=CLIENT_ID, smartca_client_secret=CLIENT_SECRET,
                       signer_timeout=3.0)
        yield app, Control(url)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def smartca_waiting(web, control, params=None):
    """Choice page → SmartCA → its login → the callback → the waiting page, and the request
    the stand-in holds for the phone."""
    page = start(web, method="smartca", params=params)
    text = html(page)
    assert 'data-testid="smartca-submit"' in text and "data-usb-signer" not in text
    authorize_url = follow_redirect(post(web, page))
    r = requests.post(authorize_url, data={"username": CCCD, "password": SMARTCA_PASSWORD},
                      allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK + "?"), r.text
    parts = urlsplit(r.headers["Location"])
    waiting = follow(web, web.get(f"{parts.path}?{parts.query}"))
    assert "data-auto-check" in html(waiting) and "VNPT SmartCA" in html(waiting)
    [tx] = [t for t in control.transactions() if t["state"] == "pending"]
    return waiting, tx


def follow_redirect(r) -> str:
    assert r.status_code == 303, html(r)[:1500]
    return r.headers["Location"]


def test_a_citizen_registers_by_smartca_approved_in_the_app(smartca_app):
    app, control = smartca_app
    web = app.test_client()
    verifier, challenge = pkce_pair()
    params = auth_params(challenge=challenge, prompt="create", scope=SCOPE)
    waiting, tx = smartca_waiting(web, control, params)
    flow_id = form_action(html(waiting)).rsplit("/", 1)[-1]
    with app.test_request_context():  # the phone is asked to sign a registration
        assert challenges.pending(flow_id).field("purpose") == "register"
    assert control.act(tx["id"], "approve").status_code == 200
    page = follow(web, post(web, waiting, action="check"))
    assert 'name="birth_date"' in html(page) and CCCD in html(page) and NAME in html(page)
    code_page = follow(web, details(web, page, birth_date="17/05/2000"))
    done = set_password(web, verify(app, web, code_page, PHONE))
    assert "Đăng ký thành công" in html(done) and "VNPT SmartCA" in html(done)
    created = account(app, CCCD)
    assert (created.ial, created.verified_by) == ("IAL3", "smartca")
    [bound] = bindings(app, created.id)
    assert bound.carrier == "smartca" and json.loads(bound.cert_uids) == [["CCCD", CCCD]]
    claims, _ = tokens_of(web, resume(web, done)["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["amr"] == AMR_SMARTCA


def test_a_smartca_request_rejected_in_the_app_goes_back_to_the_signing_page(smartca_app):
    app, control = smartca_app
    web = app.test_client()
    waiting, tx = smartca_waiting(web, control)
    assert control.act(tx["id"], "reject").status_code == 200
    page = follow(web, post(web, waiting, action="check"))
    assert message_of(page) == "signer.rejected"
    assert 'data-testid="smartca-submit"' in html(page)
    assert message_of(web.get(page.request.path)) != "signer.rejected"  # said once
    assert account_count(app) == 2 and not bindings(app) and not sent(app)
