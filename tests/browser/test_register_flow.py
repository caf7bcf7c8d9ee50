"""Registration in a real browser (issue 12 item 3): the choice page with its unavailable
options disabled and laid out at 320, 390 and 1280 px; a citizen who first types someone
else's phone (carrier KYC mismatch after the SMS code) corrects it without a new captcha and
without waiting; the password ends on "Đăng ký thành công", whose "Tiếp tục" brings the
citizen back to the portal with a code."""
from __future__ import annotations

from tests.browser.pages import (
    SCREENSHOTS,
    Audit,
    answer_captcha,
    authorize_url,
    check,
    sms_count,
    submit,
    verify_otp,
    wait_for_code,
)
from tests.support import query

KHOA = {"id_number": "066096311804", "full_name": "Đinh Văn Khoa", "birth_date": "1996-09-03",
        "gender": "male", "phone": "0376150942", "e164": "+84376150942"}
OTHER_PHONE = ("0707125386", "+84707125386")  # Ngô Gia Bảo's subscription (demo registry)
PASSWORD = "ban-don-mua-xuan-voi-ve-2026"
WIDTHS = (320, 390, 1280)
UNAVAILABLE = {"account_type": ("business", "agency"),
               "method": ("bca", "usb_token", "sim_pki", "smartca")}


def lines(page, selector: str) -> int:
    """How many lines the element's text takes (its height over its line height)."""
    return page.locator(selector).first.evaluate(
        "el => Math.round(el.getBoundingClientRect().height /"
        " parseFloat(getComputedStyle(el).lineHeight))")


def at_widths(page, name: str) -> dict[int, dict]:
    """Screenshots of the page at every width; per width the page's scroll width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        found[width] = {"scroll": page.evaluate("() => document.documentElement.scrollWidth")}
    page.set_viewport_size({"width": 1280, "height": 800})
    return found


def fill_form(page, issuer: str, phone: str, captcha: bool) -> None:
    page.fill("#full_name", KHOA["full_name"])
    page.fill("#id_number", KHOA["id_number"])
    page.fill("#birth_date", KHOA["birth_date"])
    page.check(f"input[name=gender][value={KHOA['gender']}]")
    page.fill("#phone", phone)
    if captcha:
        answer_captcha(page, issuer)
    if not page.is_checked("#consent"):
        page.check("#consent")


def test_choice_page_disables_what_does_not_work_and_holds_its_layout(idp, rp_server, page):
    issuer, _ = idp
    audit = Audit()
    page.goto(authorize_url(issuer, rp_server, prompt="create"))
    page.get_by_test_id("register-choose").wait_for()
    check(page, "register-choose", audit)
    for name, keys in UNAVAILABLE.items():
        for key in keys:
            radio = page.locator(f"input[name={name}][value={key}]")
            assert radio.is_disabled(), key
            assert page.locator(f"#{name}-{key}-na").is_visible(), key
    assert page.locator("input[name=account_type][value=citizen]").is_checked()
    assert page.locator("input[name=method][value=mobile]").is_checked()
    # A click on an unavailable option selects nothing.
    page.locator("label.choice", has_text="Doanh nghiệp").click(force=True)
    assert page.locator("input[name=account_type][value=citizen]").is_checked()
    assert page.get_by_text("Bộ phận Một cửa").is_visible()

    label = "label.choice:has(input[value=vnpost]) .choice__label"
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
        assert lines(page, label) == 1, (width, "Bưu điện Việt Nam wraps")
        for key in ("sim_pki", "smartca", "usb_token"):
            assert lines(page, f"label.choice:has(input[value={key}]) .choice__label") == 1
    found = at_widths(page, "register-choose")
    for width, seen in found.items():
        assert seen["scroll"] <= width, (width, seen)
    submit(page, page.get_by_test_id("register-choose"))
    page.locator("#full_name").wait_for()
    audit.assert_clean()


def test_corrected_phone_without_new_captcha_or_wait_then_success_page(idp, rp_server, page):
    issuer, app = idp
    audit = Audit()
    page.goto(authorize_url(issuer, rp_server, prompt="create"))
    submit(page, page.get_by_test_id("register-choose"))

    # Someone else's subscription first: the code goes to it, the carrier says "not yours".
    page.locator("#full_name").wait_for()
    fill_form(page, issuer, OTHER_PHONE[0], captcha=True)
    already = sms_count(app, OTHER_PHONE[1])
    submit(page, page.get_by_test_id("register-submit"))
    page.get_by_role("heading", name="Xác nhận số điện thoại").wait_for()
    verify_otp(page, wait_for_code(app, OTHER_PHONE[1], already))
    page.locator("[data-msg='register.kyc_mismatch']").wait_for()
    submit(page, page.locator("button[name=action][value=edit]"))

    # The corrected phone: no new captcha, and the code is sent at once.
    page.locator("#full_name").wait_for()
    assert page.locator("#captcha").count() == 0
    assert page.locator("[data-msg='captcha.credit']").is_visible()
    check(page, "register-form-corrected", audit)
    assert page.input_value("#phone") == OTHER_PHONE[0]
    fill_form(page, issuer, KHOA["phone"], captcha=False)
    already = sms_count(app, KHOA["e164"])
    submit(page, page.get_by_test_id("register-submit"))
    page.get_by_role("heading", name="Xác nhận số điện thoại").wait_for()
    assert page.get_by_text(KHOA["phone"]).count() >= 1
    verify_otp(page, wait_for_code(app, KHOA["e164"], already, timeout=5))

    page.locator("#password_confirm").wait_for()
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    submit(page, page.locator("button[name=action][value=save]"))

    page.get_by_role("heading", name="Đăng ký thành công").wait_for()
    assert page.get_by_test_id("register-done-id").inner_text() == "066xxxxxx804"
    assert page.get_by_test_id("register-done-phone").inner_text() == "0376xxx942"
    assert KHOA["id_number"] not in page.content()
    check(page, "register-done", audit)
    found = at_widths(page, "register-done")
    assert all(seen["scroll"] <= width for width, seen in found.items()), found
    submit(page, page.get_by_test_id("register-continue"))
    page.wait_for_url(rp_server + "/portal/callback?**")
    assert "code" in query(page.url)
    audit.assert_clean()
