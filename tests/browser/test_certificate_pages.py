"""Issue 15 in a real browser: certificate sign-in at LoA3 through each carrier, against the
stand-ins ./run starts (standins/), with the IdP configured as ./run configures it.

- USB ký số: a portal asking LoA3 sends the citizen to the IdP, whose login page offers only
  the certificate tabs; "Ký số và đăng nhập" runs idp/static/usb-signer.js, which talks to the
  USB plugin stand-in (plain ws:// on loopback) holding the citizen's test token; the IdP
  verifies signature and certificate (CRL and OCSP on a loopback server, fail closed) and the
  portal shows LoA3. The plugin not running, and the citizen cancelling in the plugin's
  dialog, each leave the page with its message and nobody signed in.
- SIM ký số: the citizen types the phone number; the "phone" (the stand-in's /_phone/ page)
  shows the same display code and approves, rejects, or never answers (the request expires).
- VNPT SmartCA: the block under the tabs goes to SmartCA's login page and back; the request
  waits in the "SmartCA app" (the same /_phone/ page) for approve, reject or time out.

Screenshots of every tab and waiting page at 390 and 1280 px (tests/browser/pages.check)."""
from __future__ import annotations

import pytest

from standins import mobile_sim, smartca
from standins.usb_token import token_entry
from tests.browser.pages import Audit, authorize_url, check, submit
from tests.support import CITIZEN
from tests.support.apps import free_port
from tests.support.live import serve_idp, serve_portal
from tests.support.pki import serve_pki
from tests.support.standins import Control, serve_wsgi, subscriber, write_subscribers
from tests.support.usb_plugin import PluginControl, plugin_server

SMARTCA_PASSWORD = "smartca-demo"
# The page checks by itself every few seconds (idp.js data-auto-check): allow a few rounds.
WAIT_MS = 45_000


@pytest.fixture
def pki_served():
    """The test PKI's CRLs and OCSP answers on loopback (tests/support/pki.py)."""
    with serve_pki() as served:
        yield served


@pytest.fixture
def plugin(tmp_path, pki_served):
    """The USB plugin stand-in on ws://127.0.0.1:<port> with the citizen's token plugged in."""
    leaf = pki_served.pki.issue(uids=(f"CCCD:{CITIZEN.id_number}",), cn=CITIZEN.full_name)
    entries = [token_entry(leaf.cert, leaf.key, leaf.chain, label=CITIZEN.full_name)]
    with plugin_server(tmp_path / "usb", entries, tls=False) as server:
        yield server


@pytest.fixture
def idp_port() -> int:
    return free_port()


@pytest.fixture
def signers(tmp_path, pki_served, idp_port):
    """{"sim": URL, "smartca": URL}: both remote-signing stand-ins, sharing one subscriber
    file with the citizen's remote certificate (phone in its subject), as under ./run."""
    leaf = pki_served.pki.issue(uids=(f"CCCD:{CITIZEN.id_number}",), cn=CITIZEN.full_name,
                                phone="0" + CITIZEN.phone.removeprefix("+84"))
    folder = tmp_path / "signers"
    write_subscribers(folder, [subscriber(leaf, phone=CITIZEN.phone,
                                          password=SMARTCA_PASSWORD)])
    callback = f"http://127.0.0.1:{idp_port}/signin/smartca/callback"
    with serve_wsgi(mobile_sim.create_app(folder)) as sim, \
            serve_wsgi(smartca.create_app(folder, redirect_uris=[callback])) as remote:
        yield {"sim": sim, "smartca": remote}


@pytest.fixture
def live_idp(database_url, tmp_path, pki_served, plugin, signers, idp_port):
    """Overrides tests/conftest.py's live_idp for this module (the `idp` fixture builds on it):
    the same IdP on a loopback port, configured as ./run configures it for the stand-ins —
    the test PKI's roots as trust anchors, the plugin at ws://127.0.0.1:<its port>, the SIM
    and SmartCA stand-ins with their default credentials."""
    with serve_idp(database_url, port=idp_port, usb_plugin_host="127.0.0.1",
                   usb_plugin_scheme="ws", usb_plugin_ports=[str(plugin.port)],
                   mobile_sign_url=signers["sim"], mobile_sign_sp_id=mobile_sim.DEFAULT_SP_ID,
                   mobile_sign_sp_password=mobile_sim.DEFAULT_SP_PASSWORD,
                   smartca_url=signers["smartca"], smartca_client_id=smartca.DEFAULT_CLIENT_ID,
                   smartca_client_secret=smartca.DEFAULT_CLIENT_SECRET,
                   **pki_served.settings(tmp_path / "anchors")) as served:
        yield served


