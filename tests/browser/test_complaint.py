"""The complaint path in a real browser (issue 12 item 4, seed §1 step 4): registration with an
ID number that already has an account, the SMS code to a phone the carrier registers to that
ID number, "Khiếu nại: tài khoản này không phải của tôi" next to "Quên mật khẩu", the form,
"Đã tiếp nhận khiếu nại" with its reference; then the operator's console script
(`idp complaints list|show|resolve`, a separate process on the same database) resolves it, and
the complainant's phone receives the outcome."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser.pages import (
    Audit,
    answer_captcha,
    authorize_url,
    check,
    sms_count,
    submit,
    verify_otp,
    wait_for_code,
)
from tests.support import CITIZEN

CLAIMANT = {"phone": "0905613728", "e164": "+84905613728"}
DESCRIPTION = "Tôi chưa từng đăng ký tài khoản này; số điện thoại của tài khoản không phải của tôi."


@pytest.fixture
def carrier_registry(tmp_path, monkeypatch):
    """The carrier registers 0905613728 to CITIZEN's ID number, whose account has another
    phone (tests/support/people.py seed)."""
    path = tmp_path / "kyc.csv"
    path.write_text("msisdn,id_number,full_name,birth_date\n"
                    f"{CLAIMANT['phone']},{CITIZEN.id_number},{CITIZEN.full_name},"
                    f"{CITIZEN.birth_date}\n", encoding="utf-8")
    monkeypatch.setenv("IDP_KYC_REGISTRY", str(path))
    return path


@pytest.fixture
def idp_with_registry(request, carrier_registry):
    return request.getfixturevalue("idp")


def operator(app, *args: str) -> subprocess.CompletedProcess:
    """`idp complaints ...` as an operator runs it: the console script, another process, the
    live IdP's database and key-encryption key (the notices it queues are sealed with it)."""
    script = Path(sys.executable).with_name("idp")
    if not script.exists():
        pytest.skip("console script not installed (pip install -e .)")
    env = {**os.environ, "IDP_DATABASE_URL": app.config["IDP"]["database_url"],
           "IDP_ENV": "development"}
    return subprocess.run([str(script), "complaints", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_complaint_path_end_to_end_with_the_operator_cli(idp_with_registry, rp_server, page):
    issuer, app = idp_with_registry
    audit = Audit()
    page.goto(authorize_url(issuer, rp_server, prompt="create"))
    page.get_by_test_id("register-choose").wait_for()
    page.check("input[name=account_type][value=citizen]")
    page.check("input[name=method][value=mobile]")
    submit(page, page.get_by_test_id("register-choose"))

    page.locator("#full_name").wait_for()
    page.fill("#full_name", CITIZEN.full_name)
    page.fill("#id_number", CITIZEN.id_number)
    page.fill("#birth_date", CITIZEN.birth_date)  # YYYY-MM-DD is accepted (CONTRACT.md §7)
    page.check("input[name=gender][value=male]")
    page.fill("#phone", CLAIMANT["phone"])
    answer_captcha(page, issuer)
    page.check("#consent")
    already = sms_count(app, CLAIMANT["e164"])
    submit(page, page.locator("button[name=action][value=register]"))
    page.get_by_role("heading", name="Xác nhận số điện thoại").wait_for()
    verify_otp(page, wait_for_code(app, CLAIMANT["e164"], already))

    # Both ways out, only now (after the code and the carrier check).
    page.locator("[data-msg='register.account_exists']").wait_for()
    assert page.locator("button[name=action][value=forgot]").is_visible()
    complain = page.get_by_test_id("register-complain")
    assert complain.is_visible()
    assert complain.inner_text().strip() == "Khiếu nại: tài khoản này không phải của tôi"
    check(page, "register-exists", audit)
    submit(page, complain)

    page.get_by_role("heading", name="Khiếu nại: tài khoản này không phải của tôi").wait_for()
    assert page.get_by_test_id("complaint-phone").inner_text().strip() == CLAIMANT["phone"]
    check(page, "complaint-form", audit)
    # Empty: the browser's `required` keeps the form (and the server would say 400).
    page.get_by_test_id("complaint-submit").click()
    assert page.evaluate("() => document.querySelector('#description').validity.valueMissing")
    page.fill("#description", DESCRIPTION)
    page.fill("#email", "khieunai@example.vn")
    submit(page, page.get_by_test_id("complaint-submit"))

    page.get_by_role("heading", name="Đã tiếp nhận khiếu nại").wait_for()
    reference = page.get_by_test_id("complaint-reference").inner_text().strip()
    assert re.fullmatch(r"KN-[0-9A-Z]{8}", reference)
    check(page, "complaint-done", audit)
    submit(page, page.get_by_test_id("complaint-continue"))
    page.get_by_role("heading", name="Đăng nhập").wait_for()  # back at the portal's login

    # The operator: the complaint is listed (masked), shown, and resolved.
    from flask_migrate import stamp

    from idp.platform.db import db
    from idp.platform.models import Citizen, Complaint
    with app.app_context():
        stamp()  # the live test database was made by create_all
    listed = operator(app, "list")
    assert listed.returncode == 0, listed.stderr
    assert reference in listed.stdout and CITIZEN.id_number not in listed.stdout
    shown = operator(app, "show", reference, "--operator", "Lê Văn Tám")
    assert shown.returncode == 0 and DESCRIPTION in shown.stdout
    bad = operator(app, "resolve", reference, "--outcome", "maybe", "--note", "x")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr
    before = sms_count(app, CLAIMANT["e164"])
    done = operator(app, "resolve", reference, "--outcome", "owner_confirmed", "--note",
                    "Chủ tài khoản xuất trình CCCD bản gốc tại bộ phận một cửa",
                    "--operator", "Lê Văn Tám")
    assert done.returncode == 0, done.stderr
    assert "resolved, owner_confirmed" in done.stdout
    with app.app_context():
        row = db.session.scalar(select(Complaint).where(Complaint.reference == reference))
        assert (row.status, row.outcome, row.resolved_by) == ("resolved", "owner_confirmed",
                                                              "Lê Văn Tám")
        account = db.session.get(Citizen, row.citizen_id)
        assert account.status == "active" and account.disputed_at is None
    # The live IdP's worker delivers the outcome to the complainant's phone.
    wait_for_sms = wait_for_text(app, CLAIMANT["e164"], before, reference)
    assert "xac nhan" in wait_for_sms
    audit.assert_clean()


def wait_for_text(app, phone: str, already: int, needle: str, timeout: float = 20.0) -> str:
    import time
    deadline = time.monotonic() + timeout
    while True:
        messages = [m for m in app.extensions["idp.sms"].read(limit=10 ** 6) if m["to"] == phone]
        for m in messages[already:]:
            if needle in m["text"]:
                return m["text"]
        if time.monotonic() > deadline:
            raise AssertionError(f"no SMS with {needle} to {phone}")
        time.sleep(0.1)  # polling an outbox file
