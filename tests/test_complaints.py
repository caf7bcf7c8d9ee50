"""Complaint path (seed §1 step 4, issue 12 item 4): after registration proved the phone (SMS
code) and the carrier's registration of it to an ID number that already has an account, the
page offers "Quên mật khẩu" and "Khiếu nại: tài khoản này không phải của tôi"; the complaint is
recorded with its flag and notices in one transaction, the account is not locked, and
operators work complaints with `idp complaints list|show|resolve`."""
from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest
from click.testing import CliRunner
from flask_migrate import stamp
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from idp.accounts import complaints
from idp.cli import main
from idp.flows.register.person import complaint_data as start_data
from idp.platform.crypto import verify_password
from idp.platform.db import db
from idp.platform.models import (
    AuditEvent,
    AuthMethod,
    Citizen,
    Complaint,
    OutboxMessage,
    RecoveryCode,
    SsoSession,
    Token,
)
from tests.support import (
    CITIZEN,
    CITIZEN2,
    auth_params,
    authorize,
    follow_to_login,
    login_and_get_code,
    login_form_submit,
    pkce_pair,
    token_request,
)
from tests.support.registration import app, html, post, registry, sent, to_code, verify  # noqa: F401

# The demo registry of test_register: 0905613728 is registered to CITIZEN's ID number, whose
# account has another phone (+84941234947).
CLAIMANT = dict(phone="0905613728", full_name=CITIZEN.full_name, id_number=CITIZEN.id_number,
                birth_date=CITIZEN.birth_date, gender="male")
CLAIMANT_E164 = "+84905613728"
DESCRIPTION = "Tôi chưa từng đăng ký tài khoản này và không biết số điện thoại của tài khoản."


def to_exists(app, client):
    page = verify(app, client, to_code(client, **CLAIMANT), CLAIMANT_E164)
    assert 'data-msg="register.account_exists"' in html(page), html(page)[:800]
    return page


def to_complaint_form(app, client):
    page = to_exists(app, client)
    r = post(client, page, action="complain")
    assert r.status_code == 303, html(r)[:800]
    form = client.get(r.headers["Location"])
    assert 'name="description"' in html(form)
    return form


def file_complaint(client, form, description=DESCRIPTION, email="an.claimant@example.vn"):
    return post(client, form, action="file", description=description, email=email)


def owner(app) -> Citizen:
    with app.app_context():
        return db.session.scalar(select(Citizen).where(Citizen.id_number == CITIZEN.id_number))


def complaint_rows(app) -> list[Complaint]:
    with app.app_context():
        return list(db.session.scalars(select(Complaint).order_by(Complaint.id)))


def outbox_rows(app, purpose_prefix: str) -> list[OutboxMessage]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose.like(purpose_prefix + "%")).order_by(OutboxMessage.id)))


def audit_events(app, prefix: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(
            AuditEvent.event.like(prefix + "%")).order_by(AuditEvent.id)))


# --------------------------------------------------------------------------- the citizen

