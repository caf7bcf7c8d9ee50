"""Issue 11 item 6, low-severity findings: one regression test per finding (each fails on the
code before the fix), plus the checks that the fix keeps the legitimate cases working."""
from __future__ import annotations

import http.server
import json
import os
import re
import socket
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from click.testing import CliRunner

from idp.cli import main
from idp.platform.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent

SECURE = {"IDP_ENV": "production", "IDP_ISSUER": "https://xacthuc.daklak.gov.vn",
          "IDP_SECRET_KEY": "s" * 40, "IDP_KEK": "A" * 43,
          "IDP_DATABASE_URL": "postgresql://idp@db/idp", "IDP_SMS_PROVIDER": "http",
          "IDP_SMS_HTTP_URL": "https://sms.internal/send"}


def _cli(env: dict, *args: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _init_ok(env: dict) -> None:
    result = _cli(env, "init")
    assert result.exit_code == 0, result.output


def _production_cli_env(tmp_path: Path, **extra) -> dict:
    return {**SECURE, "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}",
            "IDP_INSTANCE_DIR": str(tmp_path / "instance"),
            "IDP_KEK_FILE": str(tmp_path / "kek.key"), "WEB_CONCURRENCY": "1", **extra}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ============================================================ 1. `idp init --demo` in production

def test_init_demo_is_refused_in_production_and_writes_nothing(tmp_path):
    env = _production_cli_env(tmp_path)
    result = _cli(env, "init", "--demo")
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--demo" in lines[0]
    assert "production" in lines[0] and "Traceback" not in result.output
    assert not (tmp_path / "idp.sqlite3").exists()
    assert not (tmp_path / "instance").exists() and not (tmp_path / "kek.key").exists()
    # Without --demo the same production settings initialise the database as before.
    _init_ok(env)
    assert (tmp_path / "idp.sqlite3").exists()


def test_init_demo_still_works_in_development(tmp_path):
    env = _production_cli_env(tmp_path, IDP_ENV="development",
                              IDP_ISSUER="http://127.0.0.1:5000")
    result = _cli(env, "init", "--demo")
    assert result.exit_code == 0, result.output
    assert "demo citizens: 5 added" in result.stdout


# ============================================================ 2. language-switch links

def _lang_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="lang-switch".*?</nav>', html, re.S)
    assert nav, "no language switch on the page"
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*)"', nav.group(0))]


@pytest.mark.parametrize("path_info", [
    "/\\evil.com",        # GET /%5Cevil.com (the server decodes %5C)
    "//evil.com",         # GET //evil.com
    "///evil.com",        # GET /%2F%2Fevil.com (the server decodes %2F)
    "/\t/evil.com",       # GET /%09/evil.com
    "/\\/evil.com",
])
def test_language_links_never_leave_the_site(sqlite_app, path_info):
    client = sqlite_app.test_client()
    r = client.get("/", environ_overrides={"PATH_INFO": path_info})
    links = _lang_links(r.get_data(as_text=True))
    assert len(links) == 2
    for href in links:
        assert href.startswith("/") and not href.startswith("//"), href
        assert "\\" not in href and not any(ord(c) < 0x21 for c in href), href
        assert urlsplit(urljoin("https://xacthuc.daklak.gov.vn/a/b", href)).netloc == \
            "xacthuc.daklak.gov.vn"


def test_language_link_of_an_encoded_backslash_request(sqlite_app):
    r = sqlite_app.test_client().get("/%5Cevil.com")
    assert r.status_code == 404
    assert _lang_links(r.get_data(as_text=True)) == ["/%5Cevil.com?lang=vi",
                                                     "/%5Cevil.com?lang=en"]


def test_language_links_keep_the_page_and_its_query(sqlite_app):
    client = sqlite_app.test_client()
    r = client.get("/lost-phone?x=1&lang=vi&y=a%5Cb")
    assert r.status_code == 200
    assert _lang_links(r.get_data(as_text=True)) == ["/lost-phone?x=1&y=a%5Cb&lang=vi",
                                                     "/lost-phone?x=1&y=a%5Cb&lang=en"]
    # A route argument is re-encoded, never echoed raw.
    r = client.get("/flows/%5Cevil.com")
    assert r.status_code < 500
    assert _lang_links(r.get_data(as_text=True))[1] == "/flows/%5Cevil.com?lang=en"


# ============================================================ 3. back-channel logout URIs

CLIENT = {"client_id": "rp-bcl", "client_name": "Cổng thử nghiệm",
          "redirect_uris": ["https://rp.example.vn/cb"],
          "client_secret": "rp-bcl-secret-0123456789abcdefghijklmn",
          "backchannel_logout_session_required": True}


