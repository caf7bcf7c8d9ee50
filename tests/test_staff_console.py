"""The staff console (issue 17 item 3) over HTTP, on SQLite, PostgreSQL and PostgreSQL + Redis:
signing in with a password and an authenticator code (wrong, replayed, locked out, disabled:
one answer), its own cookie and session (idle and absolute limits, sign-out server-side, no
access from a citizen's session and none to citizens' pages), re-authentication before the
sensitive actions, CSRF, and least privilege (a clerk gets 403 on the administrator's and the
support screens, audited). The screens' actions are in tests/test_staff_screens.py."""
from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts import staff as staff_accounts
from idp.platform.db import db
from idp.platform.models import StaffMember
from idp.staff import session as staff_session
from tests.support.account import account_login, events
from tests.support.clock import FrozenClock
from tests.support.messages import assert_message
from tests.support.pages import hidden
from tests.support.staff import create_staff, reauth, sign_in, totp_now


def html(r) -> str:
    return r.get_data(as_text=True)


def login_post(client, username, password, code, **extra):
    page = client.get("/staff/login")
    return client.post("/staff/login", data={
        "csrf_token": hidden(html(page), "csrf_token"), "username": username,
        "password": password, "totp": code, **extra})


@pytest.fixture
def support(app):
    return create_staff(app, "hotro.an", "support")


@pytest.fixture
def clerk(app):
    return create_staff(app, "buudien.q2", "clerk", counter="Bưu điện tỉnh Đắk Lắk – quầy 2")


@pytest.fixture
def admin(app):
    return create_staff(app, "quantri.binh", "admin")


def test_sign_in_sets_its_own_strict_cookie_and_shows_the_role_menu(app, support):
    client = app.test_client()
    r = login_post(client, support.username, support.password, totp_now(support.secret))
    assert r.status_code == 303 and r.headers["Location"] == "/staff/"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("idp_staff=")
    assert "Path=/staff" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    home = client.get("/staff/")
    assert home.status_code == 200 and home.headers["Cache-Control"] == "no-store"
    body = html(home)
    assert "Khu vực dành cho cán bộ" in body and "Nhân viên hỗ trợ" in body
    assert "/staff/complaints" in body and "/staff/lookup" in body and "/staff/recovery" in body
    assert "/staff/members" not in body and "/staff/counter/new" not in body
    assert events(app, "staff.login")[-1]["staff"] == "hotro.an"


@pytest.mark.parametrize("case", ["password", "code", "user"])
def test_every_failure_is_the_same_answer(app, support, case):
    code = totp_now(support.secret)
    username, password = support.username, support.password
    if case == "password":
        password = "sai-mat-khau-roi-nhe"
    elif case == "code":
        code = f"{(int(code) + 1) % 1000000:06d}"
    else:
        username = "khong.co.ai"
    client = app.test_client()
    r = login_post(client, username, password, code)
    assert r.status_code == 401 and "idp_staff=" not in r.headers.get("Set-Cookie", "")
    assert_message(r, "staff.signin_failed")
    assert client.get("/staff/").status_code == 303


def test_a_code_works_once(app, support):
    code = pyotp.TOTP(support.secret).now()
    client = app.test_client()
    assert login_post(client, support.username, support.password, code).status_code == 303
    other = app.test_client()
    r = login_post(other, support.username, support.password, code)
    assert r.status_code == 401
    assert_message(r, "staff.signin_failed")


def test_lock_out_after_five_failures_then_unlock(app, support, monkeypatch):
    clock = FrozenClock().install(monkeypatch, staff_accounts)
    client = app.test_client()
    for _ in range(staff_accounts.LOCK_AFTER):
        assert login_post(client, support.username, "sai", "000000").status_code == 401
    r = login_post(client, support.username, support.password, totp_now(support.secret))
    assert r.status_code == 401  # locked: even the right password and code
    assert_message(r, "staff.signin_failed")
    clock.advance(staff_accounts.LOCK_SECONDS + 1)
    r = login_post(client, support.username, support.password, totp_now(support.secret))
    assert r.status_code == 303


def test_a_disabled_account_cannot_sign_in_and_its_session_ends(app, support):
    client = app.test_client()
    sign_in(client, support)
    with app.app_context():
        member = staff_accounts.find(support.username)
        staff_accounts.set_status(member, "disabled")
        db.session.commit()
    assert client.get("/staff/").status_code == 303  # the next click
    r = login_post(client, support.username, support.password, totp_now(support.secret))
    assert r.status_code == 401


def test_missing_fields_and_bad_next_are_refused(app, support):
    client = app.test_client()
    r = login_post(client, support.username, support.password, "")
    assert r.status_code == 400
    assert_message(r, "staff.signin_missing")
    r = login_post(client, support.username, support.password, totp_now(support.secret),
                   next="https://evil.example/staff")
    assert r.status_code == 303 and r.headers["Location"] == "/staff/"


def test_login_without_csrf_token_is_refused(app, support):
    client = app.test_client()
    client.get("/staff/login")
    r = client.post("/staff/login", data={"username": support.username,
                                          "password": support.password,
                                          "totp": totp_now(support.secret)})
    assert r.status_code == 400 and "idp_staff=" not in r.headers.get("Set-Cookie", "")


