"""Issue 16, "Đăng nhập bằng VNeID" over HTTP: the IdP (a Flask test client as the browser)
against the VNeID stand-in (standins/vneid.py) on a loopback port, in both of its modes —
"vneid-encrypted" (VNeID's partner API: encrypted code, token and userinfo, no ID token) and
"oidc" (discovery, ID token, PKCE, nonce, RFC 9207 `iss`, back-channel logout).

First login creates an account (consent, phone proven by SMS), the second finds it, an
existing local account with the same number is linked without a password (its phones told),
an old 9-digit CMND account is moved to the 12-digit number after password + SMS; a level-1
VNeID login goes on to the account's own second factor. Every failure of the round trip is a
clean Vietnamese message on the login page and writes nothing."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask import request as incoming
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.platform.db import db
from idp.platform.models import AuditEvent, Citizen, FederatedIdentity, SsoSession
from tests.support import (
    CITIZEN,
    auth_params,
    authorize,
    follow_to_login,
    form_action,
    hidden,
    last_code,
    outbox,
    pkce_pair,
    query,
    token_request,
)
from tests.support.apps import make_app
from tests.support.people import ALL_SCOPES, ISSUER
from tests.support.standins import closed_port_url, serve_wsgi
from tests.support.vneid import cancel_login, fake_login, rp_key, serve_vneid

CALLBACK = ISSUER + "/signin/upstream/vneid/callback"
LOGGED_OUT = ISSUER + "/signin/upstream/vneid/logged-out"
CLIENT_ID, CLIENT_SECRET = "idp-test", "vneid-secret"
NEW = {"citizenPid": "066190008812", "fullName": "Võ Thị Thu Trang", "birthDate": "1990-06-25",
       "accountType": "CONG_DAN", "accountLevel": 2}
LEVEL1 = {"citizenPid": "001200000001", "fullName": "Đặng Quốc Bảo", "birthDate": "2000-01-15",
          "accountType": "CONG_DAN", "accountLevel": 1}
KNOWN = {"citizenPid": CITIZEN.id_number, "fullName": CITIZEN.full_name,
         "birthDate": CITIZEN.birth_date, "accountType": "CONG_DAN", "accountLevel": 2}
CMND = "241234567"
FORMER = {"citizenPid": "066078009934", "fullName": "Y Khoa Niê", "birthDate": "1978-04-02",
          "accountType": "CONG_DAN", "accountLevel": 2}
FORMER_PASSWORD = "buon-don-voi-rung-1978"


@pytest.fixture(scope="module")
def catcher():
    """Where the stand-in delivers its back-channel logout tokens (the IdP under test is a
    test client, not a server): the tokens, for the test to hand to the IdP."""
    caught: list[str] = []
    app = Flask("catcher")

    @app.post("/backchannel")
    def receive():
        caught.append(incoming.form.get("logout_token", ""))
        return "", 200

    with serve_wsgi(app) as url:
        yield url + "/backchannel", caught


@pytest.fixture(scope="module", params=["vneid-encrypted", "oidc"])
def vneid(request, catcher):
    with serve_vneid(request.param, redirect_uri=CALLBACK, client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET, post_logout_redirect_uri=LOGGED_OUT,
                     backchannel_logout_uri=catcher[0],
                     rp_public_key_pem=rp_key().pem_public()) as served:
        served.mode = request.param
        served.caught = catcher[1]
        yield served


def providers_file(path, vneid, **changes) -> str:
    url = changes.pop("url", vneid.url)
    lines = ["[vneid]", 'label = "VNeID"', f'mode = "{vneid.mode}"',
             f'client_id = "{CLIENT_ID}"', f'client_secret = "{CLIENT_SECRET}"', "timeout = 2.0"]
    if vneid.mode == "oidc":
        lines += [f'discovery_url = "{url}/.well-known/openid-configuration"',
                  f'issuer = "{url}"']
    else:
        key = path / "rp-key.pem"
        key.write_text(rp_key().pem_private())
        lines += [f'authorization_endpoint = "{url}/authorize"',
                  f'token_endpoint = "{url}/token"', f'userinfo_endpoint = "{url}/userinfo"',
                  f'logout_endpoint = "{url}/api/idp/third-party/logout"',
                  f'private_key_file = "{key}"']
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in changes.items()]
    target = path / "upstream.toml"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(target)


@pytest.fixture
def app(database_url, vneid, tmp_path):
    vneid.control.reset()
    vneid.control.citizens([NEW, LEVEL1, KNOWN, FORMER])
    app = make_app(database_url, upstream_providers_file=providers_file(tmp_path, vneid))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def web(app):
    return app.test_client()


# --------------------------------------------------------------------------- helpers

def msg_ids(html: str) -> list[str]:
    return re.findall(r'data-msg="([a-z0-9_.]+)"', html)


def login_page(web, acr="LoA2", scope=ALL_SCOPES):
    verifier, challenge = pkce_pair()
    params = auth_params(challenge=challenge, acr_values=acr, scope=scope)
    page = follow_to_login(web, authorize(web, params))
    return page.get_data(as_text=True), params, verifier


def to_vneid(web, html: str):
    """Press "Đăng nhập bằng VNeID": the 303 to the stand-in's authorization page."""
    action = re.search(r'<form method="post" action="([^"]+)" class="form">\s*'
                       r'<input[^>]*csrf_token[^>]*>\s*(?:<div[^>]*>.*?</div>\s*)?'
                       r'<button[^>]*data-testid="upstream-vneid"', html, re.S)
    assert action, html[:3000]
    r = web.post(action.group(1), data={"csrf_token": hidden(html, "csrf_token")})
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    return r.headers["Location"]


