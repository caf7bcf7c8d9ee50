"""Citizen registration by mobile subscription (flows/register.py, issue 5) over HTTP: entry
from the login page and prompt=create, the choice page, every field rule, possession (OTP) and
ownership (carrier KYC) in that order, the existing-account answer only after both, atomic
creation under parallel submissions, and the SMS/KYC ports failing without leaving anything
half-made."""
from __future__ import annotations

import datetime as dt
import json
import re
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from idp.accounts import kyc, otp
from idp.platform.db import db
from idp.platform.models import AuditEvent, AuthMethod, Citizen
from tests.support.apps import free_port, make_app
from tests.support.clock import FrozenClock
from tests.support.oidc import auth_params, authorize, follow_to_login, pkce_pair, token_request
from tests.support.pages import hidden, query
from tests.support.people import CITIZEN, PORTAL_CB

# The registration steps and the `app` / `registry` fixtures, shared with
# test_register_choice.py and test_complaints.py.
from tests.support.registration import (  # noqa: F401
    NGOC,
    PASSWORD,
    REGISTRY,
    app,
    choose,
    citizens,
    error_of,
    finish,
    html,
    post,
    registry,
    sent,
    start_create,
    submit_form,
    to_code,
    to_form,
    to_password,
    verify,
)
from tests.support.sms import last_code

MESSAGE_ID = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


def message_of(r, field) -> str:
    """The message id (data-msg) of the error shown under `field`."""
    m = re.search(r'id="%s-error"[^>]*data-msg="([^"]+)"' % field, html(r))
    return m.group(1) if m else ""


@pytest.fixture
def clock(monkeypatch):
    c = FrozenClock()
    monkeypatch.setattr(otp, "now", c)
    return c


# --------------------------------------------------------------------------- happy path

def test_prompt_create_registers_and_the_portal_gets_a_loa2_code(app, client):
    verifier, challenge = pkce_pair()
    params = auth_params(challenge=challenge, prompt="create", scope="openid profile phone")
    page = start_create(client, params)
    assert "Công dân" in html(page) and "Thuê bao di động" in html(page)
    form = choose(client, page)
    assert 'type="checkbox"' in html(form) and "checked" not in html(form).split(
        'id="consent"')[1].split(">")[0]  # consent starts unticked
    assert "13/2023" in html(form) and 'class="req"' in html(form)
    r = submit_form(client, form)
    assert r.status_code == 303
    code_page = client.get(r.headers["Location"])
    assert "0352718406" in html(code_page)
    assert "dang ky tai khoan" in sent(app)[-1]["text"]
    assert citizens(app) == 2  # nothing before the password step
    page = verify(app, client, code_page)
    r = finish(client, page)
    assert r.status_code == 303, html(r)[:800]
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and r.headers["Location"].startswith(PORTAL_CB)
    q = query(r.headers["Location"])
    tokens = token_request(client, q["code"], verifier).get_json()
    claims = json.loads(__import__("base64").urlsafe_b64decode(
        tokens["id_token"].split(".")[1] + "==="))
    assert claims["acr"] == "LoA2"
    with app.app_context():
        row = db.session.scalar(select(Citizen).where(Citizen.id_number == NGOC["id_number"]))
        assert row.phone == "+84352718406" and row.gender == "female"
        assert row.birth_date == "1992-11-02" and row.email == "ngoc@example.vn"
        assert len(row.sub) == 36 and row.sub != row.id_number
        methods = db.session.scalars(select(AuthMethod).where(
            AuthMethod.citizen_id == row.id)).all()
        assert [(m.kind, m.phone, m.is_default) for m in methods] == [
            ("sms", "+84352718406", True)]
        events = set(db.session.scalars(select(AuditEvent.event)))
        assert {"register.possession_ok", "register.ownership_ok",
                "register.created"} <= events
    # The new account logs in with its password.
    from tests.support import Person, login_and_get_code
    other = app.test_client()
    person = Person(NGOC["id_number"], PASSWORD, NGOC["full_name"], NGOC["birth_date"],
                    "female", "+84352718406")
    assert "code" in login_and_get_code(other, auth_params(challenge=pkce_pair()[1]), person)