def test_a_citizen_session_gives_no_access_and_a_staff_session_no_citizen_access(app,
                                                                                 support):
    citizen = app.test_client()
    account_login(app, citizen)
    r = citizen.get("/staff/")
    assert r.status_code == 303 and r.headers["Location"].startswith("/staff/login")
    desk = app.test_client()
    sign_in(desk, support)
    r = desk.get("/account/")
    assert r.status_code in (302, 303) and "/staff" not in r.headers["Location"]


def test_idle_timeout_and_absolute_lifetime(app, support, monkeypatch):
    clock = FrozenClock().install(monkeypatch, staff_session)
    client = app.test_client()
    sign_in(client, support)
    clock.advance(app.config["IDP"]["staff_idle_timeout"] + 1)
    r = client.get("/staff/")
    assert r.status_code == 303 and "expired=1" in r.headers["Location"]
    assert_message(client.get(r.headers["Location"]), "staff.expired")
    sign_in(client, support)
    for _ in range(app.config["IDP"]["staff_session_lifetime"] // 800):
        clock.advance(800)  # active all day: each click within the idle limit
        assert client.get("/staff/").status_code == 200
    clock.advance(800)
    assert client.get("/staff/").status_code == 303


def test_sign_out_ends_the_session_server_side(app, support):
    client = app.test_client()
    sign_in(client, support)
    cookie = client.get_cookie("idp_staff", path="/staff").value
    page = client.get("/staff/")
    r = client.post("/staff/logout", data={"csrf_token": hidden(html(page), "csrf_token")})
    assert r.status_code == 303
    other = app.test_client()
    other.set_cookie("idp_staff", cookie, path="/staff")  # a copy of the old cookie
    assert other.get("/staff/").status_code == 303


def test_sensitive_actions_need_a_fresh_code(app, admin, clerk, monkeypatch):
    clock = FrozenClock().install(monkeypatch, staff_session)
    client = app.test_client()
    sign_in(client, admin)
    clock.advance(app.config["IDP"]["staff_reauth_window"] + 1)
    page = client.get("/staff/members")
    with app.app_context():
        clerk_id = db.session.scalar(select(StaffMember.id).where(
            StaffMember.username == clerk.username))
    data = {"csrf_token": hidden(html(page), "csrf_token"), "member_id": clerk_id,
            "action": "disable"}
    r = client.post("/staff/members", data=data)
    assert r.status_code == 303 and r.headers["Location"].startswith("/staff/reauth")
    with app.app_context():
        assert staff_accounts.find(clerk.username).status == "active"
    bad = client.post("/staff/reauth", data={"csrf_token": data["csrf_token"],
                                             "totp": "000000"})
    assert bad.status_code == 401
    assert_message(bad, "staff.reauth_failed")
    reauth(client, admin)
    assert client.post("/staff/members", data=data).status_code == 303
    with app.app_context():
        assert staff_accounts.find(clerk.username).status == "disabled"


@pytest.mark.parametrize("path,permission", [
    ("/staff/members", "staff.manage"), ("/staff/audit", "audit.view"),
    ("/staff/complaints", "complaints.resolve"), ("/staff/lookup", "citizens.lookup")])
def test_a_clerk_gets_403_and_it_is_audited(app, clerk, path, permission):
    client = app.test_client()
    sign_in(client, clerk)
    menu = html(client.get("/staff/"))
    assert "/staff/recovery" in menu and "/staff/lookup" not in menu
    if "staff.counter_new" in app.view_functions:
        assert "/staff/counter/new" in menu and "Đăng ký tại quầy" in menu
    r = client.get(path)
    assert r.status_code == 403 and 'data-testid="staff-forbidden"' in html(r)
    denied = events(app, "staff.denied")[-1]
    assert denied["permission"] == permission and denied["staff"] == clerk.username
    assert denied["counter"] == "Bưu điện tỉnh Đắk Lắk – quầy 2"


def test_an_admin_cannot_register_at_a_counter_nor_change_their_own_account(app, admin):
    client = app.test_client()
    sign_in(client, admin)
    if "staff.counter_new" in app.view_functions:
        assert client.get("/staff/counter/new").status_code == 403
    page = client.get("/staff/members")
    with app.app_context():
        own = staff_accounts.find(admin.username).id
    r = client.post("/staff/members", data={"csrf_token": hidden(html(page), "csrf_token"),
                                            "member_id": own, "action": "disable"})
    assert r.status_code == 403
    assert_message(r, "staff.self_change")


def test_guessing_reauth_codes_locks_the_account_and_ends_the_session(app, support):
    client = app.test_client()
    sign_in(client, support)
    page = client.get("/staff/reauth")
    token = hidden(html(page), "csrf_token")
    for _ in range(staff_accounts.LOCK_AFTER - 1):
        r = client.post("/staff/reauth", data={"csrf_token": token, "totp": "000000"})
        assert r.status_code == 401
    r = client.post("/staff/reauth", data={"csrf_token": token, "totp": "000000"})
    assert r.status_code == 303 and r.headers["Location"] == "/staff/login"
    assert client.get("/staff/").status_code == 303
    r = login_post(client, support.username, support.password, totp_now(support.secret))
    assert r.status_code == 401  # locked


def test_sign_in_attempts_are_limited_per_address(app, support, monkeypatch):
    from idp.staff import auth
    monkeypatch.setattr(auth, "ATTEMPTS_PER_ADDRESS", 3)
    client = app.test_client()
    for _ in range(3):
        assert login_post(client, "khong.co.ai", "sai-mat-khau", "000000").status_code == 401
    r = login_post(client, support.username, support.password, totp_now(support.secret))
    assert r.status_code == 429
    assert_message(r, "staff.too_many")