def back_from_vneid(web, location: str):
    """The browser follows the stand-in's redirect to our callback, the query kept as it is
    (a literal '+' in the encrypted code must reach the IdP unchanged)."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK, location
    return web.get(f"{parts.path}?{parts.query}")


def vneid_login(web, citizen: dict, html: str):
    return back_from_vneid(web, fake_login(requests.Session(), to_vneid(web, html),
                                           citizen["citizenPid"]))


def follow(web, r):
    assert r.status_code == 303, (r.status_code, msg_ids(r.get_data(as_text=True)),
                                  r.get_data(as_text=True)[:800])
    return web.get(r.headers["Location"])


def finish_at_portal(web, r) -> dict:
    """The 303 that ended the login, followed to the portal's redirect."""
    assert r.status_code == 303, (r.status_code, r.get_data(as_text=True)[:800])
    r = web.get(r.headers["Location"])
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    return query(r.headers["Location"])


def tokens_of(web, code: str, verifier: str) -> tuple[dict, str]:
    r = token_request(web, code, verifier)
    assert r.status_code == 200, r.get_data(as_text=True)
    keys = KeySet.import_key_set(web.get("/jwks.json").get_json())
    body = r.get_json()
    return jwt.decode(body["id_token"], keys).claims, body["access_token"]


def post(web, html: str, **fields):
    return web.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                             **fields})


def create_account(web, app, page, phone="0912000111"):
    """"Tạo tài khoản mới": consent and phone, then the SMS code; ends on "created"."""
    html = page.get_data(as_text=True)
    assert 'data-testid="federated-create"' in html
    form = follow(web, post(web, html, action="create")).get_data(as_text=True)
    code_page = follow(web, post(web, form, phone=phone, consent="yes"))
    html = code_page.get_data(as_text=True)
    code = last_code(app, "+84" + phone[1:])
    return follow(web, post(web, html, otp=code))


def rows(app, model) -> list:
    with app.app_context():
        return list(db.session.scalars(select(model)))


def events(app) -> list[str]:
    with app.app_context():
        return [e.event for e in db.session.scalars(select(AuditEvent))]


# --------------------------------------------------------------------------- journeys

def test_the_login_page_offers_vneid(web):
    html, _, _ = login_page(web)
    assert 'data-testid="upstream-block"' in html and "Đăng nhập bằng VNeID" in html


def test_first_login_creates_the_account_and_the_second_finds_it(web, app, vneid):
    html, params, verifier = login_page(web)
    page = follow(web, vneid_login(web, NEW, html))
    choose = page.get_data(as_text=True)
    assert "Chưa có tài khoản liên kết với VNeID" in choose and NEW["fullName"] in choose
    assert NEW["citizenPid"] not in choose  # masked
    done = create_account(web, app, page)
    assert 'data-testid="federated-done"' in done.get_data(as_text=True)
    got = finish_at_portal(web, post(web, done.get_data(as_text=True), action="continue"))
    assert got["state"] == params["state"]
    claims, access = tokens_of(web, got["code"], verifier)
    assert claims["amr"] == ["fed", "sms", "mfa"] and claims["acr"] == "LoA2"
    assert claims["loginIdp"] == "BCA"
    info = web.get("/userinfo", headers={"Authorization": f"Bearer {access}"}).get_json()
    assert info["SoDinhDanh"] == NEW["citizenPid"] and info["HoVaTen"] == NEW["fullName"]
    assert info["NgayThangNamSinh"] == "19900625" and info["TaiKhoanDuocXacThucVoiVNeID"] is True
    assert "GioiTinh" not in info
    with app.app_context():
        citizen = db.session.scalar(select(Citizen).where(
            Citizen.id_number == NEW["citizenPid"]))
        assert citizen.verified_by == "vneid" and citizen.ial == "IAL2"
        link = db.session.scalar(select(FederatedIdentity))
        assert link.citizen_id == citizen.id and link.linked_by == "created"
    # the second login: straight back to the portal, VNeID level 2 → LoA2, amr fed
    second = app.test_client()  # another browser: no SSO session
    html, params, verifier = login_page(second)
    got = finish_at_portal(second, vneid_login(second, NEW, html))
    claims, _ = tokens_of(second, got["code"], verifier)
    assert claims["amr"] == ["fed"] and claims["acr"] == "LoA2"
    assert len(rows(app, FederatedIdentity)) == 1 and len(rows(app, Citizen)) == 3