@pytest.fixture
def loa3_portal(idp, tmp_path):
    """The Đắk Lắk demo portal (portals/) on a loopback port, asking LoA3 at login."""
    from portals import daklak

    with serve_portal(idp, daklak, tmp_path / "portal-daklak", client_id="bt-daklak-loa3",
                      client_name="Cổng dịch vụ công tỉnh Đắk Lắk",
                      scope="openid profile phone email", login_acr="LoA3") as base:
        yield base


# -- the citizen's actions -------------------------------------------------------------------

def loa3_login(page, issuer: str, rp: str) -> None:
    """A service asking LoA3: the login page, certificate tabs only."""
    page.goto(authorize_url(issuer, rp, acr_values="LoA3"))
    page.locator(".tab--active").wait_for()
    assert page.locator("#password").count() == 0


def usb_tab(page) -> None:
    """The USB ký số tab is the one shown (the first certificate tab)."""
    page.get_by_test_id("usb-submit").wait_for()
    assert page.locator(".tab--active").inner_text().strip() == "USB ký số"
    assert page.locator("#password").count() == 0


def usb_message(page, message_id: str) -> str:
    """Wait for the page's status line to show `message_id`; its text, which must be the
    form's own data-msg-<id> (the script holds no text of its own)."""
    page.locator(f"[data-usb-status][data-usb-message={message_id}]").wait_for()
    text = page.locator("[data-usb-status]").inner_text().strip()
    assert text and text == page.locator("form[data-usb-signer]").get_attribute(
        f"data-msg-{message_id}")
    assert page.get_by_test_id("usb-submit").is_enabled()  # the citizen may try again
    return text


def sim_request(page, number: str) -> None:
    """On the SIM ký số tab: the number, "Gửi yêu cầu ký số" → the waiting page."""
    if page.get_by_test_id("sim-submit").count() == 0:
        with page.expect_navigation(wait_until="load"):
            page.get_by_test_id("tab-sim").click()
    page.get_by_label("Số điện thoại hoặc số định danh cá nhân").fill(number)
    submit(page, page.get_by_test_id("sim-submit"))
    page.get_by_test_id("display-code").wait_for()


def smartca_request(page, id_number: str) -> None:
    """The VNPT SmartCA block → SmartCA's login page (the stand-in) → back, waiting."""
    submit(page, page.get_by_test_id("smartca-submit"))
    page.locator("input[name=username]").fill(id_number)
    page.locator("input[name=password]").fill(SMARTCA_PASSWORD)
    submit(page, page.get_by_role("button", name="Đăng nhập và đồng ý"))
    page.get_by_test_id("display-code").wait_for()


def on_the_phone(context, service: str, who: str, display_code: str, decision: str) -> None:
    """The citizen's phone (the stand-in's /_phone/ page): the request shows the display code
    of the IdP's page; press Đồng ý or Từ chối."""
    phone = context.new_page()
    try:
        phone.goto(f"{service}/_phone/{who}")
        assert phone.locator(".display").all_inner_texts() == [display_code]
        phone.get_by_role("button", name=decision).click()
        phone.locator("p.empty").wait_for()
    finally:
        phone.close()


def back_with(page, message_id: str) -> None:
    """The remote signing ended without a login: the sign-in page again, saying why."""
    page.locator(f"[data-msg='{message_id}']").wait_for(timeout=WAIT_MS)
    assert page.get_by_test_id("display-code").count() == 0


# -- USB ký số -------------------------------------------------------------------------------

def test_usb_token_signs_in_at_loa3_at_the_portal(idp, loa3_portal, plugin, page):
    issuer, _ = idp
    audit = Audit()
    with page.expect_navigation(wait_until="load"):
        page.goto(loa3_portal + "/auth/login")
    page.wait_for_url(issuer + "/**")
    usb_tab(page)
    check(page, "login-usb", audit)
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("usb-submit").click()
    page.wait_for_url(loa3_portal + "/**")
    page.get_by_test_id("logout").wait_for()
    page.goto(loa3_portal + "/thong-tin")
    assert page.get_by_test_id("claim-acr").get_attribute("data-acr") == "LoA3"
    assert page.get_by_test_id("claim-name").inner_text() == CITIZEN.full_name
    # The page's script made the calls, from the IdP's page.
    calls = plugin.plugin.calls
    assert [c["function"] for c in calls] == [7, 0, 4]  # checkPlugin, getCertInfo, signCms
    assert {c["origin"] for c in calls} == {issuer}
    audit.assert_clean()