def test_register_link_on_the_login_page_resumes_the_authorization(app, client):
    page = follow_to_login(client, authorize(client, auth_params(challenge=pkce_pair()[1])))
    link = re.search(r'href="(/register/from/[^"]+)"', html(page))
    assert link and "Chưa có tài khoản?" in html(page)
    r = client.get(link.group(1))
    assert r.status_code == 303
    page = client.get(r.headers["Location"])
    page = choose(client, page)
    r = submit_form(client, page, phone="+84867245190", full_name="Phạm Thu Hà",
                    id_number="001303044189", birth_date="2003-05-09", email="")
    assert r.status_code == 303, html(r)[:600]
    page = verify(app, client, client.get(r.headers["Location"]), "+84867245190")
    r = finish(client, page)
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and "code=" in r.headers["Location"]
    # The old login flow is gone (handed over).
    assert client.get(link.group(1)).status_code == 410


def test_other_methods_are_shown_but_not_available(app, client):
    page = start_create(client)
    for label in ("Doanh nghiệp", "Cơ quan nhà nước", "Bảo hiểm xã hội", "Bộ Công An",
                  "Bưu điện Việt Nam", "USB ký số", "SIM ký số", "VNPT SmartCA"):
        assert label in html(page)
    assert "(chưa hỗ trợ)" in html(page)
    for account_type, method, field in (("business", "mobile", "account_type"),
                                        ("citizen", "bca", "method"),
                                        ("citizen", "smartca", "method"),
                                        ("citizen", "nope", "method")):
        r = post(client, page, account_type=account_type, method=method, action="choose")
        assert r.status_code == 400 and error_of(r, field), (account_type, method)
    assert citizens(app) == 2


# --------------------------------------------------------------------------- validation

VALID = [
    {},
    {"full_name": "  trần   thị bích ngọc "},  # case and spacing: KYC folds, stored as typed
    {"email": ""},
    {"phone": "+84352718406"},
    {"phone": "035 271 8406"},
]
INVALID = [
    ("full_name", {"full_name": ""}, "Vui lòng nhập họ và tên"),
    ("full_name", {"full_name": "Ngọc 123"}, "chữ cái"),
    ("id_number", {"id_number": ""}, "Vui lòng nhập"),
    ("id_number", {"id_number": "06619201830"}, "12 chữ số"),
    ("id_number", {"id_number": "003192018305"}, "Mã tỉnh 003"),
    ("id_number", {"id_number": "066301018305"}, "Năm sinh không khớp"),  # 2001, female
    ("id_number", {"id_number": "066292018305"}, "Mã thế kỷ"),  # 2092: in the future
    ("id_number", {"id_number": "066092018305"}, "Giới tính không khớp"),  # male digit
    ("id_number", {"id_number": "06619201830a"}, "chữ số"),
    ("birth_date", {"birth_date": ""}, "register.birth_date_required"),
    ("birth_date", {"birth_date": "1992/11/02"}, "Ngày sinh phải có dạng"),
    ("birth_date", {"birth_date": "1992-02-30"}, "có thật"),
    ("gender", {"gender": None}, "register.gender_required"),
    ("gender", {"gender": "other"}, "Giới tính"),
    ("phone", {"phone": ""}, "Vui lòng nhập số điện thoại"),
    ("phone", {"phone": "02623812345"}, "cố định"),  # a Đắk Lắk landline
    ("phone", {"phone": "+14155550100"}, "nhà mạng Việt Nam"),
    ("phone", {"phone": "0123456789"}, "đầu số"),
    ("email", {"email": "ngoc@"}, "thư điện tử"),
    ("consent", {"consent": None}, "register.consent_required"),
]


