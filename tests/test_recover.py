"""Forgot password ("Quên mật khẩu?", flows/recover.py) over HTTP: the same answers for ID
numbers with and without an account, captcha and code rules, the password policy, and what a
reset by SMS must do to the account (ASVS 5.0 6.4.3): sessions and tokens revoked, a
notification, and a next login that asks for a factor other than SMS when there is one."""
from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import render_template
from sqlalchemy import select

from idp.accounts import factors, otp, passwords, recovery
from idp.flows import recover as recover_flow
from idp.platform import sms as sms_port
from idp.platform.db import db
from idp.platform.models import Citizen, SsoSession, Token
from tests.support.clock import FrozenClock
from tests.support.oidc import (
    auth_params,
    authorize,
    basic,
    follow_to_login,
    login_and_get_code,
    login_form_submit,
    pkce_pair,
    token_request,
)
from tests.support.pages import form_action, hidden, query
from tests.support.people import CITIZEN, CITIZEN2, PORTAL_CB

# The flow's steps (start, identify, code, password, reset), shared with test_complaints.py
# and test_logout.py.
from tests.support.recovery import (
    NEW_PASSWORD,
    captcha_answer,
    html,
    post_flow,
    reset,
    set_password,
    start_from_login,
    start_standalone,
    submit_identify,
    to_code_page,
    to_password_page,
)
from tests.support.sms import deliver_outbox, last_code

UNKNOWN = "079199000123"  # well-formed, no account


@pytest.fixture
def clock(monkeypatch):
    """A clock for otp.py and the recover flow (the store keeps real time: its records
    outlive what they hold, and the holders compare their own instants)."""
    c = FrozenClock()
    monkeypatch.setattr(otp, "now", c)
    monkeypatch.setattr(recover_flow, "now", c)
    return c


def comparable(text: str) -> str:
    """The page without what differs between any two requests: CSRF token, captcha and flow
    ids, and the ID number typed in."""
    text = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', text)
    text = re.sub(r"/flows/[A-Za-z0-9_-]+", "/flows/ID", text)
    text = re.sub(r"/captcha/[A-Za-z0-9_-]+\.(png|wav)", r"/captcha/ID.\1", text)
    for number in (CITIZEN.id_number, UNKNOWN):  # what the user typed, shown back
        text = text.replace(f'value="{number}"', 'value="NUMBER"')
    return re.sub(r'name="captcha_id" value="[^"]*"', 'name="captcha_id"', text)


def all_sms(app) -> list[dict]:
    deliver_outbox(app)  # what a worker would have sent by now (idp/outbox.py)
    path = app.extensions["idp.sms"].path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def sms(app):
    """The messages sent since the test started (the outbox file is per test process),
    all of them or those to one phone."""
    start = len(all_sms(app))

    def sent(phone: str | None = None) -> list[str]:
        return [m["text"] for m in all_sms(app)[start:] if phone in (None, m["to"])]
    return sent


def citizen_row(app, person=CITIZEN) -> Citizen:
    with app.app_context():
        row = db.session.scalar(select(Citizen).where(Citizen.id_number == person.id_number))
        db.session.expunge(row)
        return row


# --------------------------------------------------------------------------- entry points

def test_forgot_password_from_login_resumes_the_authorization(app, client):
    verifier, challenge = pkce_pair()
    params = auth_params(challenge=challenge)
    page = start_from_login(client, params)
    assert 'autocomplete="username"' in html(page) and 'name="captcha"' in html(page)
    r = set_password(client, to_password_page(app, client, page=page))
    assert r.status_code == 303
    done = client.get(r.headers["Location"])
    assert 'data-msg="recovery.done_login"' in html(done)
    r = post_flow(client, done, action="continue")
    assert r.status_code == 303 and "/authorize/resume/" in r.headers["Location"]
    # The same authorization asks for a login again: the old password is refused, the new
    # one gives the portal its code.
    login = follow_to_login(client, client.get(r.headers["Location"]))
    refused = login_form_submit(client, html(login), CITIZEN.id_number, CITIZEN.password)
    assert refused.status_code == 400
    r = login_form_submit(client, html(refused), CITIZEN.id_number, NEW_PASSWORD,
                          second_factor=True)
    assert r.status_code == 303
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and r.headers["Location"].startswith(PORTAL_CB)
    q = query(r.headers["Location"])
    assert q["state"] == params["state"]
    assert token_request(client, q["code"], verifier).status_code == 200


def test_standalone_reset_ends_on_an_information_page(app, client):
    before = citizen_row(app).password_changed_at
    r = reset(app, client)
    assert citizen_row(app).password_changed_at > before
    page = client.get(r.headers["Location"])
    assert page.status_code == 200 and 'data-msg="recovery.done"' in html(page)


