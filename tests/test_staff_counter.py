"""The staff console's "Đăng ký tại quầy" (issue 17 item 2) over HTTP, on SQLite, PostgreSQL
and PostgreSQL + Redis: a clerk's whole path (form → the citizen's SMS code → the slip with
the activation code and its QR), then the citizen activates and logs in, the account saying
where and by whom it was verified; the refusals (bad fields and missing declarations write
nothing and send nothing, an ID number that has an account, a wrong or expired phone code);
who may use the screens (support and admin: 403; no staff session: the staff login; another
clerk's registration: 404); every step in `idp audit list` with the clerk's name."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask_migrate import stamp
from sqlalchemy import func, select

from idp.accounts import counter
from idp.cli import main
from idp.platform.db import db
from idp.platform.models import Citizen, CounterRegistration
from tests.support.account import full_login_from
from tests.support.clock import FrozenClock
from tests.support.messages import assert_message
from tests.support.pages import hidden
from tests.support.sms import last_code, read
from tests.support.staff import create_staff, sign_in

NEW = "/staff/counter/new"
COUNTER = "Bưu cục Sài Gòn, quầy 3"
NGOC = {"full_name": "Trần Thị Bích Ngọc", "id_number": "066192018305",
        "birth_date": "02/11/1992", "gender": "female", "phone": "0352 718 406",
        "email": "ngoc@example.vn", "id_checked": "on", "not_official": "on"}
PHONE = "+84352718406"
PASSWORD = "doi-thong-xanh-ngat-tren-nui-2025"


def html(r) -> str:
    return r.get_data(as_text=True)


def post(client, url, page, **data):
    return client.post(url, data={"csrf_token": hidden(html(page), "csrf_token"), **data})


@pytest.fixture
def clerk(app):
    return create_staff(app, "buudien.q1", "clerk", counter=COUNTER)


@pytest.fixture
def desk(app, clerk):
    """A test client signed in as the clerk."""
    client = app.test_client()
    sign_in(client, clerk)
    return client


def registrations(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CounterRegistration))


def submit(desk, **fields):
    page = desk.get(NEW)
    assert page.status_code == 200, html(page)[:500]
    return post(desk, NEW, page, action="register", **{**NGOC, **fields})


def to_code(app, desk):
    r = submit(desk)
    assert r.status_code == 303, html(r)[:1500]
    url = r.headers["Location"]
    assert re.search(r"/staff/counter/\d+/code$", url)
    return url, desk.get(url)


def to_slip(app, desk):
    url, page = to_code(app, desk)
    slip = post(desk, url, page, code=last_code(app, PHONE), action="verify")
    assert slip.status_code == 200, html(slip)[:1500]
    return slip


def slip_codes(slip) -> tuple[str, str]:
    text = html(slip)
    reference = re.search(r'data-testid="slip-reference">([0-9A-Z]{8})<', text)[1]
    code = re.search(r'data-testid="slip-code">(\d{5} \d{5})<', text)[1]
    return reference, code


def activate(app, reference, code):
    citizen = app.test_client()
    r = citizen.get(f"/register/activate?ref={reference}")
    page = citizen.get(r.headers["Location"])
    flow = r.headers["Location"]
    r = post(citizen, flow, page, reference=reference, code=code, action="check")
    assert r.status_code == 303, html(r)[:800]
    page = citizen.get(r.headers["Location"])
    r = post(citizen, flow, page, password=PASSWORD, password_confirm=PASSWORD, action="save")
    assert r.status_code == 303, html(r)[:800]
    return citizen, citizen.get(r.headers["Location"])


# --------------------------------------------------------------------------- the whole path

def test_clerk_registers_the_citizen_activates_and_the_account_says_where(app, clerk, desk):
    url, page = to_code(app, desk)
    assert "0352xxx406" in html(page) and "0352718406" not in html(page)
    slip = post(desk, url, page, code=last_code(app, PHONE), action="verify")
    assert slip.status_code == 200 and slip.headers["Cache-Control"] == "no-store"
    reference, code = slip_codes(slip)
    text = html(slip)
    assert 'src="data:image/svg+xml' in text and "@media" not in text  # print CSS: a file
    assert f"/register/activate?ref={reference}" in text
    assert "giờ Việt Nam" in text and COUNTER in text
    assert "066xxxxxx305" in text and "066192018305" not in text
    assert desk.get(url).status_code == 409  # the slip is not a page to come back to
    citizen, done = activate(app, reference, code)
    assert_message(done, "counter.activated")
    with app.app_context():
        account = db.session.scalar(select(Citizen).where(
            Citizen.id_number == "066192018305"))
        assert (account.verified_by, account.ial, account.email) == ("vnpost", "IAL2",
                                                                     "ngoc@example.vn")
        row = db.session.scalar(select(CounterRegistration))
        assert (row.state, row.citizen_id, row.staff_username, row.counter) == (
            "activated", account.id, "buudien.q1", COUNTER)
    person = type("P", (), {"id_number": "066192018305", "password": PASSWORD,
                            "phone": PHONE})
    full_login_from(app, citizen, citizen.get("/account/"), person)
    page = citizen.get("/account/")
    assert f"Bưu điện Việt Nam — tại {COUNTER}, cán bộ {row.staff_full_name}" in html(page)
    today = desk.get("/staff/counter/today")
    assert today.status_code == 200 and reference in html(today)
    assert "Đã kích hoạt" in html(today)


# --------------------------------------------------------------------------- refusals

def test_bad_fields_and_missing_declarations_write_and_send_nothing(app, desk):
    r = submit(desk, id_number="12345", phone="0281234567", birth_date="31/02/1990",
               id_checked="", not_official="")
    assert r.status_code == 400
    for field in ("id_number", "phone", "birth_date", "id_checked", "not_official"):
        assert f'id="{field}-error"' in html(r), field
    assert_message(r, "counter.not_official_required")
    assert_message(r, "counter.id_checked_required")
    assert 'value="Trần Thị Bích Ngọc"' in html(r)  # what was typed stays
    assert registrations(app) == 0 and not read(app)


def test_an_id_number_with_an_account_is_refused_with_the_other_paths(app, desk):
    r = submit(desk, id_number="066089001234", full_name="Nguyễn Văn An", gender="male",
               birth_date="15/03/1989")
    assert r.status_code == 409
    assert_message(r, "counter.account_exists")
    assert "Mất số điện thoại nhận OTP" in html(r) and "khiếu nại" in html(r)
    assert registrations(app) == 0 and not read(app)


def test_a_wrong_then_an_expired_phone_code(app, desk, monkeypatch):
    url, page = to_code(app, desk)
    right = last_code(app, PHONE)
    r = post(desk, url, page, code="000000" if right != "000000" else "111111",
             action="verify")
    assert r.status_code == 400
    assert_message(r, "counter.code_wrong")
    clock = FrozenClock().install(monkeypatch, counter)
    clock.advance(app.config["IDP"]["otp_ttl"] + 1)
    r = post(desk, url, page, code=right, action="verify")
    assert r.status_code == 400
    assert_message(r, "counter.code_expired")
    r = post(desk, url, page, action="resend")
    assert r.status_code == 200
    assert_message(r, "counter.code_resent")
    slip = post(desk, url, page, code=last_code(app, PHONE), action="verify")
    assert slip.status_code == 200 and slip_codes(slip)


def test_a_resend_waits_for_the_cooldown(app, desk):
    url, page = to_code(app, desk)
    assert 'data-countdown="' in html(page)
    r = post(desk, url, page, action="resend")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert_message(r, "counter.resend_wait")
    assert len([m for m in read(app) if m["to"] == PHONE]) == 1


# --------------------------------------------------------------------------- who may

@pytest.mark.parametrize("role", ["support", "admin"])
def test_other_roles_get_403(app, role):
    client = app.test_client()
    sign_in(client, create_staff(app, f"nv.{role}", role))
    assert client.get(NEW).status_code == 403
    assert client.get("/staff/counter/today").status_code == 403


def test_no_staff_session_goes_to_the_staff_login(app):
    r = app.test_client().get(NEW)
    assert r.status_code in (302, 303) and "/staff/" in r.headers["Location"]
    assert r.headers["Location"].rstrip("/") != NEW


def test_a_clerk_sees_only_their_own_registrations(app, desk):
    url, _ = to_code(app, desk)
    other = app.test_client()
    sign_in(other, create_staff(app, "buudien.q5", "clerk", counter="Bưu cục Quận 5"))
    assert other.get(url).status_code == 404
    assert "066xxxxxx305" not in html(other.get("/staff/counter/today"))


# --------------------------------------------------------------------------- audit

def test_every_step_is_in_idp_audit_list_with_the_clerk(app, desk):
    url, page = to_code(app, desk)
    post(desk, url, page, code="000000" if last_code(app, PHONE) != "000000" else "111111",
         action="verify")
    slip = post(desk, url, page, code=last_code(app, PHONE), action="verify")
    assert slip.status_code == 200
    with app.app_context():  # the CLI in-process on the test app (as test_complaints.py)
        stamp()  # schema by create_all: stamped as the migration head so the CLI accepts it
        result = CliRunner().invoke(main, ["audit", "list", "--event", "counter."],
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    events = {line.split("  ")[1]: line for line in lines}
    assert {"counter.started", "counter.phone_code_wrong", "counter.issued"} <= set(events)
    for line in events.values():
        assert "staff=buudien.q1" in line, line
        assert "066192018305" not in line and "352718406" not in line
