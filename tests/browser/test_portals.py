"""The two portals (portals/: provincial Đắk Lắk and national, each an OIDC relying party on
its own port) in a real browser against the IdP: portal → login (password, then the SMS code:
LoA2, the deployment's login_min_acr) → back; "Nộp hồ sơ" at LoA2 without another IdP page;
single sign-on at the second portal without a password;
logout at one portal ends the session at the IdP and, by back-channel logout, at the other.
Screenshots of the portal pages too, with the same axe and phone-width checks."""
from __future__ import annotations

import contextlib
import time

import pytest

from tests.browser.pages import Audit, check, login, sms_count, submit, verify_otp, wait_for_code
from tests.support import CITIZEN
from tests.support.live import serve_portal


@pytest.fixture
def portals(idp, tmp_path):
    """{"daklak": base_url, "quocgia": base_url}: both portals on random ports, registered
    at the IdP as first-party clients with their callback, post-logout and back-channel
    logout URIs."""
    from portals import daklak, quocgia

    names = {"daklak": "Cổng dịch vụ công tỉnh Đắk Lắk", "quocgia": "Cổng Dịch vụ công Quốc gia"}
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(serve_portal(
            idp, module, tmp_path / f"portal-{name}", client_id=f"bt-{name}",
            client_name=names[name], backchannel=True,
            scope="openid profile phone email offline_access dvcqg",
            id_token_alg="RS256" if name == "quocgia" else "ES256"))
            for name, module in (("daklak", daklak), ("quocgia", quocgia))}
        yield urls


def logged_in(page) -> bool:
    return page.get_by_test_id("logout").count() > 0


def wait_logged_out(page, url: str, timeout: float = 30.0) -> None:
    """Reload `url` until the portal shows "Đăng nhập" again (back-channel logout is
    delivered in the background by the IdP)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if page.get_by_test_id("login").count():
            return
        assert time.monotonic() < deadline, f"still logged in at {url}"
        page.wait_for_timeout(250)


def test_portal_login_stepup_sso_and_logout(idp, portals, page):
    issuer, app = idp
    daklak, quocgia = portals["daklak"], portals["quocgia"]
    audit = Audit()
    idp_pages: list[str] = []
    page.on("framenavigated",
            lambda frame: frame == page.main_frame and frame.url.startswith(issuer + "/flows/")
            and idp_pages.append(frame.url))

    # 1. The provincial portal: "Đăng nhập" → the login-method chooser → the IdP → back.
    page.goto(daklak + "/")
    page.get_by_test_id("login").wait_for()
    check(page, "portal-daklak-home", audit)
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("login").click()
    page.get_by_test_id("login-dvcqg").wait_for()
    check(page, "portal-daklak-login-methods", audit)
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("login-dvcqg").click()
    page.get_by_test_id("login-submit").wait_for()
    assert page.url.startswith(issuer)
    # As in the seed, the password is followed by the SMS code (login_min_acr LoA2), and the
    # code page says why.
    already = sms_count(app, CITIZEN.phone)
    login(page, issuer, CITIZEN.id_number, CITIZEN.password)
    page.locator(".otp-boxes input").first.wait_for()
    assert "mỗi lần đăng nhập đều cần thêm mã OTP" in \
        page.get_by_test_id("second-factor-reason").inner_text()
    verify_otp(page, wait_for_code(app, CITIZEN.phone, already))
    page.wait_for_url(daklak + "/**")
    page.get_by_test_id("logout").wait_for()
    page.goto(daklak + "/thong-tin")
    assert page.get_by_test_id("claim-acr").get_attribute("data-acr") == "LoA2"
    check(page, "portal-daklak-citizen", audit)

    # 2. "Nộp hồ sơ" needs LoA2: the login reached it, no IdP page (step-up from a LoA1
    #    session: tests/browser/test_login_level.py).
    seen = len(idp_pages)
    page.goto(daklak + "/nop-ho-so")
    page.wait_for_url(daklak + "/nop-ho-so**")
    assert idp_pages[seen:] == [], f"IdP pages before Nộp hồ sơ: {idp_pages[seen:]}"
    assert page.get_by_test_id("submit-acr").get_attribute("data-acr") == "LoA2"
    check(page, "portal-daklak-submit", audit)
    page.locator("select[name=procedure], input[name=procedure]").first.wait_for()
    if page.locator("select[name=procedure]").count():
        page.select_option("select[name=procedure]", index=1)
    else:
        page.locator("input[name=procedure]").first.check()
    submit(page, page.get_by_test_id("submit-case"))
    page.get_by_test_id("case-code").wait_for()
    check(page, "portal-daklak-submitted", audit)

    # 3. Single sign-on at the national portal: no password, no code.
    seen = len(idp_pages)
    page.goto(quocgia + "/")
    page.get_by_test_id("login").wait_for()
    check(page, "portal-quocgia-home", audit)
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("login").click()
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("login-dvcqg").click()
    page.wait_for_url(quocgia + "/**")
    page.get_by_test_id("logout").wait_for()
    assert idp_pages[seen:] == [], f"SSO showed IdP pages: {idp_pages[seen:]}"
    page.goto(quocgia + "/thong-tin")
    assert page.get_by_test_id("claim-name").inner_text() == CITIZEN.full_name
    check(page, "portal-quocgia-citizen", audit)

    # 4. Logout at the national portal ends the IdP session and, by back-channel logout,
    #    the provincial portal's session.
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("logout").click()
    page.wait_for_url(quocgia + "/**")
    assert not logged_in(page)
    wait_logged_out(page, daklak + "/")
    page.goto(daklak + "/auth/login")
    page.get_by_test_id("login-submit").wait_for()  # the password is asked again
    audit.assert_clean()