def test_every_field_rule_has_its_own_message_and_typed_values_are_kept(app, client):
    page = to_form(client)
    for field, change, message in INVALID:
        r = submit_form(client, page, **change)
        assert r.status_code == 400, (field, change)
        if MESSAGE_ID.fullmatch(message):  # registration's own message: by its id
            assert message_of(r, field) == message, (field, change, message_of(r, field))
        else:  # the field rules (accounts/validation.py): the words are the requirement
            assert message in error_of(r, field), (field, change, error_of(r, field))
        assert 'aria-invalid="true"' in html(r) or field == "gender"
        page = r
    # Several errors at once, each next to its field; typed values kept.
    r = submit_form(client, page, full_name="Ngọc 1", phone="02623812345",
                    birth_date=(dt.date.today() + dt.timedelta(days=1)).isoformat(),
                    consent=None)
    assert error_of(r, "full_name") and error_of(r, "phone") and error_of(r, "consent")
    assert "tương lai" in error_of(r, "birth_date")
    assert 'value="02623812345"' in html(r) and 'value="066192018305"' in html(r)
    assert 'value="ngoc@example.vn"' in html(r)
    assert citizens(app) == 2 and not sent(app)
    # An error summary at the top takes the focus and links to each field in error.
    summary = html(r).split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'role="alert"' in summary and "autofocus" in summary
    for field in ("full_name", "phone", "consent", "birth_date"):
        assert f'href="#{field}"' in summary and f'id="{field}"' in html(r), field


@pytest.mark.parametrize("change", VALID)
def test_valid_variants_reach_the_code(app, client, change):
    to_code(client, **change)


def test_the_name_is_stored_nfc(app, client):
    nfd = unicodedata.normalize("NFD", NGOC["full_name"])
    assert nfd != NGOC["full_name"]
    r = finish(client, to_password(app, client, full_name=nfd))
    assert r.status_code == 303
    with app.app_context():
        row = db.session.scalar(select(Citizen).where(Citizen.id_number == NGOC["id_number"]))
        assert row.full_name == NGOC["full_name"]


def test_province_codes(app, client):
    # 001 (Hà Nội) and 066 (Đắk Lắk) pass the form; 003 is unassigned.
    to_code(client, phone="0867245190", full_name="Phạm Thu Hà", id_number="001303044189",
            birth_date="2003-05-09")
    r = submit_form(client, to_form(client),
                    id_number="003192018305")
    assert r.status_code == 400 and "003" in error_of(r, "id_number")


def test_nine_digit_cmnd_is_accepted_by_shape(app, client):
    to_code(client, id_number="123456789", phone="0912000111", full_name="Lê Văn Bình",
            gender="male")


def test_captcha_is_checked_first_and_single_use(app, client):
    page = to_form(client)
    r = submit_form(client, page, answer="wrong", phone="bad")
    assert r.status_code == 400 and error_of(r, "captcha") and not error_of(r, "phone")
    page = r
    text = html(page)
    cid = hidden(text, "captcha_id")
    answer = html(client.get(f"/_test/captcha/{cid}"))
    r = post(client, page, captcha_id=cid, captcha=answer, action="register",
             **dict(NGOC, consent=""))
    assert r.status_code == 400 and error_of(r, "consent")
    # The captcha is single use (captcha.py), but the solved one covers the corrected
    # submission of this flow (issue 12 item 3; tests/test_register_choice.py).
    assert client.get(f"/_test/captcha/{cid}").status_code == 404  # consumed
    assert 'name="captcha_id"' not in html(r)


# --------------------------------------------------------------------------- ownership

