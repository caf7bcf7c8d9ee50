"""Issue 15, the remote certificate carriers through the login page (HTTP): the "SIM ký số" tab
and the "Hoặc đăng nhập bằng VNPT SmartCA" block, against the stand-ins (standins/mobile_sim.py,
standins/smartca.py) on loopback ports, with subscribers issued by the served test PKI, so the
IdP's path and revocation checks (CRL/OCSP over HTTP) are real.

The citizen asks, the "phone" (the stand-in's control endpoint) approves, rejects or lets the
request expire; the waiting page checks (its button, or idp.js re-submitting it) and the IdP
verifies what the *service* returned — never a signature the browser posts. The ID token says
LoA3 with the carrier's amr. Every failure goes back to the tab with its message and signs
nobody in; a LoA2 session asked for LoA3 gets the same carriers for its own account."""
from __future__ import annotations

import base64
import hashlib
import re
import time
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.flows import certificate_step
from idp.platform.db import db
from idp.platform.models import AuditEvent
from idp.platform.pki import revocation
from standins import mobile_sim, smartca
from standins.core import sign_digest
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
from tests.support.people import ISSUER
from tests.support.pki import serve_pki
from tests.support.standins import (
    Control,
    closed_port_url,
    serve_wsgi,
    subscriber,
    write_subscribers,
)

AMR_SIM = ["hwk", "sc", "pin", "mca", "mfa"]
AMR_SMARTCA = ["mca", "user"]
SP_ID, SP_PASSWORD = "DVCQG-TEST", "sp-password-for-tests"
CLIENT_ID, CLIENT_SECRET = "idp-test", "smartca-client-secret"
SMARTCA_PASSWORD = "Mat-khau-SmartCA-1"
CALLBACK = ISSUER + "/signin/smartca/callback"
STRANGER = "001200000001"  # a well-formed ID number no account has
PHONES = {"citizen": "0941234947", "citizen2": "0912345678", "revoked_at_ca": "0981111111",
          "crl_revoked": "0982222222", "stranger": "0983333333"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The test PKI and both stand-ins, once per module: subscribers for the two seeded
    citizens, one the SIM service reports revoked, one only our CRL says is revoked, and one
    whose certificate names nobody with an account."""
    with serve_pki() as served:
        pki = served.pki
        leaves = {
            "citizen": pki.issue(uids=(f"CCCD:{CITIZEN.id_number}",), cn=CITIZEN.full_name),
            "citizen2": pki.issue(uids=(f"CCCD:{CITIZEN2.id_number}",), cn=CITIZEN2.full_name),
            "revoked_at_ca": pki.issue(uids=(f"CCCD:{CITIZEN.id_number}",), cn=CITIZEN.full_name),
            "crl_revoked": pki.issue(uids=(f"CCCD:{CITIZEN.id_number}",), cn=CITIZEN.full_name,
                                     key="ec"),
            "stranger": pki.issue(uids=(f"CCCD:{STRANGER}",), cn="Người Lạ")}
        pki.revoke(leaves["crl_revoked"])
        sim_dir = tmp_path_factory.mktemp("sim")
        write_subscribers(sim_dir, [
            subscriber(leaf, phone=PHONES[name],
                       status="revoked" if name == "revoked_at_ca" else "valid")
            for name, leaf in leaves.items()])
        sca_dir = tmp_path_factory.mktemp("smartca")
        write_subscribers(sca_dir, [
            subscriber(leaves["citizen"], password=SMARTCA_PASSWORD),
            subscriber(leaves["citizen2"], password=SMARTCA_PASSWORD)])
        sim_app = mobile_sim.create_app(sim_dir, sp_id=SP_ID, sp_password=SP_PASSWORD)
        sca_app = smartca.create_app(sca_dir, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                     redirect_uris=[CALLBACK])
        with serve_wsgi(sim_app) as sim_url, serve_wsgi(sca_app) as sca_url:
            yield {"served": served, "leaves": leaves, "sim_url": sim_url,
                   "smartca_url": sca_url, "anchors": tmp_path_factory.mktemp("anchors")}


@pytest.fixture
def sim(world):
    control = Control(world["sim_url"])
    control.reset()
    return control


@pytest.fixture
def sca(world):
    control = Control(world["smartca_url"])
    control.reset()
    return control


def settings(world, **changes) -> dict:
    return {**world["served"].settings(world["anchors"]),
            "mobile_sign_url": world["sim_url"], "mobile_sign_sp_id": SP_ID,
            "mobile_sign_sp_password": SP_PASSWORD, "smartca_url": world["smartca_url"],
            "smartca_client_id": CLIENT_ID, "smartca_client_secret": CLIENT_SECRET,
            "signer_timeout": 3.0, **changes}


@pytest.fixture
def app(database_url, world, sim, sca):
    world["served"].down = set()
    revocation.clear_cache()
    app = make_app(database_url, **settings(world))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def web(app):
    return app.test_client()


# --------------------------------------------------------------------------- helpers

def msg_ids(html: str) -> list[str]:
    """The page's message ids, without the USB tab's own texts (its <noscript> note)."""
    return [m for m in re.findall(r'data-msg="([a-z0-9_.]+)"', html)
            if not m.startswith("certificate.usb_")]


def msg_id(r) -> str:
    found = msg_ids(r.get_data(as_text=True))
    return found[0] if found else ""


def login_page(web, acr="LoA3", tab="sim"):
    verifier, challenge = pkce_pair()
    params = auth_params(challenge=challenge, acr_values=acr)
    page = follow_to_login(web, authorize(web, params))
    url = urlsplit(page.request.url).path
    if tab:
        page = web.get(f"{url}?tab={tab}")
        assert page.status_code == 200
    return page.get_data(as_text=True), params, verifier


def ask_sim(web, html: str, who: str):
    """The SIM tab's form: the number typed, the request sent."""
    return web.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                             "method": "sim", "signer_account": who})