def test_forgot_link_needs_a_live_login_flow_of_this_browser(app, client):
    assert client.get("/recover/from/nonexistent-flow-id").status_code == 410
    page = follow_to_login(client, authorize(client, auth_params(challenge=pkce_pair()[1])))
    link = re.search(r'href="(/recover/from/[^"]+)"', html(page)).group(1)
    other = app.test_client()
    assert other.get(link).status_code == 410  # bound to the first browser
    assert client.get(link).status_code == 303
    assert client.get(link).status_code == 410  # the login flow was handed over once


# --------------------------------------------------------------------------- enumeration

def test_every_step_answers_the_same_with_or_without_an_account(app, clock, sms):
    a, b = app.test_client(), app.test_client()
    pages = {}
    for client, number in ((a, CITIZEN.id_number), (b, UNKNOWN)):
        first = start_standalone(client)
        r = submit_identify(client, first, number)
        assert r.status_code == 303 and "/flows/" in r.headers["Location"]
        code_page = client.get(r.headers["Location"])
        wrong = post_flow(client, code_page, otp="000000", action="verify")
        too_soon = post_flow(client, code_page, action="resend")
        clock.advance(61)
        resent = post_flow(client, code_page, action="resend")
        after = client.get(resent.headers["Location"])
        pages[number] = [(x.status_code, comparable(html(x)))
                         for x in (first, code_page, wrong, too_soon, after)]
        pages[number].append(resent.status_code)
    assert pages[CITIZEN.id_number] == pages[UNKNOWN]
    statuses = [p[0] if isinstance(p, tuple) else p for p in pages[UNKNOWN]]
    assert statuses == [200, 200, 400, 429, 200, 303]
    assert "0941" not in pages[CITIZEN.id_number][1][1]  # no mask of the phone
    assert len(sms(CITIZEN.phone)) == 2 and len(sms()) == 2


class DownGateway:
    def send(self, to, text, message_id=None):
        raise sms_port.SmsError("gateway answered HTTP 503")


def test_a_gateway_outage_looks_the_same_with_or_without_an_account(app, clock, sms):
    app.extensions["idp.sms"] = DownGateway()
    pages = {}
    for number in (CITIZEN.id_number, UNKNOWN):
        client = app.test_client()
        r = submit_identify(client, start_standalone(client), number)
        code_page = client.get(r.headers["Location"])
        wrong = post_flow(client, code_page, otp="000000", action="verify")
        too_soon = post_flow(client, code_page, action="resend")
        pages[number] = [(x.status_code, comparable(html(x)))
                         for x in (r, code_page, wrong, too_soon)]
    assert pages[CITIZEN.id_number] == pages[UNKNOWN]
    assert [p[0] for p in pages[UNKNOWN]] == [303, 200, 400, 429]


class SlowGateway:
    """Accepts after 0.3 s, as real gateways do: long enough for parallel requests to meet."""

    def __init__(self):
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, to, text, message_id=None):
        time.sleep(0.3)
        with self.lock:
            self.sent.append(to)
        return "id"


def test_parallel_resends_send_one_sms(app, clock):
    gateway = app.extensions["idp.sms"] = SlowGateway()
    client = app.test_client()
    code_page = to_code_page(client, CITIZEN.id_number)
    clock.advance(61)
    with ThreadPoolExecutor(3) as pool:
        statuses = list(pool.map(
            lambda _: post_flow(client, code_page, action="resend").status_code, range(3)))
    deliver_outbox(app)
    assert len(gateway.sent) == 2  # the first code and one resend
    assert statuses.count(303) == 1 and set(statuses) <= {303, 409, 429}


def test_the_hourly_limit_per_id_number_is_the_same_with_or_without_an_account(app, clock):
    results = {}
    for number in (CITIZEN.id_number, UNKNOWN):
        client = app.test_client()
        for _ in range(app.config["IDP"]["sms_budget_per_phone"]):
            to_code_page(client, number)
        refused = submit_identify(client, start_standalone(client), number)
        if refused.status_code == 400 and 'data-msg="recovery.hard_captcha"' in html(refused):
            # The ID number's sends from all addresses reached the limit: strangers now meet
            # the hard captcha (issue 11 item 3); this address's own limit still refuses.
            refused = submit_identify(client, refused, number)
        results[number] = (refused.status_code, comparable(html(refused)))
    assert results[CITIZEN.id_number] == results[UNKNOWN]
    assert results[UNKNOWN][0] == 429 and 'data-msg="otp.budget"' in results[UNKNOWN][1]


