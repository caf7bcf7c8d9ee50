"""Lost phone ("Mất số điện thoại nhận OTP"): the page, the request recorded online (the same
answer with or without an account), and the operator's `idp recovery list|approve|reject`
after identity proofing at a service counter. Never a login without a second factor."""
from __future__ import annotations

import json
import re
import time

import pytest
from click.testing import CliRunner
from flask_migrate import stamp
from sqlalchemy import select

from idp.accounts import recovery
from idp.cli import main
from idp.platform.db import db
from idp.platform.models import AuthMethod, Citizen, RecoveryRequest, SsoSession, Token
from tests.support import (
    CITIZEN,
    auth_params,
    authorize,
    basic,
    deliver_outbox,
    follow_to_login,
    form_action,
    hidden,
    last_code,
    login_and_get_code,
    login_form_submit,
    pkce_pair,
    query,
    token_request,
)

UNKNOWN = "079199000123"
NEW_PHONE = "0987654321"
NEW_E164 = "+84987654321"
SECOND_PHONE = "+84912345001"


def html(response) -> str:
    return response.get_data(as_text=True)


def all_sms(app) -> list[dict]:
    deliver_outbox(app)  # what a worker would have sent by now (idp/outbox.py)
    path = app.extensions["idp.sms"].path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def sms(app):
    start = len(all_sms(app))

    def sent(phone: str | None = None) -> list[str]:
        return [m["text"] for m in all_sms(app)[start:] if phone in (None, m["to"])]
    return sent


def submit_request(client, id_number=CITIZEN.id_number, phone=NEW_PHONE, answer=None,
                   page=None):
    page = page or client.get("/lost-phone")
    text = html(page)
    captcha_id = hidden(text, "captcha_id")
    if answer is None:
        answer = html(client.get(f"/_test/captcha/{captcha_id}"))
    r = client.post(form_action(text), data={
        "csrf_token": hidden(text, "csrf_token"), "captcha_id": captcha_id, "captcha": answer,
        "id_number": id_number, "phone": phone, "action": "request"})
    deliver_outbox(client.application)  # the notices, as a worker sends them (idp/outbox.py)
    return r


def requests_of(app, status=None) -> list[RecoveryRequest]:
    with app.app_context():
        query = select(RecoveryRequest).order_by(RecoveryRequest.id)
        if status:
            query = query.where(RecoveryRequest.status == status)
        rows = list(db.session.scalars(query))
        for row in rows:
            db.session.expunge(row)
        return rows


def citizen_row(app) -> Citizen:
    with app.app_context():
        row = db.session.scalar(select(Citizen).where(Citizen.id_number == CITIZEN.id_number))
        db.session.expunge(row)
        return row


def comparable(text: str) -> str:
    text = re.sub(r'name="(csrf_token|captcha_id)" value="[^"]*"', r'name="\1"', text)
    text = re.sub(r"/captcha/[A-Za-z0-9_-]+\.(png|wav)", r"/captcha/ID.\1", text)
    for number in (CITIZEN.id_number, UNKNOWN):
        text = text.replace(f'value="{number}"', 'value="NUMBER"')
    return text


# --------------------------------------------------------------------------- the page

def test_the_otp_page_links_to_the_lost_phone_page(app, client):
    page = follow_to_login(client, authorize(client, auth_params(
        challenge=pkce_pair()[1], acr_values="LoA2")))
    r = login_form_submit(client, html(page), CITIZEN.id_number, CITIZEN.password)
    otp_page = html(client.get(r.headers["Location"]))
    assert 'href="/lost-phone?flow=' in otp_page and "Mất số điện thoại nhận OTP" in otp_page


def test_the_page_explains_both_ways_and_has_an_accessible_form(app, client):
    page = client.get("/lost-phone")
    text = html(page)
    assert page.status_code == 200
    assert "Mã khôi phục dự phòng" in text and "Chọn phương thức xác thực khác" in text
    assert "Bộ phận tiếp nhận và trả kết quả" in text and "Căn cước" in text
    for name in ("id_number", "phone", "captcha"):
        assert re.search(rf'<label for="{name}">', text), name
    assert 'name="captcha_id"' in text and 'name="csrf_token"' in text
    assert "<script>" not in text and "style=" not in text


def test_the_page_links_back_to_the_second_factor_step_of_this_browser(app, client):
    page = follow_to_login(client, authorize(client, auth_params(
        challenge=pkce_pair()[1], acr_values="LoA2")))
    r = login_form_submit(client, html(page), CITIZEN.id_number, CITIZEN.password)
    flow_url = r.headers["Location"]
    flow_id = flow_url.rsplit("/", 1)[1]
    assert f'href="{flow_url}"' in html(client.get(f"/lost-phone?flow={flow_id}"))
    assert f'href="{flow_url}"' not in html(app.test_client().get(f"/lost-phone?flow={flow_id}"))


# --------------------------------------------------------------------------- the request