def test_kyc_mismatch_is_told_only_after_the_code(app, client):
    # Phone registered to another ID number: the form answer is the same as for a match.
    r = submit_form(client, to_form(client), phone="0867245190")
    assert r.status_code == 303
    page = client.get(r.headers["Location"])
    assert 'name="otp"' in html(page)
    page = verify(app, client, page, "+84867245190")
    assert 'data-msg="register.kyc_mismatch"' in html(page)
    r = post(client, page, action="edit")
    page = client.get(r.headers["Location"])
    assert 'value="0867245190"' in html(page)  # back to the form, values kept
    # A wrong birth date or name is a mismatch too (the registry knows them).
    client2 = app.test_client()
    page = verify(app, client2, to_code(client2, birth_date="1992-11-03"))
    assert 'data-msg="register.kyc_mismatch"' in html(page)
    client3 = app.test_client()
    page = verify(app, client3, to_code(client3, full_name="Trần Thị Bích Ngà"))
    assert 'data-msg="register.kyc_mismatch"' in html(page)
    assert citizens(app) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(
            AuditEvent.event == "register.ownership_mismatch")) == 3


def test_registry_unit(app, registry):
    with app.app_context():
        m = kyc.match
        assert m("+84352718406", "066192018305", "TRẦN THỊ BÍCH NGỌC", "1992-11-02")
        assert m("0352718406", "066192018305",
                 unicodedata.normalize("NFD", "Trần Thị Bích Ngọc"), "1992-11-02")
        assert not m("+84352718406", "066192018306", "Trần Thị Bích Ngọc", "1992-11-02")
        assert not m("+84999999999", "066192018305", "Trần Thị Bích Ngọc", "1992-11-02")
        assert m("+84912000111", "123456789", "Ai Cũng Được", "2000-01-01")  # no name/date
        # The file is re-read when it changes.
        registry.write_text(REGISTRY + "0987654321,079199000123,Võ Văn Tư,1999-01-01\n",
                            encoding="utf-8")
        assert m("0987654321", "079199000123", "Võ Văn Tư", "1999-01-01")


# --------------------------------------------------------------------------- existing account

def test_existing_account_is_told_after_possession_and_ownership_with_an_alert(app, client):
    before = len(sent(app))
    fields = dict(phone="0905613728", full_name=CITIZEN.full_name,
                  id_number=CITIZEN.id_number, birth_date=CITIZEN.birth_date, gender="male")
    r = submit_form(client, to_form(client), **fields)
    assert r.status_code == 303  # same answer as for a new ID number
    assert len(sent(app)) == before + 1  # just the code, to the phone typed
    page = verify(app, client, client.get(r.headers["Location"]), "+84905613728")
    assert 'data-msg="register.account_exists"' in html(page) and "Quên mật khẩu" in html(page)
    alert = [m for m in sent(app) if m["to"] == CITIZEN.phone]
    assert alert and "dang ky tai khoan moi" in alert[-1]["text"]
    assert alert[-1]["text"].isascii() and len(alert[-1]["text"]) <= 160
    assert citizens(app) == 2
    # "Quên mật khẩu" hands the authorization to the recover flow.
    r = post(client, page, action="forgot")
    assert r.status_code == 303
    assert 'name="id_number"' in html(client.get(r.headers["Location"]))


def test_a_phone_already_used_by_another_account_is_told_after_possession(app, client):
    page = verify(app, client, to_code(client, phone="0912345678", full_name="Đỗ Thị Mai",
                                       id_number="079195004444", birth_date="1995-06-01"),
                  "+84912345678")
    assert 'data-msg="register.phone_taken"' in html(page)
    assert citizens(app) == 2


def test_the_form_answer_does_not_depend_on_an_existing_account(app, client):
    def normalized(r):
        return re.sub(r"/flows/[A-Za-z0-9_-]+", "/flows/ID", r.headers["Location"])
    existing = submit_form(client, to_form(client), phone="0905613728",
                           full_name=CITIZEN.full_name, id_number=CITIZEN.id_number,
                           birth_date=CITIZEN.birth_date, gender="male")
    other = app.test_client()
    new = submit_form(other, to_form(other))
    assert existing.status_code == new.status_code == 303
    assert normalized(existing) == normalized(new)