def test_plugin_not_running_says_so(idp, rp_server, plugin, page):
    issuer, _ = idp
    audit = Audit()
    loa3_login(page, issuer, rp_server)
    usb_tab(page)
    plugin.stop()  # nothing listens on its port any more
    page.get_by_test_id("usb-submit").click()
    usb_message(page, "unavailable")
    check(page, "login-usb-unavailable", audit)
    assert page.url.startswith(issuer)
    audit.assert_clean()


def test_the_citizen_cancels_in_the_plugin(idp, rp_server, plugin, page):
    issuer, _ = idp
    with PluginControl(plugin.control_url) as control:
        control.configure(mode="cancel")
    loa3_login(page, issuer, rp_server)
    usb_tab(page)
    page.get_by_test_id("usb-submit").click()
    usb_message(page, "cancelled")
    assert page.url.startswith(issuer)
    # The citizen tries again and this time types the PIN: signed in.
    with PluginControl(plugin.control_url) as control:
        control.configure(mode="ok")
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("usb-submit").click()
    page.wait_for_url(rp_server + "/portal/callback?**")


# -- SIM ký số -------------------------------------------------------------------------------

def test_sim_approved_on_the_phone_signs_in_at_loa3(idp, loa3_portal, signers, page):
    issuer, _ = idp
    audit = Audit()
    page.goto(loa3_portal + "/auth/login")
    page.wait_for_url(issuer + "/**")
    with page.expect_navigation(wait_until="load"):
        page.get_by_test_id("tab-sim").click()
    check(page, "login-sim", audit)
    sim_request(page, "0" + CITIZEN.phone.removeprefix("+84"))
    check(page, "login-sim-wait", audit)
    code = page.get_by_test_id("display-code").inner_text().strip()
    on_the_phone(page.context, signers["sim"], CITIZEN.phone, code, "Đồng ý")
    page.wait_for_url(loa3_portal + "/**", timeout=WAIT_MS)  # the page checked by itself
    page.goto(loa3_portal + "/thong-tin")
    assert page.get_by_test_id("claim-acr").get_attribute("data-acr") == "LoA3"
    audit.assert_clean()


def test_sim_rejected_on_the_phone(idp, rp_server, signers, page):
    issuer, _ = idp
    loa3_login(page, issuer, rp_server)
    sim_request(page, CITIZEN.id_number)
    code = page.get_by_test_id("display-code").inner_text().strip()
    on_the_phone(page.context, signers["sim"], CITIZEN.id_number, code, "Từ chối")
    back_with(page, "signer.rejected")
    assert page.get_by_test_id("sim-submit").count() == 1  # the SIM tab, to send again
    assert page.url.startswith(issuer)


def test_sim_not_answered_in_time(idp, rp_server, signers, page):
    issuer, _ = idp
    Control(signers["sim"]).settings(lifetime=2)  # the phone's request lives 2 s
    loa3_login(page, issuer, rp_server)
    sim_request(page, CITIZEN.id_number)
    back_with(page, "signer.expired")
    assert page.url.startswith(issuer)


# -- VNPT SmartCA ----------------------------------------------------------------------------

def test_smartca_approved_in_the_app_signs_in_at_loa3(idp, loa3_portal, signers, page):
    issuer, _ = idp
    audit = Audit()
    page.goto(loa3_portal + "/auth/login")
    page.wait_for_url(issuer + "/**")
    page.get_by_test_id("smartca-block").wait_for()
    smartca_request(page, CITIZEN.id_number)
    check(page, "login-smartca-wait", audit)
    code = page.get_by_test_id("display-code").inner_text().strip()
    on_the_phone(page.context, signers["smartca"], CITIZEN.id_number, code, "Đồng ý")
    page.wait_for_url(loa3_portal + "/**", timeout=WAIT_MS)
    page.goto(loa3_portal + "/thong-tin")
    assert page.get_by_test_id("claim-acr").get_attribute("data-acr") == "LoA3"
    audit.assert_clean()


def test_smartca_rejected_in_the_app(idp, rp_server, signers, page):
    issuer, _ = idp
    audit = Audit()
    loa3_login(page, issuer, rp_server)
    smartca_request(page, CITIZEN.id_number)
    code = page.get_by_test_id("display-code").inner_text().strip()
    on_the_phone(page.context, signers["smartca"], CITIZEN.id_number, code, "Từ chối")
    back_with(page, "signer.rejected")
    page.get_by_test_id("smartca-block").wait_for()
    check(page, "login-smartca-rejected", audit)
    audit.assert_clean()


def test_smartca_not_answered_in_time(idp, rp_server, signers, page):
    issuer, _ = idp
    Control(signers["smartca"]).settings(lifetime=2)
    loa3_login(page, issuer, rp_server)
    smartca_request(page, CITIZEN.id_number)
    back_with(page, "signer.expired")
    assert page.url.startswith(issuer)
