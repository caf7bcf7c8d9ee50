"""First run (issue 12 item 6): the page at `/`, `idp demo reset`, and a README that stands on
its own. `./run` itself is exercised in tests/system/test_first_run_system.py."""
from __future__ import annotations

import http.server
import json
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from idp import create_app
from idp.cli import main
from idp.platform.config import ConfigError, load_settings
from tests.support.apps import TEST_SETTINGS, free_port

ROOT = Path(__file__).resolve().parent.parent
DEMO_CITIZENS = [json.loads(line) for line in
                 (ROOT / "idp/data/demo_citizens.jsonl").read_text().splitlines() if line]
PRODUCTION = {"env": "production", "issuer": "https://xacthuc.daklak.gov.vn",
              "secret_key": "s" * 40, "kek": "A" * 43, "sms_provider": "http",
              "sms_http_url": "https://sms.internal/send", "test_hooks": 0}


def landing_app(tmp_path, **overrides):
    # No outbox thread in a test process ("auto" would start one on the first request).
    return create_app({**TEST_SETTINGS, "database_url": f"sqlite:///{tmp_path / 'idp.sqlite3'}",
                       "outbox_inline_worker": "off", **overrides})


# --- The page at / -----------------------------------------------------------------------------

def test_development_landing_links_portals_sms_page_and_demo_accounts(tmp_path):
    client = landing_app(tmp_path, env="development").test_client()
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    # Both demo portals, named after their client registrations.
    for url, name in (("http://127.0.0.1:5001", "Cổng dịch vụ công tỉnh Đắk Lắk"),
                      ("http://127.0.0.1:5002", "Cổng Dịch vụ công Quốc gia")):
        assert f'href="{url}"' in html and name in html
    assert 'href="/_dev/sms"' in html
    assert client.get("/_dev/sms").status_code == 200  # the link leads somewhere
    # The demo accounts, from the file `idp init --demo` loads.
    assert len(DEMO_CITIZENS) == 5
    for citizen in DEMO_CITIZENS:
        assert citizen["id_number"] in html and citizen["password"] in html
    assert 'id="demo-accounts"' in html and "Tài khoản thử nghiệm" in html
    # English through the language switch.
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Demo accounts" in english and "Demo public-service portals" in english
    assert "Tài khoản thử nghiệm" not in english


def test_development_landing_shows_the_demo_staff_and_their_current_code(tmp_path):
    import pyotp

    from idp.cli.initialize import DEMO_STAFF
    html = landing_app(tmp_path, env="development").test_client().get("/").get_data(
        as_text=True)
    members = json.loads(DEMO_STAFF.read_text(encoding="utf-8"))
    assert {m["role"] for m in members} == {"clerk", "support", "admin"}
    assert 'id="demo-staff"' in html and 'href="/staff/login"' in html
    for member in members:
        totp = pyotp.TOTP(member["totp_secret"])
        # The code of this 30-second step or of the one just before (the page was rendered
        # a moment ago).
        codes = {totp.now(), totp.at(time.time() - 30)}
        assert member["username"] in html and member["password"] in html
        assert any(f"<code>{c}</code>" in html for c in codes)


def test_development_portal_urls_follow_the_configuration(tmp_path):
    html = landing_app(tmp_path, env="development",
                       dev_portal_urls=["http://127.0.0.1:6101", "http://127.0.0.1:5002"]
                       ).test_client().get("/").get_data(as_text=True)
    # A port the demo clients are not registered on: shown as its address.
    assert 'href="http://127.0.0.1:6101">127.0.0.1:6101<' in html
    assert 'href="http://127.0.0.1:5001"' not in html
    assert "Cổng Dịch vụ công Quốc gia" in html


@pytest.mark.parametrize("env", ["production", "test"])
def test_landing_outside_development_shows_no_demo_data(tmp_path, env):
    overrides = PRODUCTION if env == "production" else {"env": "test"}
    client = landing_app(tmp_path, **overrides).test_client()
    r = client.get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Hệ thống xác thực công dân" in html and 'href="/account/"' in html
    for citizen in DEMO_CITIZENS:
        assert citizen["id_number"] not in html and citizen["password"] not in html
    assert "127.0.0.1:5001" not in html and "demo-accounts" not in html
    assert "demo-staff" not in html
    if env == "production":
        assert "/_dev/sms" not in html
        assert client.get("/_dev/sms").status_code == 404


def test_home_url_redirects(tmp_path):
    client = landing_app(tmp_path, **PRODUCTION,
                         home_url="https://dichvucong.daklak.gov.vn").test_client()
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "https://dichvucong.daklak.gov.vn"


