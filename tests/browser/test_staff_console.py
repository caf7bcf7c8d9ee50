"""The staff console (issue 17 item 3) in a real browser: an administrator signs in with the
password and the authenticator code, opens every screen (lost-phone requests, complaints,
citizen lookup masked then revealed with a reason, staff administration, the audit trail),
decides a request after re-authenticating; a clerk meets the 403 page. Screenshots of each
screen at desktop (1280×800) and tablet (820×1180) width; axe-core clean."""
from __future__ import annotations

from tests.browser.pages import Audit, check_staff, submit
from tests.support.people import CITIZEN

NEW_PHONE = "+84977123456"


def staff_login(page, issuer: str, creds, audit: Audit | None = None) -> None:
    from tests.support.staff import totp_now
    page.goto(f"{issuer}/staff/login")
    page.get_by_test_id("staff-login-submit").wait_for()
    if audit is not None:
        check_staff(page, "staff-login", audit)
    page.fill("#username", creds.username)
    page.fill("#password", creds.password)
    page.fill("#totp", totp_now(creds.secret))
    submit(page, page.get_by_test_id("staff-login-submit"))
    page.get_by_test_id("staff-who").wait_for()


def seed_cases(app) -> tuple[int, int]:
    from idp.accounts import citizen_admin, complaints
    from idp.accounts import recovery as recovery_ops
    from idp.platform.db import db
    with app.app_context():
        citizen = citizen_admin.by_id_number(CITIZEN.id_number)
        rid = recovery_ops.record_request(citizen, NEW_PHONE).id
        db.session.commit()
        complaint, _ = complaints.file(
            id_number=CITIZEN.id_number, phone="+84905613728", full_name=CITIZEN.full_name,
            birth_date=CITIZEN.birth_date, description="Tài khoản này không phải của tôi.")
        return rid, complaint.id


def test_every_screen_of_the_console(idp, context):
    from tests.support.staff import create_staff, totp_now
    issuer, app = idp
    admin = create_staff(app, "quantri.binh", "admin", full_name="Đỗ Thanh Bình")
    create_staff(app, "buudien.q2", "clerk", counter="Bưu điện tỉnh Đắk Lắk – quầy 2")
    rid, cid = seed_cases(app)
    audit = Audit()
    page = context.new_page()
    staff_login(page, issuer, admin, audit)
    check_staff(page, "staff-home", audit)

    page.goto(f"{issuer}/staff/recovery")
    page.get_by_test_id("recovery-table").wait_for()
    check_staff(page, "staff-recovery-list", audit)
    page.get_by_test_id(f"recovery-open-{rid}").click()
    page.get_by_test_id("recovery-submit").wait_for()
    check_staff(page, "staff-recovery-detail", audit)
    page.check("input[name=decision][value=approve]")
    page.select_option("#document", "cccd_chip")
    page.fill("#id_number", CITIZEN.id_number)
    page.fill("#note", "Đã đối chiếu CCCD gắn chip bản gốc, ảnh khớp")
    submit(page, page.get_by_test_id("recovery-submit"))
    assert page.locator('[data-msg="staff.recovery_approved"]').count() == 1

    page.goto(f"{issuer}/staff/complaints")
    page.get_by_test_id("complaints-table").wait_for()
    check_staff(page, "staff-complaints-list", audit)
    page.get_by_test_id(f"complaint-open-{cid}").click()
    page.get_by_test_id("complaint-submit").wait_for()
    check_staff(page, "staff-complaint-detail", audit)

    page.goto(f"{issuer}/staff/lookup")
    page.fill("#id_number", CITIZEN.id_number)
    submit(page, page.get_by_test_id("lookup-submit"))
    page.get_by_test_id("lookup-summary").wait_for()
    assert page.get_by_test_id("lookup-full").count() == 0
    check_staff(page, "staff-lookup-masked", audit)
    page.fill("#reason", "Phiếu hỗ trợ HT-2026-118")
    submit(page, page.get_by_test_id("lookup-reveal"))
    page.get_by_test_id("lookup-full").wait_for()
    check_staff(page, "staff-lookup-revealed", audit)

    page.goto(f"{issuer}/staff/members")
    page.get_by_test_id("members-table").wait_for()
    check_staff(page, "staff-members", audit)
    page.goto(f"{issuer}/staff/audit?staff=quantri.binh")
    page.get_by_test_id("audit-table").wait_for()
    assert "staff.recovery_approved" in page.get_by_test_id("audit-table").inner_text()
    check_staff(page, "staff-audit", audit)

    page.goto(f"{issuer}/staff/reauth?next=/staff/members")
    page.get_by_test_id("staff-reauth-submit").wait_for()
    check_staff(page, "staff-reauth", audit)
    page.fill("#totp", totp_now(admin.secret))
    submit(page, page.get_by_test_id("staff-reauth-submit"))
    page.get_by_test_id("members-table").wait_for()
    submit(page, page.get_by_test_id("staff-logout"))
    assert page.locator('[data-msg="staff.signed_out"]').count() == 1
    audit.assert_clean()


def test_a_clerk_meets_the_403_page(idp, context):
    from tests.support.staff import create_staff
    issuer, app = idp
    clerk = create_staff(app, "buudien.q2", "clerk", counter="Bưu điện tỉnh Đắk Lắk – quầy 2")
    audit = Audit()
    page = context.new_page()
    staff_login(page, issuer, clerk)
    check_staff(page, "staff-home-clerk", audit)
    page.goto(f"{issuer}/staff/members")
    page.get_by_test_id("staff-forbidden").wait_for()
    check_staff(page, "staff-forbidden", audit)
    audit.assert_clean()
