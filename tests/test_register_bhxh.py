"""Registration by social-insurance code, "Bảo hiểm xã hội" (issue 17 item 1;
flows/register/bhxh.py, accounts/bhxh.py): the registry's record gives the phone and the code
goes there; no record looks the same from outside and sends nothing; the registry's
failures are clean messages with nothing written; the account is verified by "vssid"."""
from __future__ import annotations

import re
import time

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import select

from idp.platform.db import db
from idp.platform.models import Citizen, OutboxMessage
from tests.support import CITIZEN
from tests.support.apps import make_app
from tests.support.pages import hidden
from tests.support.registration import (  # noqa: F401
    PASSWORD,
    choose,
    citizens,
    error_of,
    finish,
    html,
    post,
    registry,
    start_create,
    submit_form,
)
from tests.support.sms import last_code, read
from tests.support.standins import closed_port_url, serve_wsgi

HUNG = {"ma_bhxh": "6685031472", "full_name": "Lê Văn Hùng", "id_number": "066085031472",
        "birth_date": "1985-09-30", "gender": "male", "email": "", "consent": "yes",
        "phone": None}
HUNG_PHONE = "+84912480351"
BHXH = f"""ma_bhxh,id_number,full_name,birth_date,phone
{HUNG['ma_bhxh']},{HUNG['id_number']},{HUNG['full_name']},{HUNG['birth_date']},0912480351
6689001234,{CITIZEN.id_number},{CITIZEN.full_name},{CITIZEN.birth_date},0987000111
6601009256,066301009256,H'Lan Niê,2001-07-12,0376129804
"""


def bhxh_app(database_url, tmp_path, registry, **settings):
    path = tmp_path / "bhxh.csv"
    path.write_text(BHXH, encoding="utf-8")
    return make_app(database_url, kyc_registry=str(registry), bhxh_registry=str(path),
                    **settings)


@pytest.fixture
def app(database_url, tmp_path, registry):
    app = bhxh_app(database_url, tmp_path, registry)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def to_bhxh_form(client):
    page = choose(client, start_create(client), method="vssid")
    text = html(page)
    assert 'name="ma_bhxh"' in text and 'name="phone"' not in text
    return page


def submit(client, page, **fields):
    return submit_form(client, page, **dict(HUNG, **fields))


def code_page(client, r):
    assert r.status_code == 303, html(r)[:800]
    page = client.get(r.headers["Location"])
    assert 'name="otp"' in html(page)
    return page


def outbox_rows(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(OutboxMessage)).all())


def lead(page) -> str:
    """The code page's text, without what differs per flow (ids, tokens)."""
    text = re.sub(r'value="[^"]*"|action="[^"]*"|nonce="[^"]*"', "", html(page))
    return re.search(r"<main.*</main>", text, re.S).group(0)


# --------------------------------------------------------------------------- the path

def test_the_code_goes_to_the_records_phone_and_the_account_is_verified_by_bhxh(app, client):
    page = code_page(client, submit(client, to_bhxh_form(client)))
    assert "0912480351" not in html(page)  # the number is not shown
    assert "bảo hiểm xã hội" in html(page)
    r = post(client, page, otp=last_code(app, HUNG_PHONE), action="verify")
    password = client.get(r.headers["Location"])
    assert 'name="password_confirm"' in html(password), html(password)[:500]
    r = finish(client, password)
    assert r.status_code in (302, 303), html(r)[:500]
    with app.app_context():
        hung = db.session.scalar(select(Citizen).where(Citizen.id_number == HUNG["id_number"]))
        assert (hung.phone, hung.verified_by, hung.ial) == (HUNG_PHONE, "vssid", "IAL2")
        assert hung.full_name == "Lê Văn Hùng" and hung.gender == "male"
    assert "Bảo hiểm xã hội" in html(client.get("/account/"))


@pytest.mark.parametrize("change", [
    {"id_number": "066085031473"}, {"full_name": "Lê Văn Hưng"},
    {"birth_date": "1985-09-29"}, {"ma_bhxh": "6685031479"}],
    ids=["id_number", "name", "birth_date", "code"])
def test_no_record_looks_the_same_and_sends_nothing(app, client, change):
    if "id_number" in change:  # keep the CCCD consistent with birth date and gender
        change["id_number"] = "066085099999"
    real = code_page(client, submit(client, to_bhxh_form(client)))
    other = app.test_client()
    before_sms, before_rows, before_people = len(read(app)), outbox_rows(app), citizens(app)
    decoy = code_page(other, submit(other, to_bhxh_form(other), **change))
    assert lead(decoy) == lead(real)
    assert (len(read(app)), outbox_rows(app), citizens(app)) == (
        before_sms, before_rows, before_people)
    # No code works, resending behaves as for a real one (the cooldown first).
    r = post(other, decoy, otp="123456", action="verify")
    assert r.status_code == 400 and error_of(r, "otp")
    r_real = post(client, real, action="resend")
    r_decoy = post(other, decoy, action="resend")
    assert r_real.status_code == r_decoy.status_code == 429
    assert 'data-msg="otp.cooldown"' in html(r_decoy)
    assert (len(read(app)), outbox_rows(app), citizens(app)) == (
        before_sms, before_rows, before_people)


def test_a_record_of_an_existing_account_ends_at_account_exists(app, client):
    page = code_page(client, submit(client, to_bhxh_form(client), ma_bhxh="6689001234",
                                    id_number=CITIZEN.id_number, full_name=CITIZEN.full_name,
                                    birth_date=CITIZEN.birth_date, gender=CITIZEN.gender))
    r = post(client, page, otp=last_code(app, "+84987000111"), action="verify")
    exists = client.get(r.headers["Location"])
    assert 'data-msg="register.account_exists"' in html(exists)
    assert citizens(app) == 2