def test_existing_account_offers_both_and_the_complaint_is_recorded(app, client):
    page = to_exists(app, client)
    text = html(page)
    assert 'value="forgot"' in text and "Quên mật khẩu" in text
    assert 'value="complain"' in text
    assert "Khiếu nại: tài khoản này không phải của tôi" in text

    r = post(client, page, action="complain")
    assert r.status_code == 303
    form = client.get(r.headers["Location"])
    body = html(form)
    assert form.status_code == 200 and "<h1>Khiếu nại: tài khoản này không phải của tôi" in body
    assert "0905613728" in body  # the contact number is the one the code proved
    assert 'name="csrf_token"' in body and 'name="email"' in body

    # No CSRF token: refused, nothing recorded.
    bad = client.post(r.headers["Location"], data={"action": "file",
                                                   "description": DESCRIPTION})
    assert bad.status_code == 400 and complaint_rows(app) == []
    # The description is required; the typed e-mail is kept.
    r = file_complaint(client, form, description="   ", email="x@example.vn")
    assert r.status_code == 400 and 'id="description-error"' in html(r)
    assert 'value="x@example.vn"' in html(r)
    r = file_complaint(client, form, email="not an e-mail")
    assert r.status_code == 400 and 'id="email-error"' in html(r)
    assert complaint_rows(app) == []

    before = time.time()
    r = file_complaint(client, form)
    assert r.status_code == 303
    done = client.get(r.headers["Location"])
    assert 'data-msg="complaint.filed"' in html(done)
    reference = re.search(r'data-testid="complaint-reference">(KN-[0-9A-Z]{8})<',
                          html(done)).group(1)

    [row] = complaint_rows(app)
    account = owner(app)
    assert row.reference == reference and row.status == "open" and row.outcome is None
    assert (row.citizen_id, row.id_number) == (account.id, CITIZEN.id_number)
    assert row.phone == CLAIMANT_E164 and row.email == "an.claimant@example.vn"
    assert (row.full_name, row.birth_date) == (CITIZEN.full_name, CITIZEN.birth_date)
    assert row.description == DESCRIPTION and row.created_at >= before
    # Flagged, not locked.
    assert account.disputed_at is not None and account.status == "active"
    # Notices through the outbox: the account's phone and the complainant's acknowledgement.
    filed = outbox_rows(app, "notify:complaint_filed")
    received = outbox_rows(app, "notify:complaint_received")
    assert [m.citizen_id for m in filed] == [account.id] and len(received) == 1
    messages = sent(app)
    to_owner = [m for m in messages if m["to"] == CITIZEN.phone and reference in m["text"]]
    to_claimant = [m for m in messages if m["to"] == CLAIMANT_E164 and reference in m["text"]]
    assert len(to_owner) == 1 and "khieu nai" in to_owner[0]["text"]
    assert len(to_claimant) == 1 and "Da tiep nhan" in to_claimant[0]["text"]
    for m in to_owner + to_claimant:
        assert m["text"].isascii() and len(m["text"]) <= 160
        assert CITIZEN.id_number not in m["text"]
    # Audited, masked.
    [filed_event] = audit_events(app, "complaint.filed")
    assert filed_event.citizen_id == account.id
    assert CITIZEN.id_number not in filed_event.detail_json
    assert "0905613728" not in filed_event.detail_json and "905613728" not in \
        filed_event.detail_json

    # "Về trang đăng nhập": the authorization resumes at the login page.
    r = post(client, done, action="continue")
    assert r.status_code == 303
    # The account still signs in: a complaint is no lock.
    q = login_and_get_code(app.test_client(), auth_params(challenge=pkce_pair()[1]))
    assert "code" in q


def test_the_complaint_option_needs_the_proof_of_the_id_number(app, client):
    # A phone used by another account: no complaint offered, and a hand-made POST is refused.
    page = verify(app, client, to_code(client, phone="0912345678", full_name="Đỗ Thị Mai",
                                       id_number="079195004444", birth_date="1995-06-01"),
                  "+84912345678")
    assert 'data-msg="register.phone_taken"' in html(page) and 'value="complain"' not in html(page)
    r = post(client, page, action="complain")
    assert r.status_code == 403 and complaint_rows(app) == []
    assert 'data-msg="register.session_invalid"' in html(r)
    # Only a registration flow that proved possession and ownership hands over its person.
    proven = {"possession": True, "ownership": True, "reason": "id_number",
              "person": {"id_number": CITIZEN.id_number, "full_name": CITIZEN.full_name,
                         "birth_date": CITIZEN.birth_date, "phone": CLAIMANT_E164,
                         "gender": "male"}}
    assert start_data(proven)["person"]["phone"] == CLAIMANT_E164
    for missing in ({"possession": False}, {"ownership": False}, {"reason": "phone"},
                    {"reason": None}):
        assert start_data({**proven, **missing}) is None