def waiting_page(web, r):
    """The 303 after a request was sent, followed to the waiting page."""
    assert r.status_code == 303, (r.status_code, msg_id(r), r.get_data(as_text=True)[:600])
    page = web.get(r.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-auto-check" in html, html[:1500]
    return html


def display_code(html: str) -> str:
    return re.search(r'data-testid="display-code">([A-Z0-9]+)<', html).group(1)


def check(web, html: str, **extra):
    return web.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                             "action": "check", **extra})


def pending_tx(control: Control) -> dict:
    found = [tx for tx in control.transactions() if tx["state"] == "pending"]
    assert len(found) == 1, found
    return found[0]


def answer_phone(control: Control, action: str = "approve") -> dict:
    tx = pending_tx(control)
    assert control.act(tx["id"], action).status_code == 200
    return tx


def finish(web, r) -> dict:
    assert r.status_code == 303, (r.status_code, msg_id(r))
    r = web.get(r.headers["Location"])
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    return query(r.headers["Location"])


def claims_of(web, code: str, verifier: str) -> dict:
    r = token_request(web, code, verifier)
    assert r.status_code == 200, r.get_data(as_text=True)
    keys = KeySet.import_key_set(web.get("/jwks.json").get_json())
    return jwt.decode(r.get_json()["id_token"], keys).claims


