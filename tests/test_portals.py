"""The two demo portals (portals/, issue 6) as relying parties of the IdP over real loopback
HTTP: the IdP via `live_idp`, both portals as werkzeug servers on random ports, registered in
the IdP's database with their actual redirect URIs; a requests.Session plays the browser.
Login at the provincial portal (password + captcha + SMS code: LoA2, the deployment's
login_min_acr), SSO at the national portal without a password, step-up with only the OTP from
a LoA1 client's session, dvcqg claims, `kid` refetch after a key rotation, the back-channel
logout receiver's validation, RP-initiated logout."""
from __future__ import annotations

import re
import threading
import time
import uuid
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from idp.platform import keys
from idp.platform.crypto import hash_secret
from idp.platform.db import db
from idp.platform.models import Client
from idp.protocol.endpoints import discovery_document
from portals import daklak, quocgia
from tests.support import CITIZEN, deliver_outbox, hidden
from tests.support.apps import free_port

DAKLAK_SECRET = "daklak-test-secret-0123456789-abcdefghij"
QUOCGIA_SECRET = "quocgia-test-secret-0123456789-abcdefghij"
HAS_END_SESSION = "end_session_endpoint" in discovery_document("http://127.0.0.1:5000")


class Portal:
    def __init__(self, app, base: str):
        self.app, self.base = app, base

    def url(self, path: str) -> str:
        return self.base + path


def _register(idp_app, client_id: str, secret: str, base: str, scope: str, alg: str):
    with idp_app.app_context():
        c = Client(client_id=client_id, client_secret_hash=hash_secret(secret))
        c.set_metadata({
            "client_name": client_id, "redirect_uris": [base + "/auth/callback"],
            "post_logout_redirect_uris": [base + "/"],
            "backchannel_logout_uri": base + "/auth/backchannel-logout",
            "backchannel_logout_session_required": True,
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "scope": scope, "token_endpoint_auth_method": "client_secret_basic",
            "id_token_signed_response_alg": alg, "first_party": True})
        db.session.add(c)
        db.session.commit()


@pytest.fixture
def portals(live_idp, tmp_path):
    issuer, idp_app = live_idp
    servers, made = [], {}
    for name, module, secret, alg in (("daklak", daklak, DAKLAK_SECRET, "ES256"),
                                      ("quocgia", quocgia, QUOCGIA_SECRET, "RS256")):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        _register(idp_app, module.DEFAULTS["client_id"], secret, base,
                  module.DEFAULTS["scope"] + " offline_access", alg)
        app = module.create_app(issuer=issuer, base_url=base, client_secret=secret,
                                instance_dir=str(tmp_path / name), secret_key="s" * 40 + name)
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        made[name] = Portal(app, base)
    yield issuer, idp_app, made["daklak"], made["quocgia"]
    for server in servers:
        server.shutdown()


def _outbox(idp_app) -> list:
    return [m for m in idp_app.extensions["idp.sms"].read(limit=10 ** 6)
            if m["to"] == CITIZEN.phone]


def drive(browser: requests.Session, url: str, issuer: str, idp_app, method="GET", data=None):
    """Play the citizen's browser from `url` until a page of a portal (not the IdP) is shown.
    Answers the IdP's login page (password + captcha via the test hook) and OTP page (code from
    the outbox). Returns (final response, IdP pages passed)."""
    sent = len(_outbox(idp_app))
    pages = []
    r = browser.request(method, url, data=data, allow_redirects=False)
    for _ in range(20):
        if r.status_code in (301, 302, 303):
            r = browser.get(urljoin(r.url, r.headers["Location"]), allow_redirects=False)
            continue
        if not r.url.startswith(issuer + "/"):
            return r, pages
        assert r.status_code == 200, r.text[:500]
        html = r.text
        action = urljoin(r.url, re.search(r'<form[^>]*action="([^"]+)"', html).group(1)
                         .replace("&amp;", "&"))
        form = {"csrf_token": hidden(html, "csrf_token")}
        if 'name="password"' in html:
            pages.append("login")
            captcha_id = hidden(html, "captcha_id")
            form.update(captcha_id=captcha_id,
                        captcha=browser.get(f"{issuer}/_test/captcha/{captcha_id}").text,
                        username=CITIZEN.id_number, password=CITIZEN.password)
        elif 'name="otp"' in html:
            pages.append("otp")
            messages = _outbox(idp_app)
            assert len(messages) == sent + 1, messages[sent:]
            form.update(otp=re.search(r"\b([0-9]{6})\b", messages[-1]["text"]).group(1),
                        action="verify")
        else:
            pages.append("other")
            for name in re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"', html):
                form[name] = hidden(html, name)
        r = browser.post(action, data=form, allow_redirects=False)
    raise AssertionError("never came back to a portal")