def test_before_the_code_nothing_differs_from_a_new_id_number(app, client):
    """The complaint adds nothing before the proof: the code step of an ID number with an
    account offers no complaint, and its "complain" button does nothing special."""
    page = to_code(client, **CLAIMANT)
    assert 'value="complain"' not in html(page)
    r = post(client, page, action="complain")  # treated as a code submission without a code
    assert r.status_code == 400 and complaint_rows(app) == []
    assert owner(app).disputed_at is None


def test_complaint_flag_and_notices_are_one_transaction(app, client):
    form = to_complaint_form(app, client)

    def broken(session, context, instances):
        if any(isinstance(o, OutboxMessage) and o.purpose == "notify:complaint_filed"
               for o in session.new):  # after the complaint row and the flag were flushed
            raise OperationalError("INSERT", {}, Exception("disk full"))
    event.listen(Session, "before_flush", broken)
    try:
        r = file_complaint(client, form)
    finally:
        event.remove(Session, "before_flush", broken)
    assert r.status_code == 503 and 'data-msg="complaint.failed"' in html(r)
    assert complaint_rows(app) == [] and owner(app).disputed_at is None
    assert outbox_rows(app, "notify:complaint") == []
    # The same form works once the database does.
    r = file_complaint(client, r)
    assert r.status_code == 303 and len(complaint_rows(app)) == 1
    assert owner(app).disputed_at is not None
    assert len(outbox_rows(app, "notify:complaint_filed")) == 1


def test_a_second_complaint_from_the_same_phone_returns_the_first(app, client):
    r = file_complaint(client, to_complaint_form(app, client))
    first = complaint_rows(app)[0].reference
    sent(app)  # the acknowledgement goes out before the next registration code
    other = app.test_client()
    r = file_complaint(other, to_complaint_form(app, other))
    assert r.status_code == 303
    assert first in html(other.get(r.headers["Location"]))
    assert len(complaint_rows(app)) == 1
    assert len(outbox_rows(app, "notify:complaint_filed")) == 1
    assert len(audit_events(app, "complaint.repeated")) == 1


def test_a_double_submit_files_one_complaint(app, client):
    form = to_complaint_form(app, client)
    first = file_complaint(client, form)
    again = file_complaint(client, form)  # the same page posted twice
    assert first.status_code == 303 and again.status_code in (303, 409)
    assert len(complaint_rows(app)) == 1


# --------------------------------------------------------------------------- operators