@pytest.mark.parametrize("uri, reason", [
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://10.0.0.8/bcl", "nội bộ"),
    ("https://192.168.1.20/bcl", "nội bộ"),
    ("https://localhost/bcl", "loopback"),
    ("https://127.0.0.1:8443/bcl", "loopback"),
    ("https://[::ffff:10.0.0.8]/bcl", "nội bộ"),
    ("http://127.0.0.1:5001/auth/backchannel-logout", "https"),
])
def test_clients_import_refuses_internal_backchannel_uris_in_production(tmp_path, uri, reason):
    env = _production_cli_env(tmp_path)
    _init_ok(env)
    path = tmp_path / "clients.json"
    path.write_text(json.dumps([dict(CLIENT, backchannel_logout_uri=uri)]), encoding="utf-8")
    result = _cli(env, "clients", "import", str(path))
    assert result.exit_code == 1, result.output
    assert "backchannel_logout_uri" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.output
    # clients add goes through the same check
    result = _cli(env, "clients", "add", "--client-id", "rp-add", "--name", "RP",
                  "--redirect-uri", "https://rp.example.vn/cb", "--backchannel-logout-uri", uri)
    assert result.exit_code == 1 and "backchannel_logout_uri" in result.stderr


def test_allow_listed_host_and_development_loopback_are_accepted(tmp_path):
    env = _production_cli_env(tmp_path, IDP_BACKCHANNEL_LOGOUT_ALLOWED_HOSTS="10.0.0.8, x.vn")
    _init_ok(env)
    path = tmp_path / "clients.json"
    path.write_text(json.dumps([dict(CLIENT, backchannel_logout_uri="https://10.0.0.8/bcl")]),
                    encoding="utf-8")
    assert _cli(env, "clients", "import", str(path)).exit_code == 0

    dev = _production_cli_env(tmp_path / "dev", IDP_ENV="development",
                              IDP_ISSUER="http://127.0.0.1:5000")
    (tmp_path / "dev").mkdir()
    assert _cli(dev, "init").exit_code == 0
    path.write_text(json.dumps([dict(CLIENT, backchannel_logout_uri="http://127.0.0.1:5001/b")]),
                    encoding="utf-8")
    assert _cli(dev, "clients", "import", str(path)).exit_code == 0
    # ... but link-local (the cloud metadata service) is refused in development too.
    path.write_text(json.dumps([dict(CLIENT, client_id="rp2",
                                     backchannel_logout_uri="https://169.254.169.254/x")]),
                    encoding="utf-8")
    assert _cli(dev, "clients", "import", str(path)).exit_code == 1


@contextmanager
def _receiver():
    """A loopback HTTP server recording the POSTs it gets."""
    got = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers["Host"], self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], got
    finally:
        server.shutdown()
        server.server_close()


def test_delivery_rechecks_dns_and_pins_the_checked_address(monkeypatch):
    """DNS rebinding: a name that resolved to a public address at registration now resolves to
    127.0.0.1. In production the delivery is refused before any connection; in development the
    pinned connection reaches the address that was checked, with the original Host."""
    from idp.platform import netguard
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kw):
        if host == "rp.example.vn":
            return real("127.0.0.1", port, *args, **kw)
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(netguard.BlockedURL) as exc:
        netguard.resolve_checked("rp.example.vn", 443, (), production=True)
    assert exc.value.code == "loopback" and isinstance(exc.value, ValueError)
    with pytest.raises(netguard.BlockedURL):
        netguard.connection("https://rp.example.vn/bcl", 2.0, production=True)
    assert netguard.resolve_checked("rp.example.vn", 443, ["rp.example.vn"], production=True)

    with _receiver() as (port, got):
        conn = netguard.connection(f"http://rp.example.vn:{port}/bcl", 2.0, production=False)
        conn.request("POST", "/bcl", body=b"logout_token=x",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert conn.getresponse().status == 200
        conn.close()
    assert got == [(f"rp.example.vn:{port}", "/bcl", b"logout_token=x")]


@pytest.mark.parametrize("address, production, blocked", [
    ("8.8.8.8", True, False), ("2001:4860:4860::8888", True, False),
    ("127.0.0.1", False, False), ("::1", False, False), ("127.0.0.1", True, True),
    ("10.1.2.3", False, True), ("172.16.0.1", True, True), ("192.168.0.1", True, True),
    ("169.254.169.254", False, True), ("fe80::1", False, True), ("100.64.0.1", True, True),
    ("0.0.0.0", False, True), ("224.0.0.1", True, True), ("fd00::1", True, True),
    ("::ffff:169.254.169.254", False, True),
])
def test_address_rules(address, production, blocked):
    from idp.platform.netguard import BlockedURL, check_address
    if blocked:
        with pytest.raises(BlockedURL):
            check_address(address, production)
    else:
        check_address(address, production)


# ============================================================ 4. SMS/KYC gateways over https

@pytest.mark.parametrize("change, key", [
    ({"IDP_SMS_HTTP_URL": "http://sms.internal/send"}, "sms_http_url"),
    ({"IDP_KYC_PROVIDER": "http", "IDP_KYC_HTTP_URL": "http://kyc.internal/check"},
     "kyc_http_url"),
])
def test_production_refuses_plain_http_gateways(change, key):
    with pytest.raises(ConfigError) as exc:
        load_settings(environ=dict(SECURE, **change))
    assert key in str(exc.value) and "https" in str(exc.value) and "\n" not in str(exc.value)
    # Outside production (the local stand-ins) http stays allowed.
    load_settings(environ=dict(SECURE, IDP_ENV="test", IDP_ISSUER="http://127.0.0.1:5000",
                               **change))
    ok = dict(SECURE, IDP_KYC_PROVIDER="http", IDP_KYC_HTTP_URL="https://kyc.internal/check")
    assert load_settings(environ=ok)["kyc_http_url"].startswith("https://")


# ============================================================ 5. /metrics

def _production_app(tmp_path, **overrides):
    from idp import create_app
    return create_app({"env": "production", "issuer": "https://xacthuc.daklak.gov.vn",
                       "secret_key": "s" * 40, "kek": "A" * 43, "sms_provider": "http",
                       "sms_http_url": "https://sms.internal/send",
                       "database_url": f"sqlite:///{tmp_path / 'idp.sqlite3'}", **overrides})


def test_metrics_are_not_public_in_production(tmp_path):
    app = _production_app(tmp_path)
    r = app.test_client().get("/metrics", base_url="https://xacthuc.daklak.gov.vn")
    assert r.status_code == 404
    assert b"idp_http_requests" not in r.data


def test_metrics_token_is_required_when_configured(tmp_path):
    token = "m" * 40
    app = _production_app(tmp_path, metrics_token=token)
    client = app.test_client()
    kw = {"base_url": "https://xacthuc.daklak.gov.vn"}
    for headers in ({}, {"Authorization": "Bearer " + "x" * 40},
                    {"Authorization": "Basic " + token}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer " + token[:-1]}):
        r = client.get("/metrics", headers=headers, **kw)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"idp_http_requests" not in r.data
    r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}, **kw)
    assert r.status_code == 200 and b"idp_http_requests_total" in r.data


