"""Browser tests (marker `browser`): Playwright for Python driving Debian's Chromium
(/usr/bin/chromium, or IDP_TEST_CHROMIUM) against the IdP on a real HTTP server (SQLite).

No browser is ever downloaded: when Chromium or Playwright is missing the tests are skipped
with a message, except under CI=true where they fail. Screenshots go to
test-artifacts/screenshots/ (IDP_TEST_SCREENSHOTS moves it); axe-core (vendored, pinned, in
vendor/axe.min.js) is injected into every page checked."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
# Generous: two cores shared with `-n auto` and Argon2 hashing on every login.
TIMEOUT_MS = 30_000
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def _unavailable(why: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests are required under CI: {why}")
    pytest.skip(f"browser tests skipped: {why}")


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium per xdist worker."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) \
            and not shutil.which(CHROMIUM):
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the "test" extra installs it
        _unavailable(f"playwright is not installed ({exc})")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                    headless=True, timeout=60_000)
        yield browser
        browser.close()


@pytest.fixture
def database_url(tmp_path):
    """Browser tests run on SQLite only (overrides the sqlite/postgresql parametrisation)."""
    return f"sqlite:///{tmp_path / 'idp.sqlite3'}"


@pytest.fixture(scope="session")
def rp_server():
    """A stand-in for the relying parties' callback pages (any path answers 200) on a random
    loopback port: the browser really arrives there after the IdP's redirect."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = b"<!doctype html><html lang='vi'><title>RP</title><p>RP</p></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def idp(request, monkeypatch, tmp_path, rp_server):
    """(issuer, app): the IdP on a random loopback port with its own instance folder, so its
    SMS outbox holds only this test's messages. Two clients are added whose redirect URI is
    the stand-in RP: `bt-portal` (first party, like dvc-daklak) and `bt-spa` (third-party
    public client like demo-spa: consent screen)."""
    from idp.platform.crypto import hash_secret
    from idp.platform.db import db
    from idp.platform.models import Client
    from tests.support import ALL_SCOPES, SECRET

    monkeypatch.setenv("IDP_INSTANCE_DIR", str(tmp_path / "instance"))
    issuer, app = request.getfixturevalue("live_idp")
    with app.app_context():
        portal = Client(client_id="bt-portal", client_secret_hash=hash_secret(SECRET))
        portal.set_metadata({"client_name": "Cổng dịch vụ công tỉnh Đắk Lắk",
                             "redirect_uris": [rp_server + "/portal/callback"],
                             "post_logout_redirect_uris": [rp_server + "/portal/"],
                             "scope": ALL_SCOPES,
                             "token_endpoint_auth_method": "client_secret_basic"})
        spa = Client(client_id="bt-spa", client_secret_hash=None)
        spa.set_metadata({"client_name": "Ứng dụng tra cứu hồ sơ (bên thứ ba)",
                          "redirect_uris": [rp_server + "/spa/callback"],
                          "scope": ALL_SCOPES, "token_endpoint_auth_method": "none",
                          "first_party": False})
        db.session.add_all([portal, spa])
        db.session.commit()
    return issuer, app


@pytest.fixture
def context(chromium):
    ctx = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


@pytest.fixture
def page(request, context):
    """A fresh page; when the test fails, its last state is saved as
    test-artifacts/failures/<test>.png and .html for diagnosis."""
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not page.is_closed():
        from tests.browser.pages import SCREENSHOTS
        folder = SCREENSHOTS.parent / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / request.node.name.replace("/", "_")
        try:
            page.screenshot(path=f"{stem}.png", full_page=True)
            stem.with_suffix(".html").write_text(f"<!-- {page.url} -->\n" + page.content(),
                                                 encoding="utf-8")
        except Exception:  # noqa: BLE001 - diagnosis only
            pass