def back_on_tab(web, r) -> tuple[str, str]:
    """A request that ended without a login: 303 to the flow's page, which says why once."""
    assert r.status_code == 303, (r.status_code, msg_id(r))
    page = web.get(r.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    again = web.get(r.headers["Location"]).get_data(as_text=True)
    assert msg_id(page) and msg_id(page) not in msg_ids(again)  # said once
    return msg_id(page), html


def no_session(r) -> bool:
    return "idp_session=" not in r.headers.get("Set-Cookie", "")


def events(app) -> list[str]:
    with app.app_context():
        return [e.event for e in db.session.query(AuditEvent).all()]


# --------------------------------------------------------------------------- SIM ký số

def test_the_sim_tab_and_the_smartca_block_are_offered(web):
    html, _, _ = login_page(web, acr="LoA2", tab="")
    assert 'data-testid="tab-sim"' in html and "(chưa hỗ trợ)" not in html
    assert 'data-testid="smartca-block"' in html and "Hoặc đăng nhập bằng VNPT SmartCA" in html
    html, _, _ = login_page(web)
    assert 'aria-current="true">SIM ký số' in html and 'name="signer_account"' in html
    assert 'name="password"' not in html and "<script>" not in html


def test_sim_approved_on_the_phone_signs_in_at_loa3(web, app, sim):
    html, params, verifier = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, "0941 234 947"))
    assert 'role="status"' in waiting and "Tôi đã xác nhận trên điện thoại" in waiting
    tx = answer_phone(sim)
    assert tx["display"] == display_code(waiting)  # the phone shows the page's code
    sign = [r for r in sim.requests() if r["path"] == "/sign"][0]["json"]
    assert sign["user_id"] == "84941234947"  # the MSISDN of what was typed
    got = finish(web, check(web, waiting))
    assert got["state"] == params["state"]
    claims = claims_of(web, got["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["amr"] == AMR_SIM
    assert "login.certificate_ok" in events(app)


def test_sim_by_id_number_waits_until_the_phone_answers(web, sim):
    html, _, _ = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, CITIZEN2.id_number))
    r = check(web, waiting)  # the button before the phone answered
    assert (r.status_code, msg_id(r)) == (200, "signer.pending") and no_session(r)
    r = check(web, r.get_data(as_text=True), auto="1")  # the page's own check: silent
    assert r.status_code == 200 and msg_id(r) == ""
    answer_phone(sim)
    time.sleep(certificate_step.POLL_SECONDS + 0.1)  # one question per second and flow
    assert finish(web, check(web, r.get_data(as_text=True)))["code"]


@pytest.mark.parametrize("action, expected", [("reject", "signer.rejected"),
                                              ("expire", "signer.expired"),
                                              ("fail", "signer.failed")])
def test_sim_not_approved_goes_back_to_the_tab(web, sim, action, expected):
    html, _, _ = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
    answer_phone(sim, action)
    r = check(web, waiting)
    assert no_session(r)
    message, page = back_on_tab(web, r)
    assert message == expected and f'value="{PHONES["citizen"]}"' in page  # ready to send again


def test_our_own_deadline_ends_the_wait(web, sim, monkeypatch):
    html, _, _ = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
    asked = len(sim.requests())
    monkeypatch.setattr(certificate_step, "now", lambda: time.time() + 3600)
    message, _ = back_on_tab(web, check(web, waiting))
    assert message == "signer.expired"
    assert len(sim.requests()) == asked  # over without asking the service


def test_cancel_goes_back_and_a_late_approval_signs_nobody_in(web, sim):
    html, _, _ = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
    old = pending_tx(sim)
    html = cancel(web, waiting)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
    assert sim.act(old["id"], "approve").status_code == 200  # the first request, approved late
    r = check(web, waiting)
    assert (r.status_code, msg_id(r)) == (200, "signer.pending") and no_session(r)


@pytest.mark.parametrize("who, expected, status", [
    ("0999999999", "signer.unknown_user", 400),
    (PHONES["revoked_at_ca"], "signer.revoked", 400),  # the service answers 403
    (PHONES["crl_revoked"], "pki.revoked", 400),  # only the CA's CRL says so
    ("12345", "signer.account_format", 400),
    ("", "signer.account_format", 400),
])
def test_a_request_that_cannot_be_sent_stays_on_the_tab(web, sim, who, expected, status):
    html, _, _ = login_page(web)
    r = ask_sim(web, html, who)
    assert (r.status_code, msg_id(r)) == (status, expected)
    assert 'name="signer_account"' in r.get_data(as_text=True)
    assert not sim.transactions()  # no phone was asked to sign


def test_a_service_answering_nonsense_is_a_502(web, sim):
    html, _, _ = login_page(web)
    sim.settings(fault="malformed")
    r = ask_sim(web, html, PHONES["citizen"])
    assert (r.status_code, msg_id(r)) == (502, "signer.bad_response")