def test_wrong_codes_burn_and_lock_the_same_way_with_or_without_an_account(app, clock):
    s = app.config["IDP"]
    results = {}
    for number in (CITIZEN.id_number, UNKNOWN):
        client = app.test_client()
        code_page = to_code_page(client, number)
        seen = []
        for _ in range(s["otp_max_attempts"] + 1):
            r = post_flow(client, code_page, otp="000000", action="verify")
            seen.append((r.status_code, comparable(html(r))))
        clock.advance(31)
        r = post_flow(client, code_page, otp="000000", action="verify")
        seen.append((r.status_code, comparable(html(r))))
        results[number] = seen
    assert results[CITIZEN.id_number] == results[UNKNOWN]
    statuses = [x[0] for x in results[UNKNOWN]]
    assert statuses == [400] * s["otp_max_attempts"] + [429, 400]
    assert "thử lại sau 1 phút" in results[UNKNOWN][-2][1]
    assert "Gửi lại OTP" in results[UNKNOWN][-1][1]  # the code is burned


def test_a_disabled_account_looks_like_no_account(app, client, sms):
    with app.app_context():
        db.session.execute(Citizen.__table__.update().where(
            Citizen.id_number == CITIZEN.id_number).values(status="disabled"))
        db.session.commit()
    to_code_page(client, CITIZEN.id_number)
    assert sms() == []


# --------------------------------------------------------------------------- captcha

def test_the_captcha_is_required_and_single_use(app, client, sms):
    page = start_standalone(client)
    r = submit_identify(client, page, CITIZEN.id_number, answer="")
    assert r.status_code == 400 and 'id="captcha-error"' in html(r)
    page = r
    captcha_id = hidden(html(page), "captcha_id")
    right = captcha_answer(client, page)
    r = submit_identify(client, page, CITIZEN.id_number, answer="zzzzzz")
    assert r.status_code == 400
    # The same challenge with its right answer: already consumed by the wrong try.
    r = submit_identify(client, r, CITIZEN.id_number, answer=right, captcha_id=captcha_id)
    assert r.status_code == 400 and 'id="captcha-error"' in html(r)
    assert sms() == []
    r = submit_identify(client, r, CITIZEN.id_number)
    assert r.status_code == 303
    assert len(sms()) == 1


def test_a_solved_captcha_buys_one_request(app, client, sms):
    page = start_standalone(client)
    answer = captcha_answer(client, page)
    assert submit_identify(client, page, CITIZEN.id_number, answer=answer).status_code == 303
    again = start_standalone(client)
    r = submit_identify(client, again, CITIZEN.id_number, answer=answer,
                        captcha_id=hidden(html(page), "captcha_id"))
    assert r.status_code == 400 and len(sms()) == 1


def test_a_malformed_id_number_is_refused_after_the_captcha(app, client, sms):
    r = submit_identify(client, start_standalone(client), "12345")
    assert r.status_code == 400 and 'id="id_number-error"' in html(r)
    assert sms() == []


# --------------------------------------------------------------------------- the code

def test_the_reset_code_text_names_the_purpose_and_nothing_personal(app, client, sms):
    to_code_page(client, CITIZEN.id_number)
    text = sms(CITIZEN.phone)[-1]
    assert "dat lai mat khau" in text and re.search(r"\b\d{6}\b", text)
    assert CITIZEN.id_number not in text and text.isascii()


def test_the_reset_code_expires(app, client, clock):
    code_page = to_code_page(client, CITIZEN.id_number)
    clock.advance(app.config["IDP"]["otp_ttl"] + 1)
    r = post_flow(client, code_page, otp=last_code(app, CITIZEN.phone), action="verify")
    assert r.status_code == 400 and 'data-msg="otp.expired"' in html(r)
    assert 'name="password"' not in html(client.get(form_action(html(code_page))))


def test_a_resend_replaces_the_code_and_keeps_the_count(app, client, clock):
    s = app.config["IDP"]
    code_page = to_code_page(client, CITIZEN.id_number)
    old = last_code(app, CITIZEN.phone)
    for _ in range(s["otp_max_attempts"] - 1):
        assert post_flow(client, code_page, otp="999999" if old != "999999" else "111111",
                         action="verify").status_code == 400
    clock.advance(61)
    assert post_flow(client, code_page, action="resend").status_code == 303
    new = last_code(app, CITIZEN.phone)
    if new != old:
        r = post_flow(client, code_page, otp=old, action="verify")
        assert r.status_code == 400  # the old code is gone
        assert 'name="password"' not in html(r)
        # That was the 5th consecutive failure for this ID number: a wait, resend or not.
        r = post_flow(client, code_page, otp=new, action="verify")
        assert r.status_code == 429 and 'data-msg="recovery.locked_minutes"' in html(r)
        clock.advance(31)
    r = post_flow(client, code_page, otp=new, action="verify")
    assert r.status_code == 303