def test_an_existing_account_is_linked_without_a_password_and_told(web, app):
    html, params, verifier = login_page(web)
    got = finish_at_portal(web, vneid_login(web, KNOWN, html))
    claims, _ = tokens_of(web, got["code"], verifier)
    assert claims["amr"] == ["fed"] and claims["acr"] == "LoA2"
    links = rows(app, FederatedIdentity)
    assert [(link.pid, link.linked_by) for link in links] == [(CITIZEN.id_number, "id_number")]
    notices = [m for m in outbox(app) if m["to"] == CITIZEN.phone]
    assert any("VNeID" in m["text"] for m in notices)
    assert "federation.linked" in events(app)


def test_a_level_1_login_goes_on_to_the_accounts_second_factor(web, app, vneid):
    vneid.control.citizens([{**KNOWN, "accountLevel": 1}])
    html, params, verifier = login_page(web)
    page = follow(web, vneid_login(web, {**KNOWN, "accountLevel": 1}, html))
    code_page = page.get_data(as_text=True)
    assert "second_factor.reason_federated_sms" in msg_ids(code_page)
    r = post(web, code_page, otp=last_code(app, CITIZEN.phone))
    got = finish_at_portal(web, r)
    claims, _ = tokens_of(web, got["code"], verifier)
    assert claims["amr"] == ["fed", "sms", "mfa"] and claims["acr"] == "LoA2"


def test_a_level_1_login_is_enough_where_the_portal_asks_loa1(web, app, vneid):
    vneid.control.citizens([{**KNOWN, "accountLevel": 1}])
    with app.app_context():
        from idp.platform.models import Client
        client = db.session.scalar(select(Client).where(Client.client_id == "portal"))
        meta = dict(client.client_metadata, login_acr_floor="LoA1")
        client.set_metadata(meta)
        db.session.commit()
    app.config["IDP"]["allow_loa1_clients"] = True
    html, params, verifier = login_page(web, acr="LoA1")
    got = finish_at_portal(web, vneid_login(web, {**KNOWN, "accountLevel": 1}, html))
    claims, _ = tokens_of(web, got["code"], verifier)
    assert claims["amr"] == ["fed"] and claims["acr"] == "LoA1"


def seed_cmnd_account(app):
    from idp.platform.crypto import hash_password
    with app.app_context():
        db.session.add(Citizen(sub="sub-cmnd", id_number=CMND, full_name="Y Khoa Niê",
                               birth_date=FORMER["birthDate"], gender="male",
                               phone="+84398765123",
                               password_hash=hash_password(FORMER_PASSWORD)))
        db.session.commit()


def former_form(web, app):
    html, params, verifier = login_page(web)
    page = follow(web, vneid_login(web, FORMER, html))
    form = follow(web, post(web, page.get_data(as_text=True), action="former"))
    return form.get_data(as_text=True), params, verifier


def answer(web, html, **fields):
    captcha = web.get(f"/_test/captcha/{hidden(html, 'captcha_id')}").get_data(as_text=True)
    return post(web, html, captcha_id=hidden(html, "captcha_id"), captcha=captcha,
                action="prove", **fields)


def test_an_old_cmnd_account_moves_to_the_12_digit_number_after_proof(web, app):
    seed_cmnd_account(app)
    html, params, verifier = former_form(web, app)
    code_page = follow(web, answer(web, html, cmnd=CMND, password=FORMER_PASSWORD))
    done = follow(web, post(web, code_page.get_data(as_text=True),
                            otp=last_code(app, "+84398765123")))
    assert 'data-testid="federated-done"' in done.get_data(as_text=True)
    got = finish_at_portal(web, post(web, done.get_data(as_text=True), action="continue"))
    claims, access = tokens_of(web, got["code"], verifier)
    assert claims["amr"] == ["fed", "pwd", "sms", "mfa"] and claims["acr"] == "LoA2"
    with app.app_context():
        moved = db.session.scalar(select(Citizen).where(Citizen.sub == "sub-cmnd"))
        assert moved.id_number == FORMER["citizenPid"] and moved.former_id_number == CMND
        assert db.session.scalar(select(FederatedIdentity)).linked_by == "cmnd"
    assert len(rows(app, Citizen)) == 3  # one person, one account


