"""Keyboard-only login (issue 12 item 5): no mouse at all. The focus lands on the ID-number
field when the login page opens; after a wrong password the page comes back with the focus on
the error summary at the top of the form, whose link leads to the field to correct; the SMS
code page takes the code typed on the keyboard. Focus is checked with document.activeElement."""
from __future__ import annotations

from tests.browser.pages import Audit, authorize_url, check, sms_count, wait_for_code
from tests.support import CITIZEN, query


def active(page) -> dict:
    """What has the keyboard focus: its id, tag, name, role and classes."""
    return page.evaluate("""() => { const e = document.activeElement;
        return {id: e.id, tag: e.tagName.toLowerCase(), name: e.getAttribute('name'),
                role: e.getAttribute('role'), cls: e.className,
                href: e.getAttribute('href')}; }""")


def captcha_answer(page, issuer: str) -> str:
    """The captcha's answer through the test hook (what a sighted citizen reads)."""
    captcha_id = page.locator("input[name=captcha_id]").input_value()
    r = page.context.request.get(f"{issuer}/_test/captcha/{captcha_id}")
    assert r.ok, f"captcha hook: {r.status}"
    return r.text()


def press_enter_and_wait(page) -> None:
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")


def test_keyboard_only_login_with_focus_on_the_id_field_then_on_the_error_summary(
        idp, rp_server, page):
    issuer, app = idp
    audit = Audit()
    page.goto(authorize_url(issuer, rp_server, acr_values="LoA2"))
    page.get_by_role("heading", name="Đăng nhập").wait_for()

    # 1. The page opens with the focus in the ID-number field: type at once.
    assert active(page)["id"] == "username"
    page.keyboard.type(CITIZEN.id_number)
    page.keyboard.press("Tab")
    assert active(page)["id"] == "password"
    page.keyboard.type("not-the-password-at-all")
    page.keyboard.press("Tab")
    assert active(page)["id"] == "captcha"
    page.keyboard.type(captcha_answer(page, issuer))
    press_enter_and_wait(page)

    # 2. Wrong password: the focus is on the error summary (announced, at the top).
    summary = page.locator("[data-error-summary]")
    summary.wait_for()
    focused = active(page)
    assert focused["role"] == "alert" and "error-summary" in focused["cls"]
    assert "Số CMND/CCCD hoặc mật khẩu không đúng." in summary.inner_text()
    check(page, "login-error-summary", audit)  # screenshots + axe; the focus stays put
    assert active(page)["role"] == "alert"
    # Its link leads to the field to correct; following it puts the focus there.
    page.keyboard.press("Tab")
    assert active(page)["href"] == "#password"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'password'")
    page.keyboard.type(CITIZEN.password)
    page.keyboard.press("Tab")
    assert active(page)["id"] == "captcha"
    page.keyboard.type(captcha_answer(page, issuer))
    already = sms_count(app, CITIZEN.phone)
    press_enter_and_wait(page)

    # 3. The SMS code: the focus is in the first box; type the six digits, Enter.
    page.get_by_role("heading", name="Xác thực mã OTP").wait_for()
    code = wait_for_code(app, CITIZEN.phone, already)
    first = active(page)
    assert first["tag"] == "input" and page.evaluate(
        "() => !!document.activeElement.closest('.otp-boxes, .field')")
    page.keyboard.type(code)
    assert page.locator("input[name=otp]").input_value() == code
    press_enter_and_wait(page)
    page.wait_for_url(rp_server + "/portal/callback?**")
    assert "code" in query(page.url)
    audit.assert_clean()