def test_a_request_is_answered_alike_and_recorded_only_for_an_account(app, sms):
    answers = {}
    for number in (CITIZEN.id_number, UNKNOWN):
        client = app.test_client()
        r = submit_request(client, number)
        assert r.status_code == 303 and r.headers["Location"] == "/lost-phone/sent"
        page = client.get(r.headers["Location"])
        answers[number] = (page.status_code, html(page))
    assert answers[CITIZEN.id_number] == answers[UNKNOWN]
    assert "Bộ phận tiếp nhận và trả kết quả" in answers[UNKNOWN][1]
    rows = requests_of(app)
    assert len(rows) == 1 and rows[0].status == "pending" and rows[0].new_phone == NEW_E164
    assert rows[0].citizen_id == citizen_row(app).id
    # The owner's phone is told; nothing goes to the number typed in.
    assert sms(CITIZEN.phone) == [recovery.REQUEST_NOTICE] and sms(NEW_E164) == []
    # Nothing changed on the account until an operator approves.
    assert citizen_row(app).phone == CITIZEN.phone


@pytest.mark.parametrize("phone", ["02838123456", "+33612345678", "0123", "19001234"])
def test_the_new_phone_must_be_a_vietnamese_mobile(app, client, phone):
    r = submit_request(client, phone=phone)
    assert r.status_code == 400 and 'id="phone-error"' in html(r)
    assert requests_of(app) == []


def test_the_captcha_is_required_and_single_use(app, client, sms):
    page = client.get("/lost-phone")
    captcha_id = hidden(html(page), "captcha_id")
    right = html(client.get(f"/_test/captcha/{captcha_id}"))
    r = submit_request(client, answer="", page=page)
    assert r.status_code == 400 and 'id="captcha-error"' in html(r)
    text = html(r)
    r = client.post("/lost-phone", data={
        "csrf_token": hidden(text, "csrf_token"), "captcha_id": captcha_id, "captcha": right,
        "id_number": CITIZEN.id_number, "phone": NEW_PHONE})
    assert r.status_code == 400 and 'id="captcha-error"' in html(r)
    assert requests_of(app) == [] and sms() == []


def test_the_daily_limit_per_id_number_is_the_same_with_or_without_an_account(app):
    answers = {}
    for number in (CITIZEN.id_number, UNKNOWN):
        client = app.test_client()
        for _ in range(3):
            assert submit_request(client, number).status_code == 303
        r = submit_request(client, number)
        answers[number] = (r.status_code, comparable(html(r)))
    assert answers[CITIZEN.id_number] == answers[UNKNOWN] and answers[UNKNOWN][0] == 429
    assert len(requests_of(app)) == 3


def test_a_pending_request_gives_no_way_around_the_second_factor(app, client, sms):
    submit_request(app.test_client())
    page = follow_to_login(client, authorize(client, auth_params(
        challenge=pkce_pair()[1], acr_values="LoA2")))
    r = login_form_submit(client, html(page), CITIZEN.id_number, CITIZEN.password)
    otp_page = client.get(r.headers["Location"])
    assert 'name="otp"' in html(otp_page) and "0941xxx947" in html(otp_page)
    assert "dang nhap" in sms(CITIZEN.phone)[-1] and sms(NEW_E164) == []
    r = client.post(form_action(html(otp_page)), data={
        "csrf_token": hidden(html(otp_page), "csrf_token"), "otp": "", "action": "verify"})
    assert r.status_code == 400


# --------------------------------------------------------------------------- operator CLI