def test_a_wrong_cmnd_password_moves_nothing(web, app):
    seed_cmnd_account(app)
    html, _, _ = former_form(web, app)
    r = answer(web, html, cmnd=CMND, password="not-the-password-1")
    assert r.status_code == 400 and "method.password_wrong" in msg_ids(r.get_data(as_text=True))
    r = answer(web, r.get_data(as_text=True), cmnd="24123456", password=FORMER_PASSWORD)
    assert r.status_code == 400 and "federation.cmnd_format" in msg_ids(r.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(Citizen.id_number).where(
            Citizen.sub == "sub-cmnd")) == CMND
    assert rows(app, FederatedIdentity) == []


def test_a_cmnd_account_of_another_birth_date_is_not_moved(web, app):
    seed_cmnd_account(app)
    with app.app_context():
        db.session.scalar(select(Citizen).where(Citizen.sub == "sub-cmnd")).birth_date = \
            "1979-04-02"
        db.session.commit()
    html, _, _ = former_form(web, app)
    r = answer(web, html, cmnd=CMND, password=FORMER_PASSWORD)
    assert r.status_code == 403
    assert "federation.cmnd_mismatch" in msg_ids(r.get_data(as_text=True))
    assert rows(app, FederatedIdentity) == []


def test_registration_offers_bo_cong_an_through_vneid(web, app):
    verifier, challenge = pkce_pair()
    r = authorize(web, auth_params(challenge=challenge, prompt="create"))
    page = follow_to_login(web, r).get_data(as_text=True)
    assert 'value="bca"' in page and "disabled" not in page.split('value="bca"')[1][:80]
    step = follow(web, post(web, page, account_type="citizen", method="bca"))
    html = step.get_data(as_text=True)
    assert 'data-testid="upstream-vneid"' in html
    got = finish_at_portal(web, vneid_login(web, KNOWN, html))
    assert got.get("code")


# --------------------------------------------------------------------------- refusals

def refused_on_login_page(web, r, message_id: str, app) -> None:
    assert r.status_code in (400, 403, 503), (r.status_code, r.get_data(as_text=True)[:500])
    html = r.get_data(as_text=True)
    assert message_id in msg_ids(html), msg_ids(html)
    assert 'data-testid="upstream-block"' in html  # the login page, ready to try again
    assert rows(app, FederatedIdentity) == [] and rows(app, SsoSession) == []


def test_cancel_at_vneid_is_said_and_nothing_is_written(web, app):
    html, _, _ = login_page(web)
    location = cancel_login(requests.Session(), to_vneid(web, html))
    refused_on_login_page(web, back_from_vneid(web, location), "upstream.denied", app)


def test_a_replayed_callback_is_refused(web, app):
    html, _, _ = login_page(web)
    location = fake_login(requests.Session(), to_vneid(web, html), KNOWN["citizenPid"])
    assert back_from_vneid(web, location).status_code == 303
    again = back_from_vneid(web, location)
    assert again.status_code == 400
    assert "upstream.bad_state" in msg_ids(again.get_data(as_text=True))


def test_a_callback_in_another_browser_is_refused(web, app):
    html, _, _ = login_page(web)
    location = fake_login(requests.Session(), to_vneid(web, html), KNOWN["citizenPid"])
    r = back_from_vneid(app.test_client(), location)
    assert r.status_code == 400 and "upstream.bad_state" in msg_ids(r.get_data(as_text=True))
    assert rows(app, FederatedIdentity) == []


# The encrypted mode's envelope faults apply to it alone, the ID-token faults to the oidc mode
# alone; the rest to both: each case is generated for the modes it applies to.
ENVELOPE_FAULTS = [("corrupt_key", "upstream.bad_envelope"),
                   ("corrupt_data", "upstream.bad_envelope"),
                   ("bad_padding", "upstream.bad_envelope"), ("truncated", "upstream.bad_envelope"),
                   ("missing_member", "upstream.bad_envelope")]
ANSWER_FAULTS = [("oversized", "upstream.bad_response"), ("error", "upstream.upstream_error"),
                 ("html", "upstream.bad_response"), ("malformed", "upstream.bad_response")]