def test_a_certificate_naming_no_account_is_refused_after_approval(web, sim):
    html, _, _ = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["stranger"]))
    answer_phone(sim)
    r = check(web, waiting)
    assert no_session(r)
    assert back_on_tab(web, r)[0] == "certificate.no_account"


def test_the_service_down_is_a_clean_503(database_url, world):
    app = make_app(database_url, **settings(world, mobile_sign_url=closed_port_url()))
    try:
        web = app.test_client()
        html, _, _ = login_page(web)
        r = ask_sim(web, html, PHONES["citizen"])
        assert (r.status_code, msg_id(r)) == (503, "signer.unavailable")
        assert int(r.headers["Retry-After"]) > 0
        assert "Traceback" not in r.get_data(as_text=True)
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_slow_or_failing_service_while_waiting_asks_to_wait(database_url, world, sim):
    app = make_app(database_url, **settings(world, signer_timeout=0.5))
    try:
        web = app.test_client()
        html, _, _ = login_page(web)
        waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
        sim.settings(latency=1.0)  # longer than signer_timeout
        r = check(web, waiting)
        assert (r.status_code, msg_id(r)) == (503, "signer.unavailable")
        assert int(r.headers["Retry-After"]) > 0 and "data-auto-check" in r.get_data(
            as_text=True)  # still waiting: the request may yet be answered
        sim.settings(latency=0)
        answer_phone(sim)
        time.sleep(certificate_step.POLL_SECONDS + 0.1)
        assert finish(web, check(web, r.get_data(as_text=True)))["code"]
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_signature_posted_by_the_browser_has_no_effect(web, sim, world):
    html, _, _ = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
    tx = pending_tx(sim)
    leaf = world["leaves"]["citizen"]
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    forged = {"method": "sim", "tx_id": "x", "certificate": b64(leaf.cert.public_bytes(
        Encoding.DER)), "signature": b64(sign_digest(leaf.key, bytes.fromhex(tx["items"][0][1])))}
    r = check(web, waiting, **forged)  # a real signature over the real digest, from the page
    assert (r.status_code, msg_id(r)) == (200, "signer.pending") and no_session(r)
    r = web.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"), **forged})
    assert (r.status_code, msg_id(r)) == (200, "signer.pending") and no_session(r)
    # Below the page: the step refuses any answer a browser makes for a remote carrier, and
    # the method verifies only a request the service itself completed (here: still pending)
    from werkzeug.datastructures import MultiDict

    from idp.interaction.engine import Flow
    from idp.methods.refusal import Refusal
    flow_id = form_action(waiting).rsplit("/", 1)[1]
    with web.application.test_request_context():
        sim_method = certificate_step.carrier("sim")
        flow = Flow(id=flow_id, kind="login", state="credentials", pending="p",
                    client_id="portal")
        stay = certificate_step.answer(flow, sim_method, MultiDict(forged))
        assert stay.status == 400 and stay.errors["form"].id == "signer.not_remote"
        with pytest.raises(Refusal) as refused:
            sim_method.proof_of(flow_id, forged)
        assert refused.value.message.id == "certificate.expired_or_used"
    answer_phone(sim)  # the request itself is intact: approved on the phone, it signs in
    time.sleep(certificate_step.POLL_SECONDS + 0.1)
    assert finish(web, check(web, waiting))["code"]


def test_the_challenge_signs_in_once(web, app, sim):
    html, _, _ = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
    flow_id = form_action(waiting).rsplit("/", 1)[1]
    answer_phone(sim)
    assert finish(web, check(web, waiting))["code"]
    with app.test_request_context():
        from idp.methods.certificate import challenge
        assert challenge.pending(flow_id) is None  # consumed by the one verification
    again = check(web, waiting)  # the same approved request, submitted again
    assert again.status_code in (400, 410) and "Location" not in again.headers
    assert web.get(form_action(waiting)).status_code == 410  # the flow is over
    assert events(app).count("login.certificate_ok") == 1