@pytest.fixture
def cli(app):
    """`idp complaints ...` in-process against the test app (schema by create_all, stamped
    as the migration head so the CLI accepts it)."""
    with app.app_context():
        stamp()

    def run(*args, ok=True):
        with app.app_context():
            result = CliRunner().invoke(main, ["complaints", *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return run


def one_line_error(result, status=1) -> str:
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def file_direct(app, phone=CLAIMANT_E164, email=None) -> Complaint:
    with app.app_context():
        complaint, created = complaints.file(
            id_number=CITIZEN.id_number, phone=phone, full_name=CITIZEN.full_name,
            birth_date=CITIZEN.birth_date, description=DESCRIPTION, email=email)
        assert created
        db.session.expunge(complaint)
        return complaint


def sms_to(app, phone: str) -> list[str]:
    return [m["text"] for m in sent(app) if m["to"] == phone]


def test_list_and_show_mask_personal_data(app, client, cli):
    c = file_direct(app, email="an.claimant@example.vn")
    out = cli("list").output
    assert c.reference in out and "open" in out
    assert CITIZEN.id_number not in out and "0905613728" not in out
    assert "066xxxxxx234" in out and "0905xxx728" in out
    assert "disputed" in out
    assert len(cli("list", "--status", "resolved").output.strip().splitlines()) == 1
    assert c.reference in cli("list", "--status", "all").output

    shown = cli("show", str(c.id), "--operator", "Lê Văn Tám").output
    assert c.reference in shown and "open" in shown and DESCRIPTION in shown
    assert CITIZEN.id_number not in shown and "0905613728" not in shown
    assert "an.claimant" not in shown and "0941xxx947" in shown
    full = cli("show", c.reference.lower(), "--full", "--operator", "Lê Văn Tám").output
    assert CITIZEN.id_number in full and "0905613728" in full
    assert "an.claimant@example.vn" in full and CITIZEN.full_name in full
    viewed = audit_events(app, "complaint.viewed")
    assert [json.loads(e.detail_json)["unmasked"] for e in viewed] == [False, True]
    assert audit_events(app, "complaint.listed")


def test_owner_confirmed_clears_the_flag_and_tells_both(app, cli):
    c = file_direct(app)
    sent(app)  # deliver the filing notices
    out = cli("resolve", str(c.id), "--outcome", "owner_confirmed", "--note",
              "Chủ tài khoản xuất trình CCCD bản gốc tại UBND phường Tân Lợi",
              "--operator", "Lê Văn Tám").output
    assert f"complaint {c.id} ({c.reference}): resolved, owner_confirmed" in out
    [row] = complaint_rows(app)
    assert (row.status, row.outcome, row.resolved_by) == ("resolved", "owner_confirmed",
                                                          "Lê Văn Tám")
    assert row.resolved_at and "Tân Lợi" in row.note
    account = owner(app)
    assert account.disputed_at is None and account.status == "active"
    assert any(c.reference in t and "xac nhan" in t for t in sms_to(app, CLAIMANT_E164))
    assert any("khong thay doi" in t for t in sms_to(app, CITIZEN.phone))
    [resolved] = audit_events(app, "complaint.resolved")
    detail = json.loads(resolved.detail_json)
    assert detail["outcome"] == "owner_confirmed" and detail["operator"] == "Lê Văn Tám"
    assert "0905613728" not in resolved.detail_json


def test_rejected_keeps_the_account_and_the_flag_waits_for_every_open_complaint(app, cli):
    first = file_direct(app)
    second = file_direct(app, phone="+84912000111")
    cli("resolve", first.reference, "--outcome", "rejected", "--note", "Không đến xác minh")
    assert owner(app).disputed_at is not None  # the second one is still open
    cli("resolve", str(second.id), "--outcome", "rejected", "--note", "Trùng lặp")
    assert owner(app).disputed_at is None and owner(app).status == "active"
    assert {r.outcome for r in complaint_rows(app)} == {"rejected"}


def test_account_disabled_ends_the_sessions_and_the_login(app, client, cli):
    verifier, challenge = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=challenge))
    assert token_request(client, q["code"], verifier).status_code == 200
    c = file_direct(app)
    cli("resolve", str(c.id), "--outcome", "account_disabled", "--note",
        "Chủ CCCD xác minh tại bộ phận một cửa; tài khoản do người khác lập")
    account = owner(app)
    assert account.status == "disabled" and account.disputed_at is None
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SsoSession).where(
            SsoSession.citizen_id == account.id, SsoSession.revoked_at.is_(None))) == 0
        assert db.session.scalar(select(func.count()).select_from(Token).where(
            Token.citizen_id == account.id, Token.revoked_at.is_(None))) == 0
    # The browser's session is gone and the password no longer signs in.
    other = app.test_client()
    page = follow_to_login(other, authorize(other, auth_params(challenge=pkce_pair()[1])))
    r = login_form_submit(other, html(page), CITIZEN.id_number, CITIZEN.password)
    assert r.status_code == 403 and "bị khóa" in html(r)
    assert any("vo hieu hoa" in t for t in sms_to(app, CITIZEN.phone))
    detail = json.loads(audit_events(app, "complaint.resolved")[0].detail_json)
    assert detail["sessions"] >= 1


