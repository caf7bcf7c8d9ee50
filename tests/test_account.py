"""The account page at the IdP ("Thông tin tài khoản"): LoA2 to view, a fresh full login to
change a factor or the password, phones (OTP to the new number, notification to the old
one), authenticator app, recovery codes, password change, active sessions."""
from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from idp.flows.account import access
from idp.platform.db import db
from idp.platform.models import SsoSession, Token
from tests.support.account import (  # noqa: F401 (own_outbox: an autouse fixture)
    NEW_PHONE,
    account_login,
    add_phone,
    citizen_phone,
    csrf,
    events,
    messages_to,
    own_outbox,
    post,
    rows,
)
from tests.support.account import full_login_from as _full_login_from
from tests.support.account import submit_code as _submit_code
from tests.support.apps import ephemeral_keys
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
from tests.support.people import CITIZEN
from tests.support.sms import last_code, outbox


@pytest.fixture
def clock(monkeypatch):
    """Shifts the account page's idea of now (not the rest of the IdP's)."""
    offset = {"s": 0}
    monkeypatch.setattr(access, "now", lambda: time.time() + offset["s"])
    return offset


# --------------------------------------------------------------------------- access

def test_the_page_needs_a_loa2_session_and_shows_masked_data(app, client):
    r = client.get("/account/")
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    r = _full_login_from(app, client, r)
    assert r.headers["Location"] == "/account/"
    page = client.get("/account/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Thông tin tài khoản" in html
    assert "Nguyễn Văn An" in html and "066xxxxxx234" in html and "0941xxx947" in html
    assert CITIZEN.id_number not in html and "0941234947" not in html
    assert "Mặc định" in html and "Phiên này" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert "style=" not in html and "<script>" not in html
    with app.app_context():
        session = db.session.scalars(select(SsoSession)).one()
        assert session.acr == "LoA2"


def loa1_deployment(database_url):
    """A deployment that lowered login_min_acr to LoA1: a portal login stops at the password
    (test_login_level.py has the default, LoA2)."""
    from tests.support.apps import make_app
    app = make_app(database_url, login_min_acr="LoA1")
    return app, app.test_client()


def test_a_loa1_session_runs_only_the_second_factor_and_changes_need_the_password(
        database_url):
    app, client = loa1_deployment(database_url)
    login_and_get_code(client, auth_params(challenge=pkce_pair()[1]))  # LoA1 session
    r = client.get("/account/")
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    page = client.get(r.headers["Location"])
    html = page.get_data(as_text=True)
    assert 'name="otp"' in html and 'name="password"' not in html
    assert "Trang quản lý tài khoản yêu cầu xác thực thêm" in html  # why a code now
    r = _submit_code(client, page, last_code(app, CITIZEN.phone))
    assert r.status_code == 303 and r.headers["Location"] == "/account/"
    assert client.get("/account/").status_code == 200
    # A step-up on top of an old password login is not a fresh *full* authentication.
    r = client.get("/account/password")
    assert r.status_code == 303
    assert 'name="password"' in client.get(r.headers["Location"]).get_data(as_text=True)


def test_changes_need_a_fresh_full_login(app, client, clock):
    account_login(app, client)
    assert client.get("/account/password").status_code == 200
    token = csrf(client)
    clock["s"] = access.FRESH_AUTH_SECONDS + 1
    assert client.get("/account/").status_code == 200  # viewing is still fine
    r = client.post("/account/recovery-codes", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    assert events(app, "factor.recovery_codes_issued") == []
    r = client.get("/account/password")
    assert r.status_code == 303
    clock["s"] = 0
    r = _full_login_from(app, client, r)
    assert r.headers["Location"] == "/account/password"
    assert client.get("/account/password").status_code == 200


def test_a_reauth_address_works_once(app, client):
    r = client.get("/account/password")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    r = login_form_submit(client, page, CITIZEN.id_number, CITIZEN.password)
    r = _submit_code(client, client.get(r.headers["Location"]), last_code(app, CITIZEN.phone))
    reauth = r.headers["Location"]
    assert client.get(reauth).headers["Location"] == "/account/password"
    assert client.get(reauth).headers["Location"] == "/account/"  # used up
    r = client.get("/account/reauth/" + "A" * 32)
    assert r.status_code == 303 and r.headers["Location"] == "/account/"


def test_a_step_up_session_is_not_marked_fresh_by_an_old_reauth_address(database_url):
    """The address only proves a login when it comes with the session that login made."""
    app, client = loa1_deployment(database_url)
    login_and_get_code(client, auth_params(challenge=pkce_pair()[1]))  # LoA1
    r = client.get("/account/password")  # LoA1: step-up first (second factor only)
    r = _submit_code(client, client.get(r.headers["Location"]), last_code(app, CITIZEN.phone))
    assert r.headers["Location"] == "/account/password"
    r = client.get("/account/password")  # not fresh: the full login flow
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'name="password"' in page
    [key] = ephemeral_keys(app, "acct-reauth:")
    # Presenting the address without finishing the login flow marks nothing.
    r = client.get("/account/reauth/" + key.split(":", 1)[1])
    assert r.headers["Location"] == "/account/"
    assert client.get("/account/password").status_code == 303


# --------------------------------------------------------------------------- phones

def test_add_phone_sends_the_code_to_the_new_number_and_notifies_the_old(app, client):
    account_login(app, client)
    before_old = len(messages_to(app, CITIZEN.phone))
    r = post(client, "/account/phones/new", phone="0912 000 111")
    assert r.status_code == 303
    page = client.get("/account/phones/verify")
    html = page.get_data(as_text=True)
    assert "0912xxx111" in html and "0912000111" not in html and "+84912000111" not in html
    new_texts = messages_to(app, NEW_PHONE)
    assert len(new_texts) == 1 and "xac nhan so dien thoai moi" in new_texts[0]
    assert len(messages_to(app, CITIZEN.phone)) == before_old  # no code to the old number

    r = _submit_code(client, page, "000000" if last_code(app, NEW_PHONE) != "000000"
                     else "111111")
    assert r.status_code == 400 and 'data-msg="otp.wrong"' in r.get_data(as_text=True)
    assert [p for _, p, _ in rows(app)] == [CITIZEN.phone]

    r = _submit_code(client, client.get("/account/phones/verify"), last_code(app, NEW_PHONE))
    assert r.status_code == 303
    assert rows(app)[1][1:] == (NEW_PHONE, False) and rows(app)[0][1:] == (CITIZEN.phone, True)
    assert citizen_phone(app) == CITIZEN.phone
    note = messages_to(app, CITIZEN.phone)[-1]
    assert "them mot so dien thoai" in note and "0912" not in note
    assert not re.search(r"\b\d{6}\b", note)
    assert events(app, "factor.phone_added") == [{"phone": "0912xxx111"}]
    html = client.get("/account/").get_data(as_text=True)
    assert 'data-msg="account.phone_added"' in html and "0912xxx111" in html


def test_a_wrong_code_does_not_add_the_phone_and_cancel_forgets_it(app, client):
    account_login(app, client)
    post(client, "/account/phones/new", phone="0912000111")
    code = last_code(app, NEW_PHONE)
    r = _submit_code(client, client.get("/account/phones/verify"), str((int(code) + 1) % 10 ** 6)
                     .zfill(6))
    assert r.status_code == 400
    r = post(client, "/account/phones/verify", action="cancel")
    assert r.status_code == 303
    r = post(client, "/account/phones/verify", otp=code, action="verify")
    assert r.status_code == 303 and r.headers["Location"] == "/account/"
    assert NEW_PHONE not in [p for _, p, _ in rows(app)]
    assert events(app, "factor.phone_added") == []


def test_an_early_resend_waits_and_says_how_long(app, client):
    account_login(app, client)
    post(client, "/account/phones/new", phone="0912000111")
    r = post(client, "/account/phones/verify", action="resend")
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
    assert len(messages_to(app, NEW_PHONE)) == 1


def test_invalid_or_duplicate_numbers_are_refused_without_sending(app, client):
    account_login(app, client)
    sent = len(outbox(app))
    for number in ("0241234567", "+14155550100", "12345", CITIZEN.phone):
        r = post(client, "/account/phones/new", phone=number)
        assert r.status_code == 400, number
        assert 'aria-invalid="true"' in r.get_data(as_text=True)
    assert len(outbox(app)) == sent


def test_make_default_updates_the_phone_claim_and_notifies_the_old_number(app, client):
    account_login(app, client)
    add_phone(app, client)
    new_id = rows(app)[1][0]
    r = post(client, f"/account/phones/{new_id}/default")
    assert r.status_code == 303
    assert [d for _, _, d in rows(app)] == [False, True]
    assert citizen_phone(app) == NEW_PHONE
    assert "mac dinh" in messages_to(app, CITIZEN.phone)[-1]
    assert events(app, "factor.phone_default") == [{"phone": "0912xxx111",
                                                    "previous": "0941xxx947"}]
    verifier, challenge = pkce_pair()
    r = authorize(client, auth_params(challenge=challenge, scope="openid phone"))
    assert r.status_code == 302  # the LoA2 session answers silently
    body = token_request(client, query(r.headers["Location"])["code"], verifier).get_json()
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert info.get_json()["phone_number"] == NEW_PHONE


def test_the_default_and_last_phone_cannot_be_removed(app, client):
    account_login(app, client)
    (only, phone, default), = rows(app)
    assert default and phone == CITIZEN.phone
    r = client.get(f"/account/phones/{only}/remove")
    assert r.status_code == 303
    assert 'data-msg="account.phone_default_kept"' in client.get("/account/").get_data(
        as_text=True)
    r = post(client, f"/account/phones/{only}/remove")
    assert r.status_code == 303 and rows(app) == [(only, phone, True)]
    # A second, non-default phone can go (after a confirmation page).
    add_phone(app, client)
    new_id = rows(app)[1][0]
    page = client.get(f"/account/phones/{new_id}/remove")
    assert page.status_code == 200 and "0912xxx111" in page.get_data(as_text=True)
    r = post(client, f"/account/phones/{new_id}/remove")
    assert r.status_code == 303 and rows(app) == [(only, phone, True)]
    assert events(app, "factor.phone_removed") == [{"phone": "0912xxx111"}]
    # Still not the default one.
    post(client, f"/account/phones/{only}/remove")
    assert rows(app) == [(only, phone, True)]


def test_change_phone_replaces_the_default_in_one_guided_action(app, client):
    account_login(app, client)
    old_id = rows(app)[0][0]
    page = client.get(f"/account/phones/new?replace={old_id}")
    assert page.status_code == 200 and "Đổi số điện thoại" in page.get_data(as_text=True)
    add_phone(app, client, replace=old_id)
    assert [(p, d) for _, p, d in rows(app)] == [(NEW_PHONE, True)]
    assert citizen_phone(app) == NEW_PHONE
    assert "doi sang so khac" in messages_to(app, CITIZEN.phone)[-1]
    assert events(app, "factor.phone_changed") == [
        {"old": "0941xxx947", "new": "0912xxx111", "default": True}]
    # The next login sends its code to the new number.
    other = app.test_client()
    r = authorize(other, auth_params(challenge=pkce_pair()[1], acr_values="LoA2"))
    page = follow_to_login(other, r)
    r = login_form_submit(other, page.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password)
    assert "0912xxx111" in other.get(r.headers["Location"]).get_data(as_text=True)


def test_at_most_three_phones(app, client):
    app.config["IDP"]["resend_cooldown"] = 0  # one session's phone codes share a cooldown
    account_login(app, client)
    add_phone(app, client, "+84912000111")
    add_phone(app, client, "+84983000222")
    assert "tối đa 3 số" in client.get("/account/").get_data(as_text=True)
    r = client.get("/account/phones/new")
    assert r.status_code == 303 and len(rows(app)) == 3
    r = post(client, "/account/phones/new", phone="0977000333")
    assert r.status_code == 303 and len(rows(app)) == 3
    assert not messages_to(app, "+84977000333")


def test_the_pending_phone_belongs_to_the_session_that_started_it(app, client):
    account_login(app, client)
    post(client, "/account/phones/new", phone="0912000111")
    other = app.test_client()
    account_login(app, other)
    r = post(other, "/account/phones/verify", otp=last_code(app, NEW_PHONE), action="verify")
    assert r.status_code == 303 and NEW_PHONE not in [p for _, p, _ in rows(app)]


# --------------------------------------------------------------------------- authenticator app

def _login_with_second_factor(app, method, code):
    """A new browser logs in at LoA2 and answers with `method` (totp | recovery)."""
    browser = app.test_client()
    r = authorize(browser, auth_params(challenge=pkce_pair()[1], acr_values="LoA2"))
    page = follow_to_login(browser, r)
    r = login_form_submit(browser, page.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password)
    sms_page = browser.get(r.headers["Location"]).get_data(as_text=True)
    flow_url = form_action(sms_page)
    r = browser.post(flow_url, data={"csrf_token": hidden(sms_page, "csrf_token"),
                                     "action": "choose"})
    choose = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert f'value="{method}"' in choose
    r = browser.post(flow_url, data={"csrf_token": hidden(choose, "csrf_token"),
                                     "method": method})
    page = browser.get(r.headers["Location"])
    return _submit_code(browser, page, code)


def test_totp_enrolment_then_login_with_it_and_no_replay(app, client):
    account_login(app, client)
    page = client.get("/account/totp/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'src="data:image/svg+xml' in html
    secret = re.search(r"data-secret>([A-Z2-7 ]+)<", html).group(1).replace(" ", "")
    assert secret not in re.sub(r"<code[^>]*>[^<]*</code>|href=\"[^\"]*\"", "", html)
    totp = pyotp.TOTP(secret)
    r = post(client, "/account/totp/new", otp=totp.at(time.time() - 90))  # too old
    assert r.status_code == 400 and rows(app, "totp") == []
    r = post(client, "/account/totp/new", otp=totp.now())
    assert r.status_code == 303 and len(rows(app, "totp")) == 1
    assert events(app, "factor.totp_added")
    assert "ung dung xac thuc" in messages_to(app, CITIZEN.phone)[-1]

    code = totp.at(time.time() + 30)  # the next time step (a newer one than at enrolment)
    r = _login_with_second_factor(app, "totp", code)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    r = _login_with_second_factor(app, "totp", code)  # the same time step again
    assert r.status_code == 400 and 'data-msg="otp.wrong"' in r.get_data(as_text=True)

    totp_id = rows(app, "totp")[0][0]
    assert client.get(f"/account/totp/{totp_id}/remove").status_code == 200
    r = post(client, f"/account/totp/{totp_id}/remove")
    assert r.status_code == 303 and rows(app, "totp") == []
    assert events(app, "factor.totp_removed")


def test_the_enrolment_code_cannot_be_replayed_at_login(app, client):
    account_login(app, client)
    html = client.get("/account/totp/new").get_data(as_text=True)
    secret = re.search(r"data-secret>([A-Z2-7 ]+)<", html).group(1).replace(" ", "")
    code = pyotp.TOTP(secret).now()
    assert post(client, "/account/totp/new", otp=code).status_code == 303
    assert _login_with_second_factor(app, "totp", code).status_code == 400


# --------------------------------------------------------------------------- recovery codes

def test_recovery_codes_are_shown_once_and_each_works_once(app, client):
    account_login(app, client)
    assert client.get("/account/recovery-codes").status_code == 200
    r = post(client, "/account/recovery-codes")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", html)
    assert len(codes) == 10 and "Hãy lưu các mã này ngay bây giờ" in html
    page = client.get("/account/").get_data(as_text=True)
    assert 'data-recovery-left="10"' in page and codes[0] not in page
    assert codes[0] not in client.get("/account/recovery-codes").get_data(as_text=True)

    assert _login_with_second_factor(app, "recovery", codes[0]).status_code == 303
    assert _login_with_second_factor(app, "recovery", codes[0]).status_code == 400
    assert 'data-recovery-left="9"' in client.get("/account/").get_data(as_text=True)


# --------------------------------------------------------------------------- password

def test_password_change_needs_the_current_password(app, client):
    account_login(app, client)
    other = app.test_client()
    account_login(app, other)
    new = "mua-xuan-tren-dinh-lang-biang"
    r = post(client, "/account/password", current_password="wrong-password-123",
             password=new, password_confirm=new, sign_out_others="1")
    assert r.status_code == 400 and 'data-msg="account.current_password_wrong"' in r.get_data(
        as_text=True)
    r = post(client, "/account/password", current_password=CITIZEN.password,
             password=new, password_confirm=new + "x")
    assert r.status_code == 400
    for weak in ("short", CITIZEN.id_number, "123456789", "matkhau123"):
        r = post(client, "/account/password", current_password=CITIZEN.password,
                 password=weak, password_confirm=weak)
        assert r.status_code == 400 and 'id="password-error"' in r.get_data(as_text=True)
    assert events(app, "account.password_changed") == []
    r = post(client, "/account/password", current_password=CITIZEN.password,
             password=new, password_confirm=new, sign_out_others="1")
    assert r.status_code == 303
    assert events(app, "account.password_changed") == [{"signed_out_others": True}]
    assert "Mat khau" in messages_to(app, CITIZEN.phone)[-1]
    assert client.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 303  # signed out
    browser = app.test_client()
    page = follow_to_login(browser, authorize(browser, auth_params(challenge=pkce_pair()[1])))
    r = login_form_submit(browser, page.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password)
    assert r.status_code == 400
    page = follow_to_login(browser, authorize(browser, auth_params(challenge=pkce_pair()[1])))
    r = login_form_submit(browser, page.get_data(as_text=True), CITIZEN.id_number, new)
    assert r.status_code == 303


def test_wrong_current_passwords_are_limited(app, client):
    account_login(app, client)
    for _ in range(5):
        r = post(client, "/account/password", current_password="nope-nope-nope",
                 password="a-new-long-password", password_confirm="a-new-long-password")
        assert r.status_code == 400
    r = post(client, "/account/password", current_password=CITIZEN.password,
             password="a-new-long-password", password_confirm="a-new-long-password")
    assert r.status_code == 429 and events(app, "account.password_changed") == []


# --------------------------------------------------------------------------- sessions

def test_sign_out_other_sessions_revokes_them_and_their_tokens(app, client):
    account_login(app, client)
    portal = app.test_client()
    verifier, challenge = pkce_pair()
    q = login_and_get_code(portal, auth_params(challenge=challenge,
                                               scope="openid phone offline_access"))
    body = token_request(portal, q["code"], verifier).get_json()
    bearer = {"Authorization": "Bearer " + body["access_token"]}
    assert portal.get("/userinfo", headers=bearer).status_code == 200

    page = client.get("/account/").get_data(as_text=True)
    assert page.count('<li class="session') == 2 and page.count("Phiên này") == 1
    assert "127.0.0.x" in page and "127.0.0.1" not in page
    r = post(client, "/account/sessions/revoke-others")
    assert r.status_code == 303
    assert "Đã đăng xuất 1 phiên khác" in client.get("/account/").get_data(as_text=True)
    assert portal.get("/userinfo", headers=bearer).status_code == 401
    r = portal.post("/token", data={"grant_type": "refresh_token",
                                    "refresh_token": body["refresh_token"]},
                    headers=basic())
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    with app.app_context():
        live = db.session.scalars(select(SsoSession).where(SsoSession.revoked_at.is_(None)))
        assert len(live.all()) == 1
        assert db.session.scalar(select(Token.revoked_at)) is not None
    assert client.get("/account/").status_code == 200


# --------------------------------------------------------------------------- CSRF

@pytest.mark.parametrize("token", [None, "", "garbage"])
def test_changes_need_the_csrf_token(app, client, token):
    account_login(app, client)
    portal = app.test_client()
    login_and_get_code(portal, auth_params(challenge=pkce_pair()[1]))
    data = {} if token is None else {"csrf_token": token}
    for url in ("/account/sessions/revoke-others", "/account/recovery-codes",
                f"/account/phones/{rows(app)[0][0]}/default", "/account/phones/new"):
        r = client.post(url, data=dict(data, phone="0912000111"))
        assert r.status_code == 400, url
    with app.app_context():
        assert len(db.session.scalars(select(SsoSession).where(
            SsoSession.revoked_at.is_(None))).all()) == 2
    assert events(app, "factor.recovery_codes_issued") == []
    assert NEW_PHONE not in [m["to"] for m in outbox(app)]
