"""Counter registration, "Bưu điện Việt Nam" (issue 17 item 2): the rules below the clerk's
screens (accounts/counter.py: the phone's code, the activation code, its SMS through the
outbox) and the citizen's activation over HTTP (flows/register/activate.py): reference and
code from the slip, password, the account verified_by "vnpost" and its registration marked
activated; wrong, unknown, expired, reused and locked codes; the choice page's option; the
account page's "how verified". On SQLite, PostgreSQL, and PostgreSQL + Redis."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from idp.accounts import counter, counter_activation
from idp.platform.db import db
from idp.platform.models import AuditEvent, Citizen, CounterRegistration
from tests.support.account import full_login_from
from tests.support.clock import FrozenClock
from tests.support.messages import assert_message
from tests.support.pages import form_action, hidden
from tests.support.registration import start_create
from tests.support.sms import deliver_outbox, last_code, read

CLERK = SimpleNamespace(id=9001, username="buudien.q1", full_name="Lê Thị Hoa",
                        counter="Bưu cục Sài Gòn, quầy 3")
NGOC = {"full_name": "Trần Thị Bích Ngọc", "id_number": "066192018305",
        "birth_date": "1992-11-02", "gender": "female", "phone": "0352718406",
        "email": "", "id_checked": "on", "not_official": "on"}
PHONE = "+84352718406"
PASSWORD = "doi-thong-xanh-ngat-tren-nui-2025"


def html(r) -> str:
    return r.get_data(as_text=True)


def post(client, page, **data):
    text = html(page)
    return client.post(form_action(text), data={"csrf_token": hidden(text, "csrf_token"),
                                                **data})


def issue(app, form=None) -> tuple[str, str]:
    """The clerk's part through accounts/counter.py: (reference, activation code)."""
    with app.test_request_context():
        person, errors = counter.validate(form or NGOC)
        assert not errors, errors
        row = counter.start(person, CLERK)
        issued = counter.check_phone_code(row, last_code(app, PHONE))
        return row.reference, issued.code


def registration(app, reference: str) -> CounterRegistration:
    with app.app_context():
        return db.session.scalar(select(CounterRegistration).where(
            CounterRegistration.reference == reference))


def open_activation(client, reference: str | None = None):
    r = client.get("/register/activate" + (f"?ref={reference}" if reference else ""))
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    return client.get(r.headers["Location"])


def enter_code(client, page, reference, code):
    return post(client, page, reference=reference, code=code, action="check")


def activate(app, client, reference, code, password=PASSWORD):
    page = open_activation(client, reference)
    assert f'value="{reference}"' in html(page)  # prefilled from the QR link
    r = enter_code(client, page, reference, counter.group(code))
    assert r.status_code == 303, html(r)[:800]
    page = client.get(r.headers["Location"])
    assert 'name="password"' in html(page)
    r = post(client, page, password=password, password_confirm=password, action="save")
    assert r.status_code == 303, html(r)[:800]
    return client.get(r.headers["Location"])


# --------------------------------------------------------------------------- the clerk's rules

def test_the_activation_code_goes_by_sms_through_the_outbox_with_the_state_change(app):
    reference, code = issue(app)
    assert re.fullmatch(r"[0-9]{10}", code)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{8}", reference)
    row = registration(app, reference)
    assert row.state == "issued" and row.phone_code_hash is None
    assert code not in (row.activation_code_hash or "")  # stored as a keyed digest
    before = [m["text"] for m in read(app) if m["to"] == PHONE]
    assert not any(counter.group(code) in t for t in before)  # only in the outbox table yet
    deliver_outbox(app)
    texts = [m["text"] for m in read(app) if m["to"] == PHONE]
    assert any(counter.group(code) in t and reference in t for t in texts)


