"""Counter registration, "Bưu điện Việt Nam" (issue 17 item 2), in a real browser: the clerk
signs in to the staff console, registers a citizen, types the code the citizen's phone got
(read from the SMS outbox, as the citizen would read it out) and gets the printable slip;
then the citizen, in another browser context, opens the slip's link, types the reference and
activation code and sets a password. Screenshots: the counter screens at desktop (1280×800)
and tablet (820×1180) width, the citizen's pages at desktop and phone; axe-core clean."""
from __future__ import annotations

import re
from types import SimpleNamespace

from tests.browser.pages import DESKTOP, SCREENSHOTS, Audit, check, check_staff, submit
from tests.support.sms import last_code, sms_count, wait_for_code

NGOC = {"full_name": "Trần Thị Bích Ngọc", "id_number": "066192018305",
        "birth_date": "02/11/1992", "gender": "female", "phone": "0352718406"}
PHONE = "+84352718406"
PASSWORD = "doi-thong-xanh-ngat-tren-nui-2025"


def activate_in_browser(page, issuer: str, url: str, reference: str, code: str,
                        audit: Audit) -> None:
    """The citizen's part, from the slip's link."""
    assert url.startswith(issuer + "/register/activate?ref=")
    page.goto(url)
    page.get_by_test_id("activate-submit").wait_for()
    assert page.input_value("#reference") == reference
    check(page, "counter-activate", audit)
    page.fill("#code", code)
    submit(page, page.get_by_test_id("activate-submit"))
    page.locator("#password").wait_for()
    check(page, "counter-activate-password", audit)
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    submit(page, page.get_by_test_id("activate-password-submit"))
    page.get_by_test_id("activate-login").wait_for()
    assert page.locator('[data-msg="counter.activated"]').count() == 1
    check(page, "counter-activate-done", audit)


def test_the_citizen_activates_from_the_slip_link(idp, context):
    """The citizen's pages on their own (the clerk's part through accounts/counter.py)."""
    from idp.accounts import counter
    issuer, app = idp
    clerk = SimpleNamespace(id=9001, username="buudien.q1", full_name="Lê Thị Hoa",
                            counter="Bưu cục Sài Gòn, quầy 3")
    with app.test_request_context():
        person, errors = counter.validate({**NGOC, "id_checked": "on", "not_official": "on"})
        assert not errors
        row = counter.start(person, clerk)
        issued = counter.check_phone_code(row, last_code(app, PHONE))
    audit = Audit()
    page = context.new_page()
    activate_in_browser(page, issuer, f"{issuer}/register/activate?ref={row.reference}",
                        row.reference, issued.grouped, audit)
    audit.assert_clean()


def test_clerk_registers_at_the_counter_and_the_citizen_activates(idp, chromium, context):
    from tests.support.staff import create_staff
    issuer, app = idp
    creds = create_staff(app, "buudien.q1", "clerk", counter="Bưu cục Sài Gòn, quầy 3")
    audit = Audit()
    desk = context.new_page()
    staff_sign_in(desk, issuer, creds)
    desk.goto(f"{issuer}/staff/counter/new")
    desk.get_by_test_id("counter-submit").wait_for()
    check_staff(desk, "staff-counter-new", audit)
    for field in ("full_name", "id_number", "birth_date", "phone"):
        desk.fill(f"#{field}", NGOC[field])
    desk.check("input[name=gender][value=female]")
    desk.check("#id_checked")
    desk.check("#not_official")
    already = sms_count(app, PHONE)
    submit(desk, desk.get_by_test_id("counter-submit"))
    desk.get_by_test_id("counter-verify").wait_for()
    check_staff(desk, "staff-counter-code", audit)
    desk.fill("#code", wait_for_code(app, PHONE, already))
    submit(desk, desk.get_by_test_id("counter-verify"))
    slip = desk.get_by_test_id("counter-slip")
    slip.wait_for()
    check_staff(desk, "staff-counter-slip", audit)
    desk.emulate_media(media="print")
    desk.screenshot(path=str(SCREENSHOTS / "staff-counter-slip-print.png"), full_page=True)
    assert not desk.locator(".no-print").first.is_visible()
    desk.emulate_media(media="screen")
    reference = desk.get_by_test_id("slip-reference").inner_text().strip()
    code = desk.get_by_test_id("slip-code").inner_text().strip()
    url = desk.get_by_test_id("slip-url").inner_text().strip()
    assert re.fullmatch(r"\d{5} \d{5}", code)
    assert desk.get_by_test_id("slip-qr").get_attribute("src").startswith("data:image/svg")
    citizen = chromium.new_context(viewport=DESKTOP, locale="vi-VN")
    try:
        activate_in_browser(citizen.new_page(), issuer, url, reference, code, audit)
    finally:
        citizen.close()
    desk.goto(f"{issuer}/staff/counter/today")
    desk.get_by_test_id("counter-today").wait_for()
    assert reference in desk.get_by_test_id("counter-today").inner_text()
    check_staff(desk, "staff-counter-today", audit)
    audit.assert_clean()


def staff_sign_in(page, issuer: str, creds) -> None:
    """The staff console's sign-in (helper B's pages): username, password, authenticator."""
    from tests.support.staff import totp_now
    page.goto(f"{issuer}/staff/login")
    page.fill("#username", creds.username)
    page.fill("#password", creds.password)
    page.fill("#totp", totp_now(creds.secret))
    submit(page, page.get_by_test_id("staff-login-submit"))