OIDC_ONLY = pytest.mark.parametrize("vneid", ["oidc"], indirect=True)


@pytest.mark.parametrize("vneid, fault, reason", [
    *(("vneid-encrypted", f, r) for f, r in ENVELOPE_FAULTS),
    *((mode, f, r) for mode in ("vneid-encrypted", "oidc") for f, r in ANSWER_FAULTS)],
    indirect=["vneid"])
def test_a_broken_answer_is_refused_cleanly(web, app, vneid, fault, reason):
    vneid.control.settings(fault=fault)
    html, _, _ = login_page(web)
    refused_on_login_page(web, vneid_login(web, KNOWN, html), reason, app)


@OIDC_ONLY
@pytest.mark.parametrize("fault, reason", [
    ("bad_id_token_signature", "upstream.bad_token"), ("wrong_issuer", "upstream.wrong_issuer"),
    ("wrong_aud", "upstream.bad_token"), ("expired_id_token", "upstream.bad_token"),
    ("wrong_nonce", "upstream.bad_token"), ("unknown_kid", "upstream.bad_token"),
    ("wrong_iss_param", "upstream.wrong_issuer")])
def test_a_wrong_id_token_is_refused(web, app, vneid, fault, reason):
    vneid.control.settings(fault=fault)
    html, _, _ = login_page(web)
    refused_on_login_page(web, vneid_login(web, KNOWN, html), reason, app)


def test_a_slow_vneid_times_out_cleanly(web, app, vneid):
    html, _, _ = login_page(web)
    location = fake_login(requests.Session(), to_vneid(web, html), KNOWN["citizenPid"])
    vneid.control.settings(latency=3.0)
    refused_on_login_page(web, back_from_vneid(web, location), "upstream.timeout", app)


def test_an_unreachable_vneid_is_said(database_url, vneid, tmp_path):
    app = make_app(database_url, upstream_providers_file=providers_file(
        tmp_path, vneid, url=closed_port_url()))
    web = app.test_client()
    html, _, _ = login_page(web)
    r = web.post(re.search(r'action="(/signin/upstream/vneid/[^"]+)"', html).group(1),
                 data={"csrf_token": hidden(html, "csrf_token")})
    if r.status_code == 303:  # the encrypted mode needs nothing from VNeID to start
        state = query(r.headers["Location"])["state"]
        r = web.get("/signin/upstream/vneid/callback", query_string={"code": "x",
                                                                     "state": state})
    refused_on_login_page(web, r, "upstream.unreachable", app)


# --------------------------------------------------------------------------- logout

def test_logout_at_the_idp_goes_on_to_vneids_logout(web, app, vneid):
    html, _, _ = login_page(web)
    finish_at_portal(web, vneid_login(web, KNOWN, html))
    r = web.post("/logout", data={"confirm": "1", "csrf_token": hidden(
        web.get("/logout").get_data(as_text=True), "csrf_token")})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    target = r.headers["Location"]
    assert target.startswith(vneid.url), target
    with app.app_context():
        assert all(s.revoked_at for s in db.session.scalars(select(SsoSession)))
    back = requests.get(target, allow_redirects=False, timeout=5)
    if back.status_code in (302, 303):
        parts = urlsplit(back.headers["Location"])
        assert parts.path == "/signin/upstream/vneid/logged-out"
        page = web.get(f"{parts.path}?{parts.query}")
        assert page.status_code == 200 and "Bạn đã đăng xuất" in page.get_data(as_text=True)


@OIDC_ONLY  # VNeID's encrypted mode has no back-channel logout
def test_a_back_channel_logout_from_vneid_ends_the_session(web, app, vneid):
    html, _, _ = login_page(web)
    finish_at_portal(web, vneid_login(web, KNOWN, html))
    server = app.test_client()
    vneid.caught.clear()
    assert vneid.control.backchannel_logout(citizenPid=KNOWN["citizenPid"])["status"] == 200
    token = vneid.caught[-1]
    r = server.post("/signin/upstream/vneid/backchannel-logout", data={"logout_token": token})
    assert r.status_code == 200, r.get_data(as_text=True)
    with app.app_context():
        assert all(s.revoked_at for s in db.session.scalars(select(SsoSession)))
    replay = server.post("/signin/upstream/vneid/backchannel-logout",
                         data={"logout_token": token})
    assert replay.status_code == 400
    bad = server.post("/signin/upstream/vneid/backchannel-logout",
                      data={"logout_token": token[:-4] + "AAAA"})
    assert bad.status_code == 400
