"""The staff console's screens (issue 17 item 3) over HTTP, on SQLite, PostgreSQL and
PostgreSQL + Redis: a lost-phone request approved after the in-person check (the typed ID
number must be the account's) or rejected; a complaint resolved; a citizen looked up masked,
then in full only with a reason; an administrator changing a role and reading the audit
trail. Every action is in `idp audit list` with staff=<username>; `idp staff` manages the
accounts (bad input: one line)."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask_migrate import stamp

from idp.accounts import citizen_admin, complaints
from idp.accounts import recovery as recovery_ops
from idp.accounts import staff as staff_accounts
from idp.cli import main
from idp.platform.db import db
from idp.platform.models import Citizen, Complaint, RecoveryRequest
from tests.support.account import events
from tests.support.messages import assert_message
from tests.support.pages import hidden
from tests.support.people import CITIZEN
from tests.support.staff import create_staff, sign_in

NEW_PHONE = "+84977123456"
CLAIMANT = "+84905613728"


def html(r) -> str:
    return r.get_data(as_text=True)


def post(client, url, **data):
    page = client.get(url)
    assert page.status_code == 200, html(page)[:500]
    return client.post(url, data={"csrf_token": hidden(html(page), "csrf_token"), **data})


def cli(app, *args, code=0, stdin=None):
    with app.app_context():
        stamp()  # schema by create_all: stamped as the migration head so the CLI accepts it
        result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def audit_lines(app, prefix):
    return cli(app, "audit", "list", "--event", prefix).stdout.splitlines()


@pytest.fixture
def desk(app):
    creds = create_staff(app, "hotro.an", "support", full_name="Phạm Thị Hỗ Trợ")
    client = app.test_client()
    sign_in(client, creds)
    return client


def recovery_request(app) -> int:
    with app.app_context():
        row = recovery_ops.record_request(citizen_admin.by_id_number(CITIZEN.id_number),
                                          NEW_PHONE)
        db.session.commit()
        return row.id


def test_recovery_approved_after_the_in_person_check(app, desk):
    rid = recovery_request(app)
    listing = html(desk.get("/staff/recovery"))
    assert "066xxxxxx234" in listing and "0977xxx456" in listing
    assert CITIZEN.id_number not in listing and "977123456" not in listing
    url = f"/staff/recovery/{rid}"
    r = post(desk, url, decision="approve", document="cccd_chip", id_number="066089009999",
             note="Đã đối chiếu CCCD gắn chip bản gốc")
    assert r.status_code == 400
    assert_message(r, "staff.id_number_mismatch")
    r = post(desk, url, decision="approve", document="", note="")
    assert r.status_code == 400
    assert_message(r, "staff.document_missing")
    assert_message(r, "staff.note_missing")
    r = post(desk, url, decision="approve", document="cccd_chip", id_number=CITIZEN.id_number,
             note="Đã đối chiếu CCCD gắn chip bản gốc")
    assert r.status_code == 303 and r.headers["Location"] == "/staff/recovery?done=approve"
    with app.app_context():
        row = db.session.get(RecoveryRequest, rid)
        assert row.status == "approved" and row.decided_by == "Phạm Thị Hỗ Trợ (hotro.an)"
        assert row.note == "[cccd_chip] Đã đối chiếu CCCD gắn chip bản gốc"
        assert citizen_admin.by_id_number(CITIZEN.id_number).phone == NEW_PHONE
    lines = audit_lines(app, "staff.recovery_")
    assert any("staff.recovery_approved" in line and "staff=hotro.an" in line for line in lines)
    assert not any(CITIZEN.id_number in line for line in lines)
    assert desk.get(url).status_code == 404  # decided: no longer open


def test_recovery_rejected(app, desk):
    rid = recovery_request(app)
    r = post(desk, f"/staff/recovery/{rid}", decision="reject", document="cmnd",
             note="Giấy tờ không khớp ảnh")
    assert r.status_code == 303
    with app.app_context():
        assert db.session.get(RecoveryRequest, rid).status == "rejected"
    assert any("staff=hotro.an" in line for line in audit_lines(app, "staff.recovery_rejected"))


def test_a_complaint_is_resolved(app, desk):
    with app.app_context():
        complaint, _ = complaints.file(
            id_number=CITIZEN.id_number, phone=CLAIMANT, full_name=CITIZEN.full_name,
            birth_date=CITIZEN.birth_date, description="Tài khoản này không phải của tôi.")
        cid, ref = complaint.id, complaint.reference
    listing = html(desk.get("/staff/complaints"))
    assert ref in listing and "0905xxx728" in listing and "905613728" not in listing
    url = f"/staff/complaints/{cid}"
    r = post(desk, url, outcome="nonsense", document="cccd", note="x")
    assert r.status_code == 400
    assert_message(r, "staff.decision_missing")
    r = post(desk, url, outcome="account_disabled", document="cccd_chip",
             note="Người khiếu nại xuất trình CCCD; chủ tài khoản không liên lạc được")
    assert r.status_code == 303
    with app.app_context():
        c = db.session.get(Complaint, cid)
        assert c.status == "resolved" and c.outcome == "account_disabled"
        assert c.resolved_by == "Phạm Thị Hỗ Trợ (hotro.an)"
        assert citizen_admin.by_id_number(CITIZEN.id_number).status == "disabled"
    lines = audit_lines(app, "staff.complaint_resolved")
    assert lines and "staff=hotro.an" in lines[0] and ref in lines[0]


def test_lookup_is_masked_until_a_reason_is_recorded(app, desk):
    r = post(desk, "/staff/lookup", action="find", id_number="12345")
    assert r.status_code == 400
    assert_message(r, "staff.id_number_invalid")
    r = post(desk, "/staff/lookup", action="find", id_number="001099000111")
    assert r.status_code == 404
    assert_message(r, "staff.citizen_not_found")
    r = post(desk, "/staff/lookup", action="find", id_number=CITIZEN.id_number)
    body = html(r)
    assert r.status_code == 200 and 'data-testid="lookup-summary"' in body
    assert "066xxxxxx234" in body and "0941xxx947" in body and "0941 234 947" not in body
    assert 'data-testid="lookup-full"' not in body
    r = post(desk, "/staff/lookup", action="reveal", id_number=CITIZEN.id_number, reason=" ")
    assert r.status_code == 400
    assert_message(r, "staff.reason_missing")
    assert 'data-testid="lookup-full"' not in html(r)
    r = post(desk, "/staff/lookup", action="reveal", id_number=CITIZEN.id_number,
             reason="Phiếu hỗ trợ HT-2026-118, công dân gọi tổng đài")
    body = html(r)
    assert 'data-testid="lookup-full"' in body and "0941 234 947" in body
    revealed = events(app, "staff.citizen_revealed")[-1]
    assert revealed["reason"] == "Phiếu hỗ trợ HT-2026-118, công dân gọi tổng đài"
    assert revealed["staff"] == "hotro.an" and revealed["id_number"] == "066xxxxxx234"
    lines = audit_lines(app, "staff.citizen_")
    assert any("staff.citizen_revealed" in line and "staff=hotro.an" in line for line in lines)


def test_admin_changes_a_role_and_reads_the_audit_trail(app):
    admin = create_staff(app, "quantri.binh", "admin")
    create_staff(app, "buudien.q2", "clerk", counter="Quầy 2")
    client = app.test_client()
    sign_in(client, admin)
    with app.app_context():
        target = staff_accounts.find("buudien.q2").id
    r = post(client, "/staff/members", member_id=target, action="role", role="root")
    assert r.status_code == 400
    r = post(client, "/staff/members", member_id=target, action="role", role="support")
    assert r.status_code == 303
    with app.app_context():
        assert staff_accounts.find("buudien.q2").role == "support"
    page = client.get("/staff/audit?staff=quantri.binh&limit=50")
    assert page.status_code == 200 and "staff.member_role_changed" in html(page)
    assert "staff.login" in html(page)
    lines = audit_lines(app, "staff.member_role_changed")
    assert lines and "staff=quantri.binh" in lines[0] and "target=buudien.q2" in lines[0]


# --- idp staff -----------------------------------------------------------------------------

def test_cli_add_list_role_disable_reset_unlock(app):
    r = cli(app, "staff", "add", "Hotro.Chi", "--name", "Lê Thị Chi", "--role", "support",
            "--password-stdin", stdin="mat-khau-du-dai-2026\n")
    assert "otpauth://totp/" in r.stdout
    secret = re.search(r"secret:\s+([A-Z2-7]{32})", r.stdout).group(1)
    listing = cli(app, "staff", "list").stdout
    assert re.search(r"hotro\.chi\s+Lê Thị Chi\s+support\s+active", listing)
    cli(app, "staff", "role", "hotro.chi", "admin")
    cli(app, "staff", "disable", "hotro.chi")
    cli(app, "staff", "enable", "hotro.chi")
    cli(app, "staff", "unlock", "hotro.chi")
    new = re.search(r"secret:\s+([A-Z2-7]{32})",
                    cli(app, "staff", "reset-totp", "hotro.chi").stdout).group(1)
    assert new != secret
    with app.app_context():
        member = staff_accounts.find("hotro.chi")
        assert member.role == "admin" and member.status == "active"
        assert secret.encode() not in (member.totp_secret_enc or b"")
    names = {e for line in audit_lines(app, "staff.") for e in line.split()}
    assert {"staff.created", "staff.role_changed", "staff.disabled", "staff.enabled",
            "staff.unlocked", "staff.totp_reset"} <= names
    assert all("actor=cli" in line for line in audit_lines(app, "staff.created"))


@pytest.mark.parametrize("args,code,text", [
    (["add", "1bad", "--name", "X", "--role", "clerk", "--password-stdin"], 2, "username"),
    (["add", "tot.ten", "--name", "X", "--role", "boss", "--password-stdin"], 2, "role"),
    (["add", "tot.ten", "--name", "X", "--role", "clerk", "--password-stdin"], 2, "password"),
    (["role", "hotro.an", "boss"], 2, "role"),
    (["disable", "khong.co"], 1, "no staff member"),
    (["add", "hotro.an", "--name", "X", "--role", "clerk", "--password-stdin"], 1,
     "already exists"),
])
def test_cli_bad_input_is_one_line(app, args, code, text):
    create_staff(app, "hotro.an", "support")
    stdin = "ngan\n" if "--password-stdin" in args else None
    r = cli(app, "staff", *args, code=code, stdin=stdin)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], r.stderr
    assert "Traceback" not in r.output
    with app.app_context():
        assert db.session.query(Citizen).count() == 2  # nothing else touched


def test_a_decision_without_csrf_token_is_refused(app, desk):
    rid = recovery_request(app)
    r = desk.post(f"/staff/recovery/{rid}", data={
        "decision": "reject", "document": "cccd", "note": "Không có token"})
    assert r.status_code == 400
    with app.app_context():
        assert db.session.get(RecoveryRequest, rid).status == "pending"