@pytest.mark.parametrize("env, message", [
    ({"IDP_HOME_URL": "dichvucong.daklak.gov.vn"}, "home_url"),
    ({"IDP_DEV_PORTAL_URLS": "http://127.0.0.1:5001,javascript:alert(1)"}, "dev_portal_urls"),
    ({"IDP_ENV": "production", "IDP_ISSUER": "https://xacthuc.daklak.gov.vn",
      "IDP_SECRET_KEY": "s" * 40, "IDP_KEK": "A" * 43, "IDP_SMS_PROVIDER": "http",
      "IDP_SMS_HTTP_URL": "https://sms.internal/send",
      "IDP_HOME_URL": "http://dichvucong.daklak.gov.vn"}, "home_url must be an https"),
])
def test_landing_settings_are_validated(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_idp_port_is_not_a_setting():
    """./run reads IDP_PORT; an exported one must not break the configuration."""
    assert "port" not in load_settings(environ={"IDP_PORT": "5100"})


# --- idp demo reset ----------------------------------------------------------------------------

class Demo:
    """`idp ...` against a demo instance folder in tmp_path (the default SQLite file there)."""

    def __init__(self, tmp_path: Path):
        self.instance = tmp_path / "instance"
        self.portals = tmp_path / "portals"
        self.env = {"IDP_INSTANCE_DIR": str(self.instance), "IDP_KEK_FILE": str(tmp_path / "kek"),
                    "PORTAL_INSTANCE_DIR": str(self.portals), "IDP_ENV": "development",
                    # Nothing listens there: no ./run is running for this instance.
                    "IDP_ISSUER": f"http://127.0.0.1:{free_port()}",
                    "IDP_DATABASE_URL": None, "IDP_REDIS_URL": None}

    def __call__(self, *args: str, input: str | None = None, **env):
        return CliRunner().invoke(main, list(args), env={**self.env, **env}, input=input,
                                  catch_exceptions=False)

    def sql(self, query: str) -> list[tuple]:
        with sqlite3.connect(self.instance / "idp.sqlite3") as conn:
            return conn.execute(query).fetchall()

    def ids(self) -> set[str]:
        return {row[0] for row in self.sql("SELECT id_number FROM citizens")}


@pytest.fixture
def demo(tmp_path) -> Demo:
    d = Demo(tmp_path)
    assert d("init", "--demo").exit_code == 0
    return d


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_demo_reset_erases_everything_and_reloads_the_demo(demo, tmp_path):
    demo_ids = {c["id_number"] for c in DEMO_CITIZENS}
    assert demo.ids() == demo_ids
    # What a demo accumulates: a new account, a changed password, audit events, SMS
    # messages, portal sessions, and the keys and cookie secret of this installation.
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({
        "id_number": "066188207519", "full_name": "Vũ Thị Lan", "birth_date": "1988-02-14",
        "gender": "female", "phone": "0917408253", "email": None,
        "password": "mot-mat-khau-rat-dai-2024"}) + "\n")
    assert demo("users", "import", str(extra)).exit_code == 0
    demo.sql("UPDATE citizens SET password_hash = 'changed' WHERE id_number = '066085004217'")
    kids = {row[0] for row in demo.sql("SELECT kid FROM signing_keys")}
    (demo.instance / "sms-outbox.jsonl").write_text('{"to": "+84941234947", "text": "123456"}\n')
    secret = (demo.instance / "secret_key").read_text() if (
        demo.instance / "secret_key").exists() else None
    for name in ("daklak", "quocgia"):
        (demo.portals / name).mkdir(parents=True)
        (demo.portals / name / "sessions.sqlite3").write_text("x")
    (demo.portals / "daklak.log").write_text("log\n")

    result = demo("demo", "reset", "--yes")
    assert result.exit_code == 0, result.output
    assert "demo data erased" in result.output and "demo citizens: 5 added" in result.output

    assert demo.ids() == demo_ids  # the extra account is gone, the demo ones are back
    assert demo.sql("SELECT count(*) FROM citizens WHERE password_hash = 'changed'") == [(0,)]
    assert not kids & {row[0] for row in demo.sql("SELECT kid FROM signing_keys")}
    assert {row[0] for row in demo.sql("SELECT client_id FROM clients")} == {
        "dvc-daklak", "dvc-quocgia", "demo-spa"}
    assert not (demo.instance / "sms-outbox.jsonl").exists()
    assert not (demo.portals / "daklak").exists() and not (demo.portals / "quocgia").exists()
    assert (demo.portals / "daklak.log").exists()  # ./run's logs are not demo data
    if secret is not None:
        assert not (demo.instance / "secret_key").exists() or \
            (demo.instance / "secret_key").read_text() != secret
    # The reset database serves: a fresh app over it logs nothing wrong and answers.
    assert demo("keys", "list").exit_code == 0


