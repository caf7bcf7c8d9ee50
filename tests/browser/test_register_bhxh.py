"""Registration by social-insurance code, "Bảo hiểm xã hội" (issue 17 item 1), in a real
browser: the choice page → the BHXH form (no phone field) → the code sent to the phone of
the social-insurance record (idp/data/bhxh_registry.csv, the demo registry), which the page
does not show → the password → "Đăng ký thành công" → back at the portal. Screenshots of the
form and the code page at 390 and 1280 px, axe-core clean."""
from __future__ import annotations

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
from tests.support import query

NHUNG = {"ma_bhxh": "6690024518", "id_number": "066190024518",
         "full_name": "Đinh Thị Hồng Nhung", "birth_date": "18/04/1990", "gender": "female",
         "e164": "+84987362514"}
PASSWORD = "hoa-da-quy-no-tren-cao-nguyen-26"


def test_registration_by_social_insurance_code(idp, rp_server, page):
    issuer, app = idp
    audit = Audit()
    page.goto(authorize_url(issuer, rp_server, prompt="create"))
    page.get_by_test_id("register-choose").wait_for()
    page.check("input[name=method][value=vssid]")
    submit(page, page.get_by_test_id("register-choose"))

    page.locator("#ma_bhxh").wait_for()
    assert page.locator("#phone").count() == 0
    for field in ("full_name", "id_number", "birth_date"):
        page.fill(f"#{field}", NHUNG[field])
    page.fill("#ma_bhxh", "66900245")  # too short: a field error, the captcha still counts
    page.check(f"input[name=gender][value={NHUNG['gender']}]")
    answer_captcha(page, issuer)
    page.check("#consent")
    submit(page, page.get_by_test_id("register-submit"))
    page.locator("#ma_bhxh-error[data-msg='bhxh.code_format']").wait_for()
    assert page.locator("#captcha").count() == 0
    check(page, "register-bhxh-form-error", audit)
    page.fill("#ma_bhxh", NHUNG["ma_bhxh"])
    check(page, "register-bhxh-form", audit)
    already = sms_count(app, NHUNG["e164"])
    submit(page, page.get_by_test_id("register-submit"))

    page.get_by_role("heading", name="Xác nhận số điện thoại").wait_for()
    assert "0987362514" not in page.content() and "bảo hiểm xã hội" in page.content()
    check(page, "register-bhxh-code", audit)
    verify_otp(page, wait_for_code(app, NHUNG["e164"], already))

    page.locator("#password_confirm").wait_for()
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    submit(page, page.locator("button[name=action][value=save]"))
    page.get_by_role("heading", name="Đăng ký thành công").wait_for()
    assert page.get_by_test_id("register-done-phone").inner_text() == "0987xxx514"
    submit(page, page.get_by_test_id("register-continue"))
    page.wait_for_url(rp_server + "/portal/callback?**")
    assert "code" in query(page.url)
    audit.assert_clean()