@pytest.mark.parametrize("code, expected", [
    ("668503147", "bhxh.code_format"), ("66850314720", "bhxh.code_format"),
    ("abcdefghij", "bhxh.code_format"), ("", "bhxh.code_required")])
def test_a_malformed_code_is_a_field_error(app, client, code, expected):
    r = submit(client, to_bhxh_form(client), ma_bhxh=code)
    assert r.status_code == 400
    assert f'data-msg="{expected}"' in html(r)
    assert 'name="ma_bhxh"' in html(r) and len(read(app)) == 0


def test_other_fields_are_checked_as_in_mobile_registration(app, client):
    r = submit(client, to_bhxh_form(client), birth_date="", gender=None, consent=None)
    assert r.status_code == 400
    for msg_id in ("register.birth_date_required", "register.gender_required",
                   "register.consent_required"):
        assert f'data-msg="{msg_id}"' in html(r), msg_id


def test_a_wrong_code_is_refused_and_the_right_one_is_taken_once(app, client):
    page = code_page(client, submit(client, to_bhxh_form(client)))
    r = post(client, page, otp="000000" if last_code(app, HUNG_PHONE) != "000000"
             else "111111", action="verify")
    assert r.status_code == 400 and 'data-msg="otp.wrong"' in html(r)
    code = last_code(app, HUNG_PHONE)
    assert post(client, page, otp=code, action="verify").status_code == 303
    again = post(client, page, otp=code, action="verify")  # the flow moved on: refused
    assert 'name="password_confirm"' in html(client.get(again.headers["Location"])) \
        if again.status_code == 303 else again.status_code >= 400


def test_back_to_the_choice_forgets_the_bhxh_path(app, client):
    page = to_bhxh_form(client)
    r = post(client, page, action="back")
    choice = client.get(r.headers["Location"])
    mobile = choose(client, choice, method="mobile")
    assert 'name="phone"' in html(mobile) and 'name="ma_bhxh"' not in html(mobile)


# --------------------------------------------------------------------------- the http port

def registry_server(answer):
    web = Flask("bhxh-registry")
    seen: list[dict] = []

    @web.post("/lookup")
    def lookup():
        seen.append(request.get_json())
        return answer(seen[-1])
    web.seen = seen  # type: ignore[attr-defined]
    return web


def http_app(database_url, tmp_path, registry, url, timeout=2):
    return bhxh_app(database_url, tmp_path, registry, bhxh_provider="http",
                    bhxh_http_url=url, bhxh_timeout=timeout)


def test_the_http_registry_is_asked_and_its_phone_used(database_url, tmp_path, registry):
    web = registry_server(lambda body: jsonify(found=body["ma_bhxh"] == HUNG["ma_bhxh"],
                                               phone="0376129804"))
    with serve_wsgi(web) as url:
        app = http_app(database_url, tmp_path, registry, url + "/lookup")
        client = app.test_client()
        code_page(client, submit(client, to_bhxh_form(client)))
        assert last_code(app, "+84376129804")
    assert web.seen == [{"ma_bhxh": HUNG["ma_bhxh"], "id_number": HUNG["id_number"],
                         "full_name": HUNG["full_name"], "birth_date": HUNG["birth_date"]}]


@pytest.mark.parametrize("answer", [
    lambda body: ("down", 500), lambda body: "<html>", lambda body: jsonify(match=True),
    lambda body: jsonify(found=True), lambda body: jsonify(found=True, phone=12),
    lambda body: (time.sleep(1.5), jsonify(found=False))[1]],
    ids=["500", "html", "no_found", "no_phone", "phone_not_text", "slow"])
def test_a_failing_registry_is_a_clean_message_and_nothing_is_written(
        database_url, tmp_path, registry, answer):
    with serve_wsgi(registry_server(answer)) as url:
        app = http_app(database_url, tmp_path, registry, url + "/lookup", timeout=0.5)
        client = app.test_client()
        r = submit(client, to_bhxh_form(client))
    assert r.status_code == 503 and 'data-msg="bhxh.unavailable"' in html(r)
    assert 'name="ma_bhxh"' in html(r) and hidden(html(r), "csrf_token")
    assert (len(read(app)), outbox_rows(app), citizens(app)) == (0, 0, 2)


def test_an_unreachable_registry_is_a_clean_message(database_url, tmp_path, registry):
    app = http_app(database_url, tmp_path, registry, closed_port_url() + "/lookup")
    client = app.test_client()
    r = submit(client, to_bhxh_form(client))
    assert r.status_code == 503 and 'data-msg="bhxh.unavailable"' in html(r)
    assert (len(read(app)), outbox_rows(app), citizens(app)) == (0, 0, 2)


def test_an_unreadable_registry_file_is_a_clean_message(database_url, tmp_path, registry):
    app = bhxh_app(database_url, tmp_path, registry)
    (tmp_path / "bhxh.csv").write_text("msisdn,id_number\n1,2\n", encoding="utf-8")
    client = app.test_client()
    r = submit(client, to_bhxh_form(client))
    assert r.status_code == 503 and 'data-msg="bhxh.unavailable"' in html(r)


@pytest.mark.parametrize("settings, words", [
    ({"bhxh_provider": "nope"}, "bhxh_provider"), ({"bhxh_timeout": 0}, "bhxh_timeout"),
    ({"bhxh_provider": "http", "bhxh_http_url": "ftp://x"}, "bhxh_http_url")])
def test_a_wrong_registry_setting_is_refused_at_start(tmp_path, settings, words):
    from idp.platform.config import ConfigError
    with pytest.raises(ConfigError, match=words):
        make_app(f"sqlite:///{tmp_path / 'idp.sqlite3'}", **settings)