def cancel(web, waiting: str) -> str:
    r = web.post(form_action(waiting), data={"csrf_token": hidden(waiting, "csrf_token"),
                                             "action": "cancel"})
    message, html = back_on_tab(web, r)
    assert message == "signer.cancelled"
    return html


def test_one_phone_is_not_rung_without_end(web, sim):
    html, _, _ = login_page(web)
    for _ in range(certificate_step.STARTS_PER_ACCOUNT):
        html = cancel(web, waiting_page(web, ask_sim(web, html, PHONES["citizen2"])))
    r = ask_sim(web, html, PHONES["citizen2"])
    assert (r.status_code, msg_id(r)) == (429, "signer.too_many")
    assert int(r.headers["Retry-After"]) > 0


def test_the_waiting_page_is_accessible_and_script_free(web):
    html, _, _ = login_page(web)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
    assert re.search(r'<div class="signer-wait" role="status">', waiting)
    assert 'name="action" value="check"' in waiting and 'value="cancel"' in waiting
    assert "<script>" not in waiting and " style=" not in waiting
    assert 'data-auto-check="4"' in waiting and 'lang="vi"' in waiting


# --------------------------------------------------------------------------- VNPT SmartCA

def smartca_action(html: str) -> str:
    return re.search(r'action="([^"]*/signin/smartca/[^"]+)"', html).group(1)


def to_smartca(web, html: str):
    """The block's button: 303 to SmartCA's authorize page."""
    r = web.post(smartca_action(html), data={"csrf_token": hidden(html, "csrf_token")})
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    return r.headers["Location"]


def smartca_login(authorize_url: str, who: str = CITIZEN.id_number) -> str:
    """The citizen logs in on SmartCA's page; returns where SmartCA sends the browser."""
    r = requests.post(authorize_url, data={"username": who, "password": SMARTCA_PASSWORD},
                      allow_redirects=False, timeout=5)
    assert r.status_code == 302, r.text[:300]
    assert r.headers["Location"].startswith(CALLBACK + "?")
    return r.headers["Location"]


def callback(web, location: str):
    parts = urlsplit(location)
    return web.get(f"{parts.path}?{parts.query}")