def by_testid(html: str, name: str) -> str:
    m = re.search(r'data-testid="%s"[^>]*>([^<]*)<' % re.escape(name), html)
    assert m, f"no data-testid={name} on the page"
    return m.group(1).strip()


def acr_of(html: str, name: str) -> str:
    """The machine level behind a citizen-facing "Mức 2 (…)" label (data-acr)."""
    m = re.search(r'data-testid="%s"[^>]*data-acr="([^"]*)"' % re.escape(name), html)
    assert m, f"no data-acr on data-testid={name}"
    return m.group(1)


def record(portal: Portal):
    """The portal's newest server-side session record."""
    store = portal.app.extensions["portal"].store
    rows = store._run("SELECT id FROM sessions WHERE revoked_at IS NULL "
                      "ORDER BY created_at DESC LIMIT 1")
    return store.get(rows[0][0]) if rows else None


def login_daklak(browser, issuer, idp_app, dk) -> None:
    r, pages = drive(browser, dk.url("/auth/login?next=/thong-tin"), issuer, idp_app)
    # The portal asks LoA1; every login reaches login_min_acr (LoA2): password, SMS code.
    assert pages == ["login", "otp"]
    assert r.status_code == 200 and r.url == dk.url("/thong-tin")
    assert acr_of(r.text, "claim-acr") == "LoA2"


# ------------------------------------------------------------------------------- pages

def test_provincial_home_and_login_chooser_follow_the_seed(portals):
    _, _, dk, qg = portals
    html = requests.get(dk.url("/"), timeout=5).text
    for text in ("HỆ THỐNG THÔNG TIN GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH", "TỈNH ĐẮK LẮK",
                 "BỘ THỦ TỤC", "TRA CỨU HỒ SƠ", "NỘP HỒ SƠ", "ĐÁNH GIÁ CÁN BỘ", "KHẢO SÁT",
                 "PHẢN ÁNH KIẾN NGHỊ", "VĂN BẢN XIN LỖI", "THÔNG TIN KHÁC",
                 "TÌNH HÌNH XỬ LÝ HỒ SƠ NĂM 2023", "98,1 %", "487.852", "488.005",
                 "DANH SÁCH HỒ SƠ ĐÃ GIẢI QUYẾT", "000.00.60.H15-230619-0035",
                 "Nộp hồ sơ trực tuyến", "Nhận kết quả"):
        assert text in html, text
    # Names on the public list are masked.
    assert "PHẠM Q. H." in html and "PHẠM QUỐC HÙNG" not in html
    assert 'data-testid="login"' in html and 'data-testid="register"' in html
    assert "<script" not in html and "style=" not in html
    chooser = requests.get(dk.url("/dang-nhap"), timeout=5).text
    assert "Đăng nhập Cổng DVC Quốc gia" in chooser
    first = chooser.index("Tài khoản cấp bởi Cổng dịch vụ công quốc gia")
    for other in ("USB ký số", "SIM ký số", "VNPT SmartCA", "VNeID"):
        assert chooser.index(other) > first
    assert "CỔNG DỊCH VỤ CÔNG QUỐC GIA" in requests.get(qg.url("/"), timeout=5).text


