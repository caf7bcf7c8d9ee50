"""Issue 12 item 1 in a real browser: a plain portal login (no acr_values) asks the SMS code
after the password, and a LoA1 session (from a client the operator allowed LoA1) is stepped up
for a normal portal with only the SMS code; each code page says in one sentence why."""
from __future__ import annotations

from urllib.parse import urlencode

from tests.browser.pages import Audit, check, login, sms_count, verify_otp, wait_for_code
from tests.support import CITIZEN, SECRET, auth_params, pkce_pair, query

LOGIN_REASON = "mỗi lần đăng nhập đều cần thêm mã OTP"
STEP_UP_REASON = "Dịch vụ bạn đang truy cập yêu cầu xác thực thêm bằng mã OTP"


def authorize_url(issuer: str, rp: str, client_id: str = "bt-portal", **params) -> str:
    _, challenge = pkce_pair()
    return f"{issuer}/authorize?" + urlencode(auth_params(
        client_id=client_id, redirect_uri=rp + "/portal/callback", challenge=challenge,
        **params))


def reason(page) -> str:
    return page.get_by_test_id("second-factor-reason").inner_text()


def test_a_plain_portal_login_asks_the_sms_code_and_says_why(idp, rp_server, page):
    issuer, app = idp
    page.goto(authorize_url(issuer, rp_server))  # no acr_values
    already = sms_count(app, CITIZEN.phone)
    login(page, issuer, CITIZEN.id_number, CITIZEN.password)
    page.get_by_role("heading", name="Xác thực mã OTP").wait_for()
    assert LOGIN_REASON in reason(page)
    verify_otp(page, wait_for_code(app, CITIZEN.phone, already))
    page.wait_for_url(rp_server + "/portal/callback?**")
    assert "code" in query(page.url)


def test_a_loa1_session_is_stepped_up_with_its_explanation(idp, rp_server, page):
    from idp.platform.crypto import hash_secret
    from idp.platform.db import db
    from idp.platform.models import Client

    issuer, app = idp
    app.config["IDP"]["allow_loa1_clients"] = True  # the operator's deliberate choice
    with app.app_context():
        lookup = Client(client_id="bt-lookup", client_secret_hash=hash_secret(SECRET))
        lookup.set_metadata({"client_name": "Tra cứu hồ sơ (chỉ mật khẩu)",
                             "redirect_uris": [rp_server + "/portal/callback"],
                             "scope": "openid profile", "login_acr_floor": "LoA1"})
        db.session.add(lookup)
        db.session.commit()
    audit = Audit()
    page.goto(authorize_url(issuer, rp_server, client_id="bt-lookup"))
    before = sms_count(app, CITIZEN.phone)
    login(page, issuer, CITIZEN.id_number, CITIZEN.password)
    page.wait_for_url(rp_server + "/portal/callback?**")  # the password alone
    assert sms_count(app, CITIZEN.phone) == before

    # A normal portal: that LoA1 session is not enough; only the SMS code is asked.
    page.goto(authorize_url(issuer, rp_server))
    page.get_by_role("heading", name="Xác thực mã OTP").wait_for()
    assert page.locator("#password").count() == 0
    assert STEP_UP_REASON in reason(page)
    check(page, "otp-step-up", audit)
    verify_otp(page, wait_for_code(app, CITIZEN.phone, before))
    page.wait_for_url(rp_server + "/portal/callback?**")
    assert "code" in query(page.url)
    audit.assert_clean()