def test_the_code_is_single_use_and_the_step_cannot_be_replayed(app, client):
    code_page = to_code_page(client, CITIZEN.id_number)
    code = last_code(app, CITIZEN.phone)
    assert post_flow(client, code_page, otp=code, action="verify").status_code == 303
    # The stale code form posted again reaches the password step, which wants a password.
    r = post_flow(client, code_page, otp=code, action="verify")
    assert r.status_code == 400 and 'id="password-error"' in html(r)
    # A code is bound to its flow: not accepted by another one.
    client2 = app.test_client()
    code_page2 = to_code_page(client2, CITIZEN.id_number)
    if code != last_code(app, CITIZEN.phone):
        assert post_flow(client2, code_page2, otp=code, action="verify").status_code == 400


# --------------------------------------------------------------------------- password policy

REFUSED = [
    ("short", "ngan-7c", "ít nhất 8 ký tự"),
    ("common", "iloveyou", "quá phổ biến"),
    ("common-l33t", "P@ssw0rd", "quá phổ biến"),
    ("common-vietnamese", "Anh Yêu Em", "quá phổ biến"),
    ("keyboard-walk", "qwertyuiop", "quá phổ biến"),
    ("repeat", "abcabcabcabc", "quá dễ đoán"),
    ("id-number", "an-" + CITIZEN.id_number, "CMND/CCCD"),
    ("phone-national", "goi-0941234947-nhe", "số điện thoại"),
    ("phone-e164", "+84941234947-nha-toi", "số điện thoại"),
    ("phone-spaced", "so 0941 234 947 cua toi", "số điện thoại"),
    ("birth-ddmmyyyy", "sinh-ngay-15031989", "ngày sinh"),
    ("birth-slashes", "sinh ngày 15/03/1989 nhé", "ngày sinh"),
    ("birth-iso", "ngay-1989-03-15-vui", "ngày sinh"),
    ("birth-yyyymmdd", "an19890315an", "ngày sinh"),
    ("full-name", "Nguyễn Văn An", "họ và tên"),
    ("too-long", "x" * 60 + "y" * 69, "tối đa 128"),
]


def test_the_password_policy_refuses_with_a_reason_per_field(app, client):
    page = to_password_page(app, client)
    for name, password, reason in REFUSED:
        r = set_password(client, page, password)
        assert r.status_code == 400, name
        error = re.search(r'id="password-error"[^>]*>([^<]*)<', html(r))
        assert error and reason in error.group(1), (name, error and error.group(1))
    r = set_password(client, page, NEW_PASSWORD, confirm=NEW_PASSWORD + "!")
    assert r.status_code == 400
    assert re.search(r'id="password_confirm-error"[^>]*>Mật khẩu nhập lại không khớp', html(r))
    assert "Độ mạnh của mật khẩu vừa nhập: mạnh" in html(r)
    assert 'autocomplete="new-password"' in html(r)
    assert verify_password_of(app, CITIZEN.password)  # nothing changed yet


def verify_password_of(app, password: str) -> bool:
    from idp.platform.crypto import verify_password
    return verify_password(citizen_row(app).password_hash, password)


def test_long_vietnamese_passwords_are_accepted_and_normalised(app, client):
    password = ("Tôi là công dân Việt Nam, sinh ra ở Buôn Ma Thuột và yêu cà phê sữa đá "
                "mỗi sáng sớm!")
    assert 64 < len(password) <= 128
    reset(app, client, password=password)
    assert verify_password_of(app, password)
    # The same password typed as decomposed letters (NFD) or with full-width digits is the
    # same password (NFKC).
    assert verify_password_of(app, unicodedata.normalize("NFD", password))
    assert not verify_password_of(app, password.replace("Tôi", "Toi"))


@pytest.mark.parametrize("password,field", [
    ("", "password"), ("lan-dau-tien-o-ha-noi", None), ("12345678", "password"),
    ("dichvucong123", "password"), ("1111111111", "password"), ("x" * 128, None),
    ("x" * 129, "password"), ("mật khẩu\x00rỗng", "password"),
])
def test_password_check_unit(sqlite_app, password, field):
    with sqlite_app.test_request_context():
        errors = passwords.check(password, password, passwords.Context("066089001234"))
        assert list(errors) == ([field] if field else [])