def test_transferred_gives_the_account_to_the_proven_phone(app, client, cli):
    verifier, challenge = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=challenge))
    assert token_request(client, q["code"], verifier).status_code == 200
    account = owner(app)
    with app.app_context():
        db.session.add_all([
            AuthMethod(citizen_id=account.id, kind="sms", phone=CITIZEN.phone,
                       is_default=True),
            AuthMethod(citizen_id=account.id, kind="totp", secret_enc=b"x" * 40),
            RecoveryCode(citizen_id=account.id, code_hash="a" * 64)])
        db.session.commit()
    c = file_direct(app, email="that.is.me@example.vn")
    out = cli("resolve", c.reference, "--outcome", "transferred", "--note",
              "Người khiếu nại xuất trình CCCD bản gốc; số 0905613728 chính chủ").output
    assert "transferred" in out and "Quên mật khẩu" in out
    account = owner(app)
    assert account.status == "active" and account.disputed_at is None
    assert account.phone == CLAIMANT_E164 and account.email == "that.is.me@example.vn"
    assert account.sub == owner(app).sub  # same subject for the portals
    assert not verify_password(account.password_hash, CITIZEN.password)
    with app.app_context():
        methods = list(db.session.scalars(select(AuthMethod).where(
            AuthMethod.citizen_id == account.id)))
        assert [(m.kind, m.phone, m.is_default) for m in methods] == [
            ("sms", CLAIMANT_E164, True)]
        assert db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.citizen_id == account.id)) == 0
        assert db.session.scalar(select(func.count()).select_from(SsoSession).where(
            SsoSession.citizen_id == account.id, SsoSession.revoked_at.is_(None))) == 0
    assert any("Quen mat khau" in t for t in sms_to(app, CLAIMANT_E164))
    assert any("go khoi" in t for t in sms_to(app, CITIZEN.phone))
    # The complainant sets a password with "Quên mật khẩu": the code goes to the new phone.
    from tests.support.recovery import NEW_PASSWORD, reset
    reset(app, app.test_client(), person=dataclasses.replace(CITIZEN, phone=CLAIMANT_E164))
    assert verify_password(owner(app).password_hash, NEW_PASSWORD)


def test_transferred_is_refused_when_the_phone_belongs_to_another_account(app, cli):
    c = file_direct(app, phone=CITIZEN2.phone)
    line = one_line_error(cli("resolve", str(c.id), "--outcome", "transferred", "--note",
                              "x", ok=False))
    assert "another account" in line and CITIZEN2.phone not in line
    assert complaint_rows(app)[0].status == "open"


def test_operator_errors_are_one_line(app, cli):
    c = file_direct(app)
    assert "no complaint 999" in one_line_error(cli("show", "999", ok=False))
    assert "no complaint" in one_line_error(cli("show", "KN-22222222", ok=False))
    one_line_error(cli("show", "12;drop", ok=False), status=2)
    one_line_error(cli("list", "--status", "closed", ok=False), status=2)
    one_line_error(cli("resolve", str(c.id), "--outcome", "deleted", "--note", "x",
                       ok=False), status=2)
    one_line_error(cli("resolve", str(c.id), "--outcome", "rejected", ok=False), status=2)
    one_line_error(cli("resolve", "--outcome", "rejected", "--note", "x", ok=False), status=2)
    one_line_error(cli("resolve", str(c.id), "--bogus", ok=False), status=2)
    assert "--note" in one_line_error(cli("resolve", str(c.id), "--outcome", "rejected",
                                          "--note", "   ", ok=False))
    cli("resolve", str(c.id), "--outcome", "rejected", "--note", "Không đến xác minh")
    assert "already resolved" in one_line_error(
        cli("resolve", str(c.id), "--outcome", "owner_confirmed", "--note", "x", ok=False))
    assert complaint_rows(app)[0].outcome == "rejected"