def test_a_wrong_phone_code_is_counted_then_burned_and_a_resend_works(app, monkeypatch):
    with app.test_request_context():
        person, _ = counter.validate(NGOC)
        row = counter.start(person, CLERK)
        right = last_code(app, PHONE)
        wrong = "000000" if right != "000000" else "111111"
        for _ in range(4):
            with pytest.raises(counter.CounterRefused) as exc:
                counter.check_phone_code(row, wrong)
            assert exc.value.reason == "wrong"
        with pytest.raises(counter.CounterRefused) as exc:
            counter.check_phone_code(row, wrong)
        assert exc.value.reason == "burned"
        with pytest.raises(counter.CounterRefused) as exc:
            counter.check_phone_code(row, right)  # burned: even the right code
        db.session.refresh(row)
        assert exc.value.reason == "expired" and row.state == "phone_pending"
        with pytest.raises(counter.CounterRefused) as exc:
            counter.send_phone_code(row, CLERK)
        assert exc.value.reason == "cooldown"
        clock = FrozenClock().install(monkeypatch, counter)
        clock.advance(61)
        counter.send_phone_code(row, CLERK)
        issued = counter.check_phone_code(row, last_code(app, PHONE))
        assert issued.registration.state == "issued"


def test_an_expired_phone_code_is_refused(app, monkeypatch):
    with app.test_request_context():
        person, _ = counter.validate(NGOC)
        row = counter.start(person, CLERK)
        clock = FrozenClock().install(monkeypatch, counter)
        clock.advance(app.config["IDP"]["otp_ttl"] + 1)
        with pytest.raises(counter.CounterRefused) as exc:
            counter.check_phone_code(row, last_code(app, PHONE))
        assert exc.value.reason == "expired"


def test_a_new_registration_of_the_same_id_number_cancels_the_earlier(app, client):
    first_ref, first_code = issue(app)
    second_ref, second_code = issue(app)
    assert registration(app, first_ref).state == "cancelled"
    page = open_activation(client)
    r = enter_code(client, page, first_ref, first_code)
    assert r.status_code == 410
    assert_message(r, "counter.activation_cancelled")
    page = activate(app, client, second_ref, second_code)
    assert_message(page, "counter.activated")


def test_the_form_needs_the_declarations_and_valid_fields(app):
    with app.test_request_context():
        person, errors = counter.validate({**NGOC, "id_checked": "", "not_official": "",
                                           "phone": "0281234567", "birth_date": ""})
        assert {"id_checked", "not_official", "phone", "birth_date"} <= set(errors)
        assert errors["not_official"].id == "counter.not_official_required"
        assert errors["birth_date"].id == "register.birth_date_required"


def test_an_id_number_with_an_account_is_refused_before_any_sms(app):
    with app.test_request_context():
        person, errors = counter.validate({**NGOC, "id_number": "066089001234",
                                           "full_name": "Nguyễn Văn An", "gender": "male",
                                           "birth_date": "1989-03-15"})
        assert not errors, errors
        with pytest.raises(counter.CounterRefused) as exc:
            counter.start(person, CLERK)
        assert exc.value.reason == "account_exists" and exc.value.field == "id_number"
        assert db.session.scalar(select(CounterRegistration.id)) is None
    assert not read(app)


# --------------------------------------------------------------------------- the citizen

def test_the_citizen_activates_logs_in_and_the_account_says_where(app, client):
    reference, code = issue(app)
    page = activate(app, client, reference, code)
    assert_message(page, "counter.activated")
    assert "Bưu cục Sài Gòn, quầy 3" in html(page) and "066192018305" not in html(page)
    with app.app_context():
        citizen = db.session.scalar(select(Citizen).where(Citizen.id_number == NGOC["id_number"]))
        assert (citizen.verified_by, citizen.ial, citizen.phone) == ("vnpost", "IAL2", PHONE)
        row = registration(app, reference)
        assert row.state == "activated" and row.citizen_id == citizen.id
        created = db.session.scalar(select(AuditEvent).where(
            AuditEvent.event == "register.created", AuditEvent.citizen_id == citizen.id))
        assert '"method": "vnpost"' in created.detail_json
    r = post(client, page, action="login")
    assert r.status_code == 303 and r.headers["Location"] == "/account/"
    person = SimpleNamespace(id_number=NGOC["id_number"], password=PASSWORD, phone=PHONE)
    r = full_login_from(app, client, client.get("/account/"), person)
    account = client.get("/account/")
    assert account.status_code == 200
    assert "Bưu điện Việt Nam — tại Bưu cục Sài Gòn, quầy 3, cán bộ Lê Thị Hoa" in html(account)