def test_metrics_stay_open_in_test_without_token_and_short_tokens_are_refused(sqlite_app):
    assert sqlite_app.test_client().get("/metrics").status_code == 200
    with pytest.raises(ConfigError, match="IDP_METRICS_TOKEN"):
        load_settings(environ=dict(SECURE, IDP_METRICS_TOKEN="short"))


# ============================================================ 6. file modes

def test_database_instance_and_keys_are_private(tmp_path, monkeypatch):
    from idp import create_app
    from idp.platform.db import db
    old = os.umask(0o022)
    try:
        instance, keys = tmp_path / "instance", tmp_path / "keys"
        monkeypatch.setenv("IDP_INSTANCE_DIR", str(instance))
        monkeypatch.setenv("IDP_KEK_FILE", str(keys / "kek.key"))
        data = tmp_path / "data"
        data.mkdir()
        legacy = data / "old.sqlite3"
        legacy.touch(mode=0o644)
        os.chmod(legacy, 0o644)
        for name in ("idp.sqlite3", "old.sqlite3"):
            app = create_app({"env": "development", "database_url": f"sqlite:///{data / name}"})
            with app.app_context():
                db.create_all()
                db.engine.dispose()
            assert _mode(data / name) == 0o600, name
        assert _mode(instance) == 0o700
        assert _mode(instance / "secret_key") == 0o600
        assert _mode(keys) == 0o700 and _mode(keys / "kek.key") == 0o600
    finally:
        os.umask(old)


def test_operator_named_folders_are_not_changed(tmp_path, monkeypatch):
    """IDP_KEK_FILE in an existing shared folder: only the file is ours."""
    from idp.platform.keys import load_kek
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    monkeypatch.setenv("IDP_KEK_FILE", str(shared / "kek.key"))
    load_kek({"kek": "", "env": "development"}, create=True)
    assert _mode(shared) == 0o755 and _mode(shared / "kek.key") == 0o600


# ============================================================ 7. nginx logs no query strings

_QUERY_VARS = re.compile(r"\$(request|request_uri|args|query_string|is_args|arg_\w+)\b")


def _log_formats(conf: str) -> dict[str, str]:
    return {m.group(1): m.group(2)
            for m in re.finditer(r"^\s*log_format\s+(\w+)\s+(.*?);", conf, re.S | re.M)}


@pytest.mark.parametrize("source", ["config/nginx.example.conf", "tests/system/harness.py"])
def test_nginx_access_logs_have_no_query_strings(source):
    conf = (ROOT / source).read_text(encoding="utf-8")
    formats = _log_formats(conf)
    assert formats, source
    for name, fmt in formats.items():
        assert "$uri" in fmt, name
        assert not _QUERY_VARS.search(fmt), f"{source}: log_format {name}: {fmt}"
    for used in re.findall(r"^\s*access_log\s+\S+\s+(\w+)\s*;", conf, re.M):
        assert used in formats  # never nginx's built-in "combined" (it logs $request)
