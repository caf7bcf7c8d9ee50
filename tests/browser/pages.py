"""Helpers for the browser tests: drive the real hosted pages (forms, captcha through the test
hook, SMS code typed into the six OTP boxes), save screenshots at desktop and phone width,
check the phone width and run axe-core."""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlencode

from tests.support.oidc import auth_params, pkce_pair
from tests.support.sms import sms_count, wait_for_code

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("IDP_TEST_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
# Every axe finding (minor and moderate too), one JSON file per page: for review, not asserted.
AXE_REPORTS = SCREENSHOTS.parent / "axe"
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}  # the staff console's counters (issue 17)
BLOCKING = ("serious", "critical")


class AccessibilityViolation(AssertionError):
    """axe-core found a serious or critical violation."""


class Audit:
    """Collects axe findings over a test's pages; `assert_clean()` at the end of the test
    raises AccessibilityViolation (so a known finding can be xfail(raises=...) without hiding
    any other failure of the same test)."""

    def __init__(self):
        self.findings: list[str] = []

    def add(self, name: str, violations: list[dict]) -> None:
        for v in violations:
            if v.get("impact") not in BLOCKING:
                continue
            targets = "; ".join(" ".join(n["target"]) if isinstance(n["target"], list)
                                else str(n["target"]) for n in v["nodes"][:5])
            self.findings.append(f"{name}: [{v['impact']}] {v['id']} ({v['help']}) at {targets}")

    def assert_clean(self) -> None:
        if self.findings:
            unique = list(dict.fromkeys(self.findings))
            raise AccessibilityViolation("axe-core violations:\n" + "\n".join(unique))


def axe(page) -> list[dict]:
    """Run axe-core (WCAG 2.x A/AA and best practices) on the page; its violations."""
    if not page.evaluate("() => !!window.axe"):
        # Evaluated through the DevTools protocol, which the page's CSP (script-src 'self')
        # does not govern; the page itself keeps its real CSP.
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations'],
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                            'wcag22aa', 'best-practice']}});
        return JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact,
            help: v.help, nodes: v.nodes.map(n => ({target: n.target, html: n.html}))})));
    }""")
    return json.loads(result)


def check(page, name: str, audit: Audit) -> None:
    """Screenshots `<name>-desktop.png` and `<name>-phone.png`, axe at both widths, and no
    horizontal scrolling at 390 px."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    desktop = axe(page)
    audit.add(f"{name} (desktop)", desktop)
    page.set_viewport_size(PHONE)
    # Layout settles synchronously on resize; wait one frame for good measure.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    phone = axe(page)
    audit.add(f"{name} (phone)", phone)
    AXE_REPORTS.mkdir(parents=True, exist_ok=True)
    (AXE_REPORTS / f"{name}.json").write_text(json.dumps(
        {"url": page.url, "desktop": desktop, "phone": phone}, ensure_ascii=False, indent=1),
        encoding="utf-8")
    page.set_viewport_size(DESKTOP)
    assert width <= PHONE["width"], f"{name}: horizontal scroll at 390 px (scrollWidth {width})"


def check_staff(page, name: str, audit: Audit) -> None:
    """The staff console's screens: `<name>-desktop.png` (1280 px) and `<name>-tablet.png`
    (820 px), axe at both, and no horizontal scrolling on the tablet."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    for label, size in (("desktop", DESKTOP), ("tablet", TABLET)):
        page.set_viewport_size(size)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        audit.add(f"{name} ({label})", axe(page))
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name}: horizontal scroll at {size['width']} px"
    page.set_viewport_size(DESKTOP)


# -- the citizen's actions -------------------------------------------------------------------

# sms_count and wait_for_code: the one SMS gateway fake (tests/support/sms.py), re-exported.
__all__ = ["SCREENSHOTS", "Audit", "answer_captcha", "authorize_url", "check", "fill_login",
           "login", "login_with_code", "sms_count", "submit", "type_otp", "verify_otp",
           "wait_for_code"]


def authorize_url(issuer: str, rp: str, client_id: str = "bt-portal", **params) -> str:
    """The /authorize address of an authorization request by one of the browser tests'
    clients (`bt-portal`, `bt-spa`: tests/browser/conftest.py) back to the stand-in RP."""
    _, challenge = pkce_pair()
    path = "/spa/callback" if client_id == "bt-spa" else "/portal/callback"
    return f"{issuer}/authorize?" + urlencode(auth_params(
        client_id=client_id, redirect_uri=rp + path, challenge=challenge, **params))


def answer_captcha(page, issuer: str) -> None:
    captcha_id = page.locator("input[name=captcha_id]").input_value()
    r = page.context.request.get(f"{issuer}/_test/captcha/{captcha_id}")
    assert r.ok, f"captcha hook: {r.status}"
    page.fill("#captcha", r.text())


def submit(page, button) -> None:
    """Click a submit button and wait for the page it leads to."""
    with page.expect_navigation(wait_until="load"):
        button.click()


def fill_login(page, issuer: str, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    answer_captcha(page, issuer)


def login(page, issuer: str, username: str, password: str) -> None:
    """On the login page: fill the form and submit it."""
    fill_login(page, issuer, username, password)
    submit(page, page.get_by_test_id("login-submit"))


def login_with_code(page, issuer: str, app, username: str, password: str, phone: str) -> None:
    """On the login page: the password, then the SMS code every login asks (login_min_acr
    LoA2), read from the outbox."""
    already = sms_count(app, phone)
    login(page, issuer, username, password)
    verify_otp(page, wait_for_code(app, phone, already))


def type_otp(page, code: str) -> None:
    """Type the code into the six boxes (idp.js) the way a citizen does: focus the first box
    and type; the script moves the focus and fills the real `otp` field."""
    boxes = page.locator(".otp-boxes input")
    boxes.first.wait_for(state="visible")
    assert boxes.count() == 6
    boxes.first.click()
    page.keyboard.type(code)
    assert page.locator("input[name=otp]").input_value() == code


def verify_otp(page, code: str) -> None:
    type_otp(page, code)
    submit(page, page.locator("button[name=action][value=verify]"))