def test_reuse_in_a_fresh_browser_is_refused(app, client):
    reference, code = issue(app)
    activate(app, client, reference, code)
    other = app.test_client()
    r = enter_code(other, open_activation(other), reference, code)
    assert r.status_code == 409
    assert_message(r, "counter.activation_used")


def test_a_wrong_code_and_an_unknown_reference_get_the_same_answer(app, client):
    reference, code = issue(app)
    wrong = str((int(code) + 1) % 10 ** 10).zfill(10)
    page = open_activation(client)
    r1 = enter_code(client, page, reference, wrong)
    r2 = enter_code(client, page, "ZZZZZZZZ" if reference != "ZZZZZZZZ" else "YYYYYYYY", code)
    for r in (r1, r2):
        assert r.status_code == 400
        assert_message(r, "counter.activation_wrong")
    r = enter_code(client, page, "", "")
    assert_message(r, "counter.activation_required")
    assert registration(app, reference).activation_attempts == 1


def test_too_many_wrong_codes_lock_the_registration_and_an_unknown_reference(app, client):
    reference, code = issue(app)
    wrong = str((int(code) + 1) % 10 ** 10).zfill(10)
    page = open_activation(client)
    for _ in range(5):
        assert enter_code(client, page, reference, wrong).status_code == 400
        assert enter_code(client, page, "ZZZZ-ZZZZ", wrong).status_code == 400
    for ref in (reference, "ZZZZZZZZ"):
        r = enter_code(client, page, ref, code)  # even the right code
        assert r.status_code == 429
        assert_message(r, "counter.activation_locked")
    assert registration(app, reference).activation_attempts == 5


def test_an_expired_activation_code_is_refused(app, client, monkeypatch):
    reference, code = issue(app)
    clock = FrozenClock().install(monkeypatch, counter_activation)
    clock.advance(app.config["IDP"]["counter_activation_ttl"] + 1)
    r = enter_code(client, open_activation(client), reference, code)
    assert r.status_code == 410
    assert_message(r, "counter.activation_expired")
    assert registration(app, reference).state == "expired"


def test_expiry_between_the_code_and_the_password_creates_nothing(app, client, monkeypatch):
    reference, code = issue(app)
    page = open_activation(client, reference)
    r = enter_code(client, page, reference, code)
    page = client.get(r.headers["Location"])
    clock = FrozenClock().install(monkeypatch, counter_activation)
    clock.advance(app.config["IDP"]["counter_activation_ttl"] + 1)
    r = post(client, page, password=PASSWORD, password_confirm=PASSWORD, action="save")
    assert r.status_code == 303
    page = client.get(r.headers["Location"])
    assert_message(page, "counter.activation_gone")
    with app.app_context():
        assert db.session.scalar(select(Citizen).where(
            Citizen.id_number == NGOC["id_number"])) is None


def test_a_weak_password_is_a_field_error(app, client):
    reference, code = issue(app)
    page = open_activation(client, reference)
    page = client.get(enter_code(client, page, reference, code).headers["Location"])
    r = post(client, page, password="12345678", password_confirm="12345678", action="save")
    assert r.status_code == 400 and 'aria-invalid="true"' in html(r)
    assert registration(app, reference).state == "issued"


def test_the_choice_page_offers_vnpost_and_hands_over_to_the_activation(app, client):
    page = start_create(client)
    assert 'value="vnpost"' in html(page)
    r = post(client, page, account_type="citizen", method="vnpost", action="choose")
    assert r.status_code == 303, html(r)[:500]
    page = client.get(r.headers["Location"])
    assert "không dành cho CBCCVC" in html(page)
    r = post(client, page, action="activate")
    assert r.status_code == 303
    flow = r.headers["Location"]
    page = client.get(flow)
    assert 'name="reference"' in html(page) and 'name="code"' in html(page)
    reference, code = issue(app)
    r = enter_code(client, page, reference, code)
    page = client.get(r.headers["Location"])
    r = post(client, page, password=PASSWORD, password_confirm=PASSWORD, action="save")
    done = client.get(r.headers["Location"])
    assert_message(done, "counter.activated")
    r = post(client, done, action="login")  # the portal's authorization goes on: the login
    assert r.status_code == 303 and "/authorize/resume/" in r.headers["Location"]
    r = client.get(r.headers["Location"])
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    assert 'name="password"' in html(client.get(r.headers["Location"]))