# --------------------------------------------------------------------------- the account

def test_a_reset_revokes_sessions_and_refresh_tokens_and_notifies(app, client, sms):
    verifier, challenge = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=challenge,
                                               scope="openid profile offline_access"))
    tokens = token_request(client, q["code"], verifier).get_json()
    assert "refresh_token" in tokens
    bystander = app.test_client()
    login_and_get_code(bystander, auth_params(challenge=pkce_pair()[1]), CITIZEN2)
    reset(app, app.test_client())

    r = client.post("/token", data={"grant_type": "refresh_token",
                                    "refresh_token": tokens["refresh_token"]},
                    headers=basic())
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    r = client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert r.status_code == 401
    r = authorize(client, auth_params(challenge=pkce_pair()[1], prompt="none"))
    assert query(r.headers["Location"])["error"] == "login_required"
    with app.app_context():
        cid = citizen_row(app).id
        assert db.session.scalar(select(SsoSession).where(
            SsoSession.citizen_id == cid, SsoSession.revoked_at.is_(None))) is None
        assert db.session.scalar(select(Token).where(
            Token.citizen_id == cid, Token.revoked_at.is_(None))) is None
    assert sms(CITIZEN.phone)[-1] == recovery.RESET_NOTICE
    assert recovery.RESET_NOTICE.isascii() and len(recovery.RESET_NOTICE) <= 160
    # Other accounts keep their sessions.
    r = authorize(bystander, auth_params(challenge=pkce_pair()[1], prompt="none"))
    assert "code" in query(r.headers["Location"])


def test_a_reset_unlocks_the_password_throttle(app, client):
    page = follow_to_login(client, authorize(client, auth_params(challenge=pkce_pair()[1])))
    for _ in range(app.config["IDP"]["login_max_failures"]):
        page = login_form_submit(client, html(page), CITIZEN.id_number, "sai-mat-khau-roi")
    assert page.status_code in (400, 429)
    reset(app, app.test_client())
    page = follow_to_login(client, authorize(client, auth_params(challenge=pkce_pair()[1])))
    r = login_form_submit(client, html(page), CITIZEN.id_number, NEW_PASSWORD)
    assert r.status_code == 303


def _login_to_second_factor(app, client, acr=None):
    params = auth_params(challenge=pkce_pair()[1], **({"acr_values": acr} if acr else {}))
    page = follow_to_login(client, authorize(client, params))
    r = login_form_submit(client, html(page), CITIZEN.id_number, NEW_PASSWORD)
    assert r.status_code == 303
    return r


def test_after_a_reset_by_sms_the_next_login_asks_a_recovery_code(app, client, sms):
    with app.app_context():
        codes = factors.new_recovery_codes(db.session.get(Citizen, citizen_row(app).id))
    reset(app, app.test_client())
    assert citizen_row(app).sms_reset_pending
    sent = len(sms())
    # Even a LoA1 request: never a login on the password the SMS just reset.
    r = _login_to_second_factor(app, client)
    assert "/flows/" in r.headers["Location"]
    page = client.get(r.headers["Location"])
    assert "Mã khôi phục dự phòng" in html(page) and 'name="otp"' in html(page)
    assert len(sms()) == sent  # no SMS code offered
    r = post_flow(client, page, action="choose")
    options = html(client.get(r.headers["Location"]))
    assert "sms:" not in options and 'value="recovery"' in options
    r = post_flow(client, page, method="recovery", action="select")
    page = client.get(r.headers["Location"])
    r = post_flow(client, page, otp=codes[0], action="verify")
    assert r.status_code == 303, html(r)[:500]
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and "code=" in r.headers["Location"]
    assert not citizen_row(app).sms_reset_pending


def test_after_a_reset_without_other_factors_the_second_factor_is_sms(app, client, sms):
    reset(app, app.test_client())
    assert not citizen_row(app).sms_reset_pending
    r = _login_to_second_factor(app, client, acr="LoA2")
    page = client.get(r.headers["Location"])
    assert 'autocomplete="one-time-code"' in html(page) and "0941xxx947" in html(page)
    assert "dang nhap" in sms(CITIZEN.phone)[-1]


def test_the_recovery_templates_render_in_both_languages(app):
    for lang in ("vi", "en"):
        with app.test_request_context("/recover", headers={"Cookie": f"lang={lang}"}):
            page = render_template("recover_password.html", action="/flows/x", errors={},
                                   hint=passwords.HINT, strength=None)
            assert 'name="password"' in page and 'name="password_confirm"' in page
            assert "<script>" not in page and "style=" not in page
