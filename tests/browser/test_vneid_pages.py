"""Issue 16 in a real browser: "Đăng nhập bằng VNeID" from a portal, against the VNeID
stand-in (standins/vneid.py) in its encrypted mode, as ./run starts it.

The Đắk Lắk demo portal sends the citizen to the IdP; the login page's VNeID block goes to the
stand-in's page, where the citizen picks themself; back at the IdP the account with that
number is linked (no password) and the portal shows the login method "tài khoản định danh điện
tử VNeID" (`amr` has `fed`). A citizen new to the IdP creates an account from VNeID's data
(consent, phone, SMS code). Screenshots of every page at 390 and 1280 px
(tests/browser/pages.check)."""
from __future__ import annotations

import pytest

from tests.browser.pages import Audit, check, submit, verify_otp, wait_for_code
from tests.support import CITIZEN
from tests.support.apps import free_port
from tests.support.live import serve_idp, serve_portal
from tests.support.vneid import rp_key, serve_vneid

NEW = {"citizenPid": "066190008812", "fullName": "Võ Thị Thu Trang", "birthDate": "1990-06-25",
       "accountType": "CONG_DAN", "accountLevel": 2}
KNOWN = {"citizenPid": CITIZEN.id_number, "fullName": CITIZEN.full_name,
         "birthDate": CITIZEN.birth_date, "accountType": "CONG_DAN", "accountLevel": 2}


@pytest.fixture
def idp_port() -> int:
    return free_port()


@pytest.fixture
def vneid(idp_port):
    base = f"http://127.0.0.1:{idp_port}/signin/upstream/vneid"
    with serve_vneid("vneid-encrypted", redirect_uri=base + "/callback",
                     post_logout_redirect_uri=base + "/logged-out",
                     rp_public_key_pem=rp_key().pem_public()) as served:
        served.control.citizens([KNOWN, NEW])
        yield served


@pytest.fixture
def live_idp(database_url, tmp_path, vneid, idp_port):
    """Overrides tests/conftest.py's live_idp: the IdP on a loopback port with the stand-in
    as its VNeID, configured as ./run writes instance/vneid/upstream.toml."""
    key = tmp_path / "rp-key.pem"
    key.write_text(rp_key().pem_private())
    providers = tmp_path / "upstream.toml"
    providers.write_text("\n".join([
        "[vneid]", 'label = "VNeID"', 'mode = "vneid-encrypted"', 'client_id = "idp-test"',
        'client_secret = "vneid-secret"', f'authorization_endpoint = "{vneid.url}/authorize"',
        f'token_endpoint = "{vneid.url}/token"', f'userinfo_endpoint = "{vneid.url}/userinfo"',
        f'logout_endpoint = "{vneid.url}/api/idp/third-party/logout"',
        f'private_key_file = "{key}"']) + "\n", encoding="utf-8")
    with serve_idp(database_url, port=idp_port,
                   upstream_providers_file=str(providers)) as served:
        yield served


@pytest.fixture
def portal(idp, tmp_path):
    """The Đắk Lắk demo portal (portals/) on a loopback port, registered at the IdP."""
    from portals import daklak

    with serve_portal(idp, daklak, tmp_path / "portal-daklak", client_id="bt-daklak",
                      client_name="Cổng dịch vụ công tỉnh Đắk Lắk",
                      scope="openid profile phone email dvcqg") as base:
        yield base


def to_vneid(page, issuer: str, portal: str, audit: Audit) -> None:
    """Portal → the IdP's login page (screenshot) → "Đăng nhập bằng VNeID" → the stand-in."""
    page.goto(portal + "/auth/login")
    page.wait_for_url(issuer + "/**")
    page.get_by_test_id("upstream-vneid").wait_for()
    check(page, "login-vneid-button", audit)
    submit(page, page.get_by_test_id("upstream-vneid"))
    assert "VNeID" in page.title() or "VNeID" in page.content()


def pick(page, pid: str) -> None:
    """On the stand-in's page: the citizen's own entry."""
    button = page.locator(f"button[name=citizen][value='{pid}']")
    submit(page, button)


def test_vneid_login_from_the_portal_links_the_account(idp, portal, vneid, page):
    issuer, _ = idp
    audit = Audit()
    to_vneid(page, issuer, portal, audit)
    check(page, "vneid-standin", audit)
    pick(page, KNOWN["citizenPid"])
    page.wait_for_url(portal + "/**")
    page.get_by_test_id("logout").wait_for()
    page.goto(portal + "/thong-tin")
    amr = page.get_by_test_id("claim-amr").get_attribute("data-amr").split()
    assert amr == ["fed"]
    assert page.get_by_test_id("claim-acr").get_attribute("data-acr") == "LoA2"
    assert "VNeID" in page.get_by_test_id("claim-amr").inner_text()
    audit.assert_clean()


def test_a_citizen_new_here_creates_an_account_from_vneid(idp, portal, vneid, page):
    issuer, app = idp
    audit = Audit()
    to_vneid(page, issuer, portal, audit)
    pick(page, NEW["citizenPid"])
    page.get_by_test_id("federated-create").wait_for()
    check(page, "vneid-no-account", audit)
    submit(page, page.get_by_test_id("federated-create"))
    page.get_by_test_id("federated-create-submit").wait_for()
    page.get_by_label("Số điện thoại di động").fill("0912000111")
    page.locator("#consent").check()
    check(page, "vneid-create", audit)
    submit(page, page.get_by_test_id("federated-create-submit"))
    verify_otp(page, wait_for_code(app, "+84912000111", 0))
    page.get_by_test_id("federated-done").wait_for()
    check(page, "vneid-created", audit)
    submit(page, page.get_by_test_id("federated-continue"))
    page.wait_for_url(portal + "/**")
    page.goto(portal + "/thong-tin")
    amr = page.get_by_test_id("claim-amr").get_attribute("data-amr").split()
    assert amr[0] == "fed" and "sms" in amr
    audit.assert_clean()