@pytest.fixture
def cli(app):
    """`idp ...` in-process against the test app (its schema made by create_all, stamped as
    the migration head so the CLI accepts it)."""
    with app.app_context():
        stamp()

    def run(*args, ok=True):
        with app.app_context():
            result = CliRunner().invoke(main, ["recovery", *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return run


def one_line_error(result) -> str:
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_list_shows_pending_requests_masked(app, cli):
    submit_request(app.test_client())
    out = cli("list").output
    rid = requests_of(app)[0].id
    assert re.search(rf"^{rid}\s.*pending\s+066xxxxxx234\s+0987xxx321", out, re.M), out
    assert CITIZEN.id_number not in out and "0987654321" not in out
    assert str(rid) in cli("list", "--id-number", CITIZEN.id_number).output
    assert len(cli("list", "--id-number", UNKNOWN).output.strip().splitlines()) == 1
    assert len(cli("list", "--status", "approved").output.strip().splitlines()) == 1


def test_approve_moves_the_account_to_the_new_phone(app, client, cli, sms):
    verifier, challenge = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=challenge,
                                               scope="openid offline_access"))
    tokens = token_request(client, q["code"], verifier).get_json()
    with app.app_context():
        db.session.execute(Citizen.__table__.update().where(
            Citizen.id_number == CITIZEN.id_number).values(
                otp_failures=20, otp_locked_until=time.time() + 3600))
        cid = citizen_row(app).id
        db.session.add_all([AuthMethod(citizen_id=cid, kind="sms", phone=CITIZEN.phone,
                                       is_default=True),
                            AuthMethod(citizen_id=cid, kind="sms", phone=SECOND_PHONE)])
        db.session.commit()
    submit_request(app.test_client())
    rid = requests_of(app)[0].id

    out = cli("approve", str(rid), "--operator", "Lê Văn Tám",
              "--note", "UBND phường Tân Lợi, CCCD bản gốc").output
    assert f"request {rid}: approved" in out
    row = requests_of(app)[0]
    assert (row.status, row.decided_by) == ("approved", "Lê Văn Tám") and row.decided_at
    account = citizen_row(app)
    assert account.phone == NEW_E164 and account.otp_failures == 0
    assert account.otp_locked_until == 0
    with app.app_context():
        methods = list(db.session.scalars(select(AuthMethod).where(
            AuthMethod.citizen_id == account.id, AuthMethod.kind == "sms")))
        assert [(m.phone, m.is_default) for m in methods] == [(NEW_E164, True)]
        assert db.session.scalar(select(SsoSession).where(
            SsoSession.citizen_id == account.id, SsoSession.revoked_at.is_(None))) is None
        assert db.session.scalar(select(Token).where(
            Token.citizen_id == account.id, Token.revoked_at.is_(None))) is None
    assert sms(CITIZEN.phone)[-1] == recovery.APPROVED_OLD
    assert sms(SECOND_PHONE) == [recovery.REQUEST_NOTICE, recovery.APPROVED_OLD]
    assert sms(NEW_E164) == [recovery.APPROVED_NEW]
    for text in (recovery.APPROVED_OLD, recovery.APPROVED_NEW, recovery.REJECTED,
                 recovery.REQUEST_NOTICE):
        assert text.isascii() and len(text) <= 160

    r = client.post("/token", data={"grant_type": "refresh_token",
                                    "refresh_token": tokens["refresh_token"]}, headers=basic())
    assert r.status_code == 400
    # The next LoA2 login: password, then the code goes to the new phone only.
    other = app.test_client()
    page = follow_to_login(other, authorize(other, auth_params(
        challenge=pkce_pair()[1], acr_values="LoA2")))
    r = login_form_submit(other, html(page), CITIZEN.id_number, CITIZEN.password)
    otp_page = other.get(r.headers["Location"])
    assert "0987xxx321" in html(otp_page)
    r = other.post(form_action(html(otp_page)), data={
        "csrf_token": hidden(html(otp_page), "csrf_token"), "otp": last_code(app, NEW_E164),
        "action": "verify"})
    assert r.status_code == 303
    r = other.get(r.headers["Location"])
    assert "code" in query(r.headers["Location"])
    # Decided once.
    assert "not pending" in one_line_error(cli("approve", str(rid), "--operator", "X",
                                               ok=False))


def test_approving_one_request_rejects_the_other_pending_ones(app, cli):
    submit_request(app.test_client(), phone="0987654321")
    submit_request(app.test_client(), phone="0912000111")
    first, second = requests_of(app)
    cli("approve", str(second.id), "--operator", "Tám")
    first = requests_of(app)[0]
    assert first.status == "rejected" and f"request {second.id}" in first.note
    assert citizen_row(app).phone == "+84912000111"


def test_reject_keeps_the_phone_records_the_reason_and_notifies(app, cli, sms):
    submit_request(app.test_client())
    rid = requests_of(app)[0].id
    assert "--note" in one_line_error(cli("reject", str(rid), "--operator", "Tám", ok=False))
    cli("reject", str(rid), "--operator", "Tám", "--note", "Không xuất trình được CCCD")
    row = requests_of(app)[0]
    assert (row.status, row.note) == ("rejected", "Không xuất trình được CCCD")
    assert citizen_row(app).phone == CITIZEN.phone
    assert sms(CITIZEN.phone)[-1] == recovery.REJECTED and sms(NEW_E164) == [recovery.REJECTED]


def test_operator_errors_are_one_line(app, cli):
    submit_request(app.test_client())
    rid = str(requests_of(app)[0].id)
    assert "no recovery request" in one_line_error(cli("approve", "999999", "--operator", "A",
                                                       ok=False))
    assert "must be a number" in one_line_error(cli("approve", "abc", "--operator", "A",
                                                    ok=False))
    assert "--operator" in one_line_error(cli("approve", rid, ok=False))
    assert "--operator" in one_line_error(cli("reject", rid, "--note", "x", ok=False))
    with app.app_context():
        db.session.execute(RecoveryRequest.__table__.update().values(
            created_at=time.time() - 31 * 24 * 3600))
        db.session.commit()
    assert "older than 30 days" in one_line_error(cli("approve", rid, "--operator", "A",
                                                      ok=False))
    assert requests_of(app)[0].status == "pending"