# --------------------------------------------------------------------------- the code

def test_otp_expiry_and_resend(app, client, clock):
    page = to_code(client)
    old = last_code(app, "+84352718406")
    r = post(client, page, action="resend")
    assert r.status_code == 429 and 'data-msg="otp.cooldown"' in html(r)
    clock.advance(app.config["IDP"]["otp_ttl"] + 1)
    r = post(client, page, otp=old, action="verify")
    assert r.status_code == 400 and 'data-msg="otp.expired"' in html(r)
    r = post(client, page, action="resend")
    assert r.status_code == 303
    new = last_code(app, "+84352718406")
    if new != old:
        r = post(client, page, otp=old, action="verify")
        assert r.status_code == 400
    r = post(client, page, otp=new, action="verify")
    assert r.status_code == 303
    assert 'name="password_confirm"' in html(client.get(r.headers["Location"]))


def test_wrong_codes_burn_the_code(app, client):
    page = to_code(client)
    code = last_code(app, "+84352718406")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(app.config["IDP"]["otp_max_attempts"]):
        assert post(client, page, otp=wrong, action="verify").status_code == 400
    r = post(client, page, otp=code, action="verify")
    assert r.status_code == 400 and 'data-msg="otp.burned"' in html(r)


def test_the_password_step_cannot_be_reached_without_the_code(app, client):
    page = to_code(client)
    r = post(client, page, password=PASSWORD, password_confirm=PASSWORD, action="save")
    assert r.status_code == 400 and citizens(app) == 2


def test_password_policy_applies_with_the_registrants_data(app, client):
    page = to_password(app, client)
    for bad, reason in (("short", "ít nhất 8"), ("066192018305-x", "CMND/CCCD"),
                        ("goi-0352718406-nhe", "số điện thoại"),
                        ("sinh-ngay-02111992", "ngày sinh"), ("iloveyou", "phổ biến")):
        r = post(client, page, password=bad, password_confirm=bad, action="save")
        assert r.status_code == 400 and reason in error_of(r, "password"), bad
    r = post(client, page, password=PASSWORD, password_confirm=PASSWORD + "x", action="save")
    assert "không khớp" in error_of(r, "password_confirm")
    assert citizens(app) == 2


# --------------------------------------------------------------------------- atomicity

def test_parallel_registrations_of_one_id_number_make_one_account(app, monkeypatch):
    monkeypatch.setattr(kyc, "match", lambda *a: True)  # a carrier that says yes to both
    pages, clients = [], []
    for phone in ("0352718406", "0981234567", "0352718406"):
        c = app.test_client()
        clients.append(c)
        pages.append(to_password(app, c, phone=phone))
    barrier = threading.Barrier(len(pages))

    def go(i):
        with app.app_context():
            barrier.wait()
            return finish(clients[i], pages[i]).status_code

    with ThreadPoolExecutor(len(pages)) as pool:
        codes = list(pool.map(go, range(len(pages))))
    assert codes.count(303) >= 1, codes
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(
            Citizen.id_number == NGOC["id_number"])) == 1
        cid = db.session.scalar(select(Citizen.id).where(
            Citizen.id_number == NGOC["id_number"]))
        assert db.session.scalar(select(func.count()).select_from(AuthMethod).where(
            AuthMethod.citizen_id == cid)) == 1
        # No orphan methods from the losers.
        assert db.session.scalar(select(func.count()).select_from(AuthMethod).where(
            AuthMethod.citizen_id.not_in(select(Citizen.id)))) == 0
    # Every loser that got an answer got a clean page, and resubmitting says "exists".
    for c, p, code in zip(clients, pages, codes):
        if code != 303:
            r = finish(c, p)
            assert r.status_code in (303, 400, 409)