def test_register_starts_oidc_with_prompt_create(portals):
    issuer, _, dk, _ = portals
    r = requests.get(dk.url("/dang-ky"), allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"].startswith(issuer + "/authorize?")
    q = parse_qs(urlsplit(r.headers["Location"]).query)
    assert q["prompt"] == ["create"] and q["code_challenge_method"] == ["S256"]
    assert q["client_id"] == ["dvc-daklak"] and q["nonce"] and q["state"]


# ------------------------------------------------------------------------------- SSO, step-up

def test_login_sso_step_up_and_dvcqg_claims(portals):
    issuer, idp_app, dk, qg = portals
    browser = requests.Session()
    login_daklak(browser, issuer, idp_app, dk)

    # Single sign-on at the national portal: no IdP page at all; dvcqg claims shown.
    r, pages = drive(browser, qg.url("/thong-tin"), issuer, idp_app)
    assert pages == [] and r.url == qg.url("/thong-tin")
    assert acr_of(r.text, "claim-acr") == "LoA2"
    assert by_testid(r.text, "claim-id-number") == CITIZEN.id_number
    assert by_testid(r.text, "claim-name") == CITIZEN.full_name
    year, month, day = CITIZEN.birth_date.split("-")
    assert by_testid(r.text, "claim-birthdate") == f"{day}/{month}/{year}"
    assert "SoDinhDanh" not in requests.get(dk.url("/"), timeout=5).text

    # "Nộp hồ sơ" needs LoA2: the login already reached it (step-up: the next test).
    r, pages = drive(browser, dk.url("/nop-ho-so"), issuer, idp_app)
    assert pages == []
    assert r.url == dk.url("/nop-ho-so") and acr_of(r.text, "submit-acr") == "LoA2"
    rec = record(dk)
    assert rec.claims["acr"] == "LoA2" and {"pwd", "sms"} <= set(rec.claims["amr"])
    page = browser.get(dk.url("/thong-tin")).text
    assert acr_of(page, "claim-acr") == "LoA2"

    # Submitting needs the CSRF token.
    assert browser.post(dk.url("/nop-ho-so"), data={"procedure": "xac-nhan-cu-tru"}).status_code \
        == 400
    form = browser.get(dk.url("/nop-ho-so")).text
    done = browser.post(dk.url("/nop-ho-so"), data={"procedure": "xac-nhan-cu-tru",
                                                   "csrf_token": hidden(form, "csrf_token")})
    assert done.status_code == 200 and "Hồ sơ đã được tiếp nhận" in done.text
    assert re.fullmatch(r"000\.00\.\d\d\.H15-\d{6}-\d{4}", by_testid(done.text, "case-code"))

    r, pages = drive(browser, qg.url("/nop-ho-so"), issuer, idp_app)
    assert pages == [] and acr_of(r.text, "submit-acr") == "LoA2"


def test_a_loa1_client_session_steps_up_at_the_other_portal(portals):
    """An operator allowed the provincial portal LoA1 (allow_loa1_clients, login_acr_floor):
    its login stops at the password. That LoA1 session does not satisfy the national portal
    (the deployment's LoA2): the IdP asks only the SMS code, saying why."""
    issuer, idp_app, dk, qg = portals
    idp_app.config["IDP"]["allow_loa1_clients"] = True
    with idp_app.app_context():
        client = db.session.query(Client).filter_by(
            client_id=daklak.DEFAULTS["client_id"]).one()
        client.set_metadata({**client.client_metadata, "login_acr_floor": "LoA1"})
        db.session.commit()
    browser = requests.Session()
    r, pages = drive(browser, dk.url("/auth/login?next=/thong-tin"), issuer, idp_app)
    assert pages == ["login"] and acr_of(r.text, "claim-acr") == "LoA1"
    r, pages = drive(browser, qg.url("/thong-tin"), issuer, idp_app)
    assert pages == ["otp"] and acr_of(r.text, "claim-acr") == "LoA2"
    # "Nộp hồ sơ" at the provincial portal: its record is LoA1, the IdP session LoA2 now.
    r, pages = drive(browser, dk.url("/nop-ho-so"), issuer, idp_app)
    assert pages == [] and acr_of(r.text, "submit-acr") == "LoA2"


def test_submit_without_session_logs_in_at_loa2_directly(portals):
    issuer, idp_app, dk, _ = portals
    r, pages = drive(requests.Session(), dk.url("/nop-ho-so"), issuer, idp_app)
    assert pages == ["login", "otp"] and acr_of(r.text, "submit-acr") == "LoA2"


def test_callback_refuses_unknown_state_and_foreign_issuer(portals):
    issuer, idp_app, dk, _ = portals
    browser = requests.Session()
    r = browser.get(dk.url("/auth/callback?code=abc&state=forged"))
    assert r.status_code == 400 and 'data-testid="logout"' not in r.text
    r = browser.get(dk.url("/auth/callback?error=access_denied&state=x"))
    assert r.status_code == 400
    # A real authorization response, but claiming another issuer (RFC 9207 mix-up).
    start = browser.get(dk.url("/auth/login"), allow_redirects=False)
    r = browser.get(start.headers["Location"], allow_redirects=False)
    assert r.status_code in (302, 303)
    r = browser.get(dk.url("/auth/callback?code=abc&state=s&iss=https%3A%2F%2Fevil.example"))
    assert r.status_code == 400
    assert browser.get(dk.url("/thong-tin"), allow_redirects=False).status_code == 302


def test_unknown_kid_after_key_rotation_triggers_a_jwks_refetch(portals):
    issuer, idp_app, dk, _ = portals
    login_daklak(requests.Session(), issuer, idp_app, dk)
    client = dk.app.extensions["portal"].idp
    cached = {k["kid"] for k in client.server_metadata["jwks"]["keys"]}
    with idp_app.app_context():
        kek = idp_app.extensions["idp.keyring"]._kek
        keys.rotate(kek)
        keys.rotate(kek)   # the new current key did not exist when the portal cached the JWKS
        idp_app.extensions["idp.keyring"].invalidate()
    login_daklak(requests.Session(), issuer, idp_app, dk)
    import json
    from base64 import urlsafe_b64decode
    header = record(dk).id_token.split(".")[0]
    kid = json.loads(urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    assert kid not in cached
    assert kid in {k["kid"] for k in client.server_metadata["jwks"]["keys"]}


# ------------------------------------------------------------------------------- back-channel

def _logout_token(idp_app, issuer, **changes):
    claims = {"iss": issuer, "aud": "dvc-daklak", "iat": int(time.time()),
              "exp": int(time.time()) + 120, "jti": uuid.uuid4().hex,
              "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    with idp_app.app_context():
        return idp_app.extensions["idp.keyring"].sign(claims, "ES256", typ="logout+jwt")


def test_backchannel_logout_receiver_validates_and_ends_the_session(portals):
    issuer, idp_app, dk, _ = portals
    browser = requests.Session()
    login_daklak(browser, issuer, idp_app, dk)
    rec = record(dk)
    sid, sub = rec.claims["sid"], rec.claims["sub"]
    endpoint = dk.url("/auth/backchannel-logout")

    def logged_in() -> bool:
        return browser.get(dk.url("/thong-tin"), allow_redirects=False).status_code == 200

    valid = _logout_token(idp_app, issuer, sid=sid, sub=sub)
    head, body, sig = valid.split(".")
    bad = {
        "wrong aud": _logout_token(idp_app, issuer, sid=sid, aud="dvc-quocgia"),
        "wrong iss": _logout_token(idp_app, "https://evil.example", sid=sid),
        "nonce": _logout_token(idp_app, issuer, sid=sid, nonce="n"),
        "no events": _logout_token(idp_app, issuer, sid=sid, events=None),
        "wrong event": _logout_token(idp_app, issuer, sid=sid,
                                     events={"http://schemas.openid.net/event/other": {}}),
        "no sid": _logout_token(idp_app, issuer, sub=sub),
        "old iat": _logout_token(idp_app, issuer, sid=sid, iat=int(time.time()) - 3600,
                                 exp=None),
        "no jti": _logout_token(idp_app, issuer, sid=sid, jti=None),
        "tampered": f"{head}.{_logout_token(idp_app, issuer, sid='other').split('.')[1]}.{sig}",
        "alg none": f"eyJhbGciOiJub25lIn0.{body}.",
        "garbage": "not-a-jwt",
    }
    for why, token in bad.items():
        r = requests.post(endpoint, data={"logout_token": token}, timeout=5)
        assert r.status_code == 400, why
        assert logged_in(), why
    assert requests.post(endpoint, data={}, timeout=5).status_code == 400

    # Another sid ends nothing here.
    r = requests.post(endpoint, data={"logout_token": _logout_token(idp_app, issuer, sid="x")},
                      timeout=5)
    assert r.status_code == 200 and logged_in()

    r = requests.post(endpoint, data={"logout_token": valid}, timeout=5)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert not logged_in()
    # A retry of the same token is answered 200 (idempotent).
    assert requests.post(endpoint, data={"logout_token": valid}, timeout=5).status_code == 200


# ------------------------------------------------------------------------------- RP logout

def test_logout_needs_post_with_csrf(portals):
    issuer, idp_app, dk, _ = portals
    browser = requests.Session()
    login_daklak(browser, issuer, idp_app, dk)
    assert browser.get(dk.url("/dang-xuat")).status_code == 405
    assert browser.post(dk.url("/dang-xuat"), data={}).status_code == 400
    assert browser.get(dk.url("/thong-tin"), allow_redirects=False).status_code == 200


@pytest.mark.skipif(not HAS_END_SESSION, reason="the IdP has no end_session_endpoint yet")
def test_rp_initiated_logout_goes_through_the_idp_and_ends_both_portals(portals):
    issuer, idp_app, dk, qg = portals
    browser = requests.Session()
    login_daklak(browser, issuer, idp_app, dk)
    r, pages = drive(browser, qg.url("/thong-tin"), issuer, idp_app)
    assert pages == []
    end_session = requests.get(issuer + "/.well-known/openid-configuration",
                               timeout=5).json()["end_session_endpoint"]

    page = browser.get(dk.url("/thong-tin")).text
    r = browser.post(dk.url("/dang-xuat"), data={"csrf_token": hidden(page, "csrf_token")},
                     allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith(end_session + "?")
    q = parse_qs(urlsplit(r.headers["Location"]).query)
    assert q["post_logout_redirect_uri"] == [dk.url("/")] and q["id_token_hint"] and q["state"]
    # Through the IdP (a confirmation page, if any, is confirmed) and back to the portal root.
    r, _ = drive(browser, r.headers["Location"], issuer, idp_app)
    assert urlsplit(r.url)._replace(query="").geturl() == dk.url("/")
    assert "Bạn đã đăng xuất" in r.text
    assert browser.get(dk.url("/thong-tin"), allow_redirects=False).status_code == 302
    # The IdP session is over: logging in again asks the password (and the SMS code).
    _, pages = drive(browser, dk.url("/auth/login"), issuer, idp_app)
    assert pages == ["login", "otp"]
    # Back-channel logout ended the national portal's session (an outbox row, delivered by
    # the worker: here one pass per check).
    fresh = requests.Session()
    fresh.cookies.update({c.name: c.value for c in browser.cookies if c.name == "portal_quocgia"})
    deadline = time.time() + 10
    while deliver_outbox(idp_app) >= 0 and fresh.get(
            qg.url("/thong-tin"), allow_redirects=False).status_code == 200:
        assert time.time() < deadline, "the national portal's session survived the logout"
        time.sleep(0.2)