def test_smartca_login_and_approval_signs_in_at_loa3(web, sca, world):
    html, params, verifier = login_page(web, acr="LoA3", tab="")
    authorize_url = to_smartca(web, html)
    got = query(authorize_url)
    assert authorize_url.startswith(world["smartca_url"] + "/auth/authorize?")
    assert got["redirect_uri"] == CALLBACK and got["client_id"] == CLIENT_ID
    assert len(got["state"]) >= 32
    waiting = waiting_page(web, callback(web, smartca_login(authorize_url)))
    assert "VNPT SmartCA" in waiting and "Tôi đã xác nhận trên ứng dụng" in waiting
    tx = answer_phone(sca)
    assert tx["display"] == display_code(waiting)  # signhash's description
    digest = tx["items"][0][1]
    assert len(bytes.fromhex(digest)) == hashlib.sha256().digest_size
    got = finish(web, check(web, waiting))
    claims = claims_of(web, got["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["amr"] == AMR_SMARTCA
    assert got["state"] == params["state"]


def test_denied_at_smartca_goes_back_with_nothing_written(web, app):
    html, _, _ = login_page(web, tab="")
    state = query(to_smartca(web, html))["state"]
    r = web.get(f"/signin/smartca/callback?error=access_denied&state={state}")
    assert (r.status_code, msg_id(r)) == (400, "signer.smartca_denied") and no_session(r)
    assert 'data-testid="smartca-block"' in r.get_data(as_text=True)
    assert "certificate.signer_started" not in events(app)


def test_a_replayed_state_is_refused(web, sca):
    html, _, _ = login_page(web, tab="")
    back = smartca_login(to_smartca(web, html))
    waiting_page(web, callback(web, back))
    r = callback(web, back)  # the same callback again
    assert (r.status_code, msg_id(r)) == (400, "signer.smartca_state") and no_session(r)
    assert len(sca.transactions()) == 1


def test_a_state_from_another_browser_is_refused(app, web, sca):
    html, _, _ = login_page(web, tab="")
    back = smartca_login(to_smartca(web, html))
    other = app.test_client()
    r = callback(other, back)
    assert (r.status_code, msg_id(r)) == (400, "signer.smartca_state") and no_session(r)
    assert not sca.transactions()
    r = callback(web, back)  # used up by the attempt, even for its own browser
    assert msg_id(r) == "signer.smartca_state"


def test_an_unknown_state_is_refused(web):
    html, _, _ = login_page(web, tab="")
    to_smartca(web, html)
    r = web.get("/signin/smartca/callback?code=abc&state=not-a-state-we-made")
    assert (r.status_code, msg_id(r)) == (400, "signer.smartca_state")
    assert 'data-testid="smartca-block"' in r.get_data(as_text=True)  # back on the page


def test_a_code_is_exchanged_once(web, sca):
    html, _, _ = login_page(web, tab="")
    first = smartca_login(to_smartca(web, html))
    html = cancel(web, waiting_page(web, callback(web, first)))
    state = query(to_smartca(web, html))["state"]
    code = query(first)["code"]
    r = web.get(f"/signin/smartca/callback?code={code}&state={state}")  # the old code again
    assert (r.status_code, msg_id(r)) == (400, "signer.invalid_grant") and no_session(r)
    assert len(sca.transactions()) == 1


def test_smartca_outage_is_a_503_on_the_page(web, sca):
    html, _, _ = login_page(web, tab="")
    back = smartca_login(to_smartca(web, html))
    sca.settings(fault="error")
    r = callback(web, back)
    assert (r.status_code, msg_id(r)) == (503, "signer.unavailable") and no_session(r)
    assert int(r.headers["Retry-After"]) > 0


def test_smartca_rejected_in_the_app(web, sca):
    html, _, _ = login_page(web, tab="")
    waiting = waiting_page(web, callback(web, smartca_login(to_smartca(web, html))))
    answer_phone(sca, "reject")
    r = check(web, waiting)
    message, page = back_on_tab(web, r)
    assert message == "signer.rejected" and 'data-testid="smartca-block"' in page


# --------------------------------------------------------------------------- step-up

def test_a_loa2_session_steps_up_to_loa3_with_sim(web, sim):
    page = follow_to_login(web, authorize(web, auth_params(challenge=pkce_pair()[1])))
    finish(web, login_form_submit(web, page.get_data(as_text=True), CITIZEN.id_number,
                                  CITIZEN.password, second_factor=True))
    verifier, challenge = pkce_pair()
    step = follow_to_login(web, authorize(web, auth_params(challenge=challenge,
                                                           acr_values="LoA3")))
    path = urlsplit(step.request.url).path
    html = step.get_data(as_text=True)
    assert 'data-testid="smartca-block"' in html and 'name="password"' not in html
    html = web.get(f"{path}?tab=sim").get_data(as_text=True)
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen2"]))  # someone else's SIM
    answer_phone(sim)
    message, html = back_on_tab(web, check(web, waiting))
    assert message == "certificate.other_account"
    waiting = waiting_page(web, ask_sim(web, html, PHONES["citizen"]))
    answer_phone(sim)
    got = finish(web, check(web, waiting))
    claims = claims_of(web, got["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["amr"] == AMR_SIM


def test_a_loa2_session_steps_up_to_loa3_with_smartca(web, sca):
    page = follow_to_login(web, authorize(web, auth_params(challenge=pkce_pair()[1])))
    finish(web, login_form_submit(web, page.get_data(as_text=True), CITIZEN.id_number,
                                  CITIZEN.password, second_factor=True))
    verifier, challenge = pkce_pair()
    step = follow_to_login(web, authorize(web, auth_params(challenge=challenge,
                                                           acr_values="LoA3")))
    waiting = waiting_page(web, callback(web, smartca_login(to_smartca(
        web, step.get_data(as_text=True)))))
    answer_phone(sca)
    claims = claims_of(web, finish(web, check(web, waiting))["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["amr"] == AMR_SMARTCA