def test_a_second_registration_after_the_first_says_exists(app, client, monkeypatch):
    monkeypatch.setattr(kyc, "match", lambda *a: True)
    first, second = app.test_client(), app.test_client()
    p1 = to_password(app, first)
    p2 = to_password(app, second, phone="0981234567")
    assert finish(first, p1).status_code == 303
    r = finish(second, p2)
    assert r.status_code == 303
    assert 'data-msg="register.account_exists"' in html(second.get(r.headers["Location"]))
    assert citizens(app) == 3


class _Failing(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_server():
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def port_app(database_url, registry, failing_server):
    apps = []

    def build(**overrides):
        a = make_app(database_url, kyc_registry=str(registry), **overrides)
        apps.append(a)
        return a
    yield build
    for a in apps:
        with a.app_context():
            db.session.remove()
            db.engine.dispose()


def test_sms_port_down_leaves_nothing(port_app, failing_server):
    for url in (failing_server, f"http://127.0.0.1:{free_port()}/"):
        app = port_app(sms_provider="http", sms_http_url=url, sms_timeout=2)
        client = app.test_client()
        r = submit_form(client, to_form(client))
        assert r.status_code == 503 and 'data-msg="otp.sms_failed"' in html(r)
        assert 'value="066192018305"' in html(r)
        assert citizens(app) == 2


def test_kyc_port_down_leaves_nothing_and_retry_needs_no_new_code(port_app, failing_server,
                                                                  registry, monkeypatch):
    for url in (failing_server, f"http://127.0.0.1:{free_port()}/"):
        app = port_app(kyc_provider="http", kyc_http_url=url, kyc_timeout=2)
        client = app.test_client()
        page = verify(app, client, to_code(client))
        assert 'data-msg="register.kyc_unavailable"' in html(page)
        assert citizens(app) == 2
        # The carrier is back: "Thử lại" continues without a new code.
        app.extensions["idp.kyc"] = kyc.RegistryKyc(registry)
        sms_before = len(sent(app))
        r = post(client, page, action="retry")
        assert r.status_code == 303
        page = client.get(r.headers["Location"])
        assert 'name="password_confirm"' in html(page) and len(sent(app)) == sms_before
        assert finish(client, page).status_code == 303
        assert citizens(app) == 3


def test_kyc_http_provider_contract(port_app):
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.update(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"match": seen["id_number"] == "066192018305"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app = port_app(kyc_provider="http", kyc_http_url=f"http://127.0.0.1:{port}/")
        with app.app_context():
            assert kyc.match("+84352718406", "066192018305", "Trần Thị Bích Ngọc",
                             "1992-11-02")
            assert set(seen) == {"msisdn", "id_number", "full_name", "birth_date"}
            assert not kyc.match("+84352718406", "066192018306", "X", "1992-11-02")
    finally:
        server.shutdown()
        server.server_close()


def test_database_failure_at_creation_leaves_nothing(app, client, monkeypatch):
    page = to_password(app, client)
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    def broken(session, context, instances):
        if any(isinstance(o, AuthMethod) for o in session.new):  # after the Citizen row
            raise OperationalError("INSERT", {}, Exception("disk full"))
    event.listen(Session, "before_flush", broken)
    try:
        r = finish(client, page)
    finally:
        event.remove(Session, "before_flush", broken)
    assert r.status_code == 503 and 'data-msg="register.create_failed"' in html(r)
    assert citizens(app) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuthMethod)) == 0
    r = finish(client, page)  # the same step works once the database is back
    assert r.status_code == 303 and citizens(app) == 3


def test_abandoned_flow_leaves_no_account(app, client):
    to_password(app, client)
    assert citizens(app) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(
            Citizen.id_number == NGOC["id_number"])) == 0


def test_the_templates_have_no_inline_script_or_style(app, client):
    for page in (start_create(client), to_form(app.test_client())):
        assert "<script>" not in html(page) and "style=" not in html(page)