def test_demo_reset_on_an_empty_instance_creates_the_demo(tmp_path):
    d = Demo(tmp_path)
    result = d("demo", "reset", "--yes")
    assert result.exit_code == 0, result.output
    assert d.ids() == {c["id_number"] for c in DEMO_CITIZENS}


def test_demo_reset_asks_first(demo):
    result = demo("demo", "reset", input="n\n")
    assert result.exit_code == 1 and "Continue?" in result.output
    assert str(demo.instance / "idp.sqlite3") in result.output  # says what it would erase
    assert len(demo.ids()) == 5 and (demo.instance / "idp.sqlite3").exists()
    kids = demo.sql("SELECT kid FROM signing_keys")
    assert demo("demo", "reset", input="y\n").exit_code == 0
    assert demo.sql("SELECT kid FROM signing_keys") != kids


@pytest.mark.parametrize("env, reason", [
    ({"IDP_ENV": "production", "IDP_ISSUER": "https://xacthuc.daklak.gov.vn",
      "IDP_SECRET_KEY": "s" * 40, "IDP_KEK": "A" * 43, "IDP_SMS_PROVIDER": "http",
      "IDP_SMS_HTTP_URL": "https://sms.internal/send"}, "refused with IDP_ENV=production"),
    ({"IDP_DATABASE_URL": "postgresql://idp:hunter2-secret@db.internal:5432/idp"},
     "IDP_DATABASE_URL is set (postgresql://…)"),
    ({"IDP_DATABASE_URL": "sqlite:////tmp/some-other-idp.sqlite3"},
     "IDP_DATABASE_URL is set (sqlite://…)"),
    ({"IDP_REDIS_URL": "redis://127.0.0.1:6379/0"}, "IDP_REDIS_URL is set"),
    ({"IDP_OTP_TTL": "9999"}, "configuration: otp_ttl"),
])
def test_demo_reset_refusals_touch_nothing(demo, env, reason):
    before = sorted(p.name for p in demo.instance.iterdir())
    (demo.instance / "sms-outbox.jsonl").write_text("{}\n")
    line = one_error_line(demo("demo", "reset", "--yes", **env))
    assert reason in line
    assert "hunter2" not in line  # a database password is never echoed
    assert sorted(p.name for p in demo.instance.iterdir()) == sorted(before + [
        "sms-outbox.jsonl"])
    assert len(demo.ids()) == 5


def test_demo_reset_refused_while_the_idp_answers(demo):
    class Healthz(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        issuer = f"http://127.0.0.1:{server.server_address[1]}"
        line = one_error_line(demo("demo", "reset", "--yes", IDP_ISSUER=issuer))
        assert f"an IdP answers at {issuer}: stop ./run first" in line
        assert len(demo.ids()) == 5
    finally:
        server.shutdown()
        server.server_close()


# --- README stands on its own --------------------------------------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_points_to_nothing_outside_the_repository():
    assert "../" not in README and "/work/" not in README
    assert not re.search(r"\bshared/", README)


def test_every_file_the_readme_names_exists_in_the_repository():
    # Markdown files anywhere (CONTRACT.md §3 would name a file a clone does not have) and
    # repository paths in backquotes, links and images. Files the tests or ./run create
    # (git-ignored) are named as such and skipped: instance/, keys/kek.key, .results, artifacts.
    generated = ("instance/", "keys/kek.key", "test-artifacts/", ".results/", ".venv/")
    names = set(re.findall(r"[\w./-]+\.md\b", README))
    names |= set(re.findall(r"`((?:idp|config|tests|portals|bench|migrations|docs|\.ci)/[^`\s]*)`",
                            README))
    names |= set(re.findall(r'(?:src="|\]\()((?!https?:|#)[^")\s]+)', README))
    missing = sorted(n for n in names
                     if not n.startswith(generated) and ".results/" not in n
                     and "<" not in n and not (ROOT / n.rstrip("/")).exists())
    assert not missing, missing
    assert len(names) > 20  # the patterns do find the README's references


def test_readme_documents_the_first_run():
    assert "./run --reset" in README and "idp demo reset" in README
    assert "/_dev/sms" in README and "http://127.0.0.1:5000/" in README
    assert "gunicorn" in README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
