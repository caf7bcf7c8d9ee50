"""The operator CLI `idp` (CONTRACT.md §3), run in-process with click's CliRunner against a
temporary SQLite database (and PostgreSQL when reachable), plus the installed console script."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from idp.cli import main
from idp.platform.crypto import verify_password
from tests.support.apps import PG_URL, postgres_available

DEMO_SECRET = "daklak-portal-demo-secret-2f6c9e81b4a7d035"


class Cli:
    """Runs `idp ...` with its own instance folder, KEK file and database."""

    def __init__(self, tmp_path: Path, database_url: str | None = None):
        self.tmp = tmp_path
        self.db_file = tmp_path / "idp.sqlite3"
        self.env = {
            "IDP_INSTANCE_DIR": str(tmp_path / "instance"),
            "IDP_KEK_FILE": str(tmp_path / "kek.key"),
            "IDP_DATABASE_URL": database_url or f"sqlite:///{self.db_file}",
            "IDP_ENV": "development",
        }

    def __call__(self, *args: str, ok: bool = True):
        result = CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def fail(self, *args: str) -> str:
        """Runs a command that must fail; returns its single error line."""
        result = self(*args, ok=False)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        return lines[0]

    def write(self, name: str, content: str | bytes) -> str:
        path = self.tmp / name
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return str(path)

    def sql(self, query: str, *params) -> list[tuple]:
        with sqlite3.connect(self.db_file) as conn:
            return conn.execute(query, params).fetchall()

    def keys(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.sql("SELECT kid, alg, state FROM signing_keys")]


@pytest.fixture
def cli(tmp_path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def ready(cli) -> Cli:
    cli("init")
    return cli


# --- init ---------------------------------------------------------------------------------------

def test_init_creates_schema_and_first_keys(cli):
    out = cli("init").stdout
    assert "schema: upgraded empty database -> " in out
    states = sorted((alg, state) for _, alg, state in cli.keys())
    assert states == [("ES256", "current"), ("ES256", "next"),
                      ("RS256", "current"), ("RS256", "next")]
    assert Path(cli.env["IDP_KEK_FILE"]).exists()
    assert cli.sql("SELECT version_num FROM alembic_version")

    again = cli("init").stdout
    assert "schema: up to date" in again
    assert "signing keys: present" in again
    assert len(cli.keys()) == 4


def test_init_demo_is_idempotent(cli):
    out = cli("init", "--demo").stdout
    assert "client dvc-daklak: added" in out
    assert "demo citizens: 5 added, 0 already present" in out
    assert "demo staff: 3 added, 0 already present" in out
    assert sorted(cli.sql("SELECT username, role FROM staff_members")) == [
        ("hotro.daklak", "support"), ("quantri", "admin"), ("quay.daklak", "clerk")]
    clients = dict(cli.sql("SELECT client_id, client_secret_hash FROM clients"))
    assert set(clients) == {"dvc-daklak", "dvc-quocgia", "demo-spa"}
    assert clients["demo-spa"] is None
    assert clients["dvc-daklak"] == "sha256$" + hashlib.sha256(DEMO_SECRET.encode()).hexdigest()
    meta = json.loads(cli.sql("SELECT metadata_json FROM clients WHERE client_id = ?",
                              "dvc-quocgia")[0][0])
    assert meta["id_token_signed_response_alg"] == "RS256"
    assert "dvcqg" in meta["scope"].split()
    assert "client_secret" not in meta

    again = cli("init", "--demo").stdout
    assert "client dvc-daklak: exists, skipped" in again
    assert "demo citizens: 0 added, 5 already present" in again
    assert "demo staff: 0 added, 3 already present" in again
    assert cli.sql("SELECT count(*) FROM citizens") == [(5,)]


def test_demo_citizen_password_and_phone(cli):
    cli("init", "--demo")
    phone, password_hash = cli.sql(
        "SELECT phone, password_hash FROM citizens WHERE id_number = '066085004217'")[0]
    assert phone == "+84941234947"
    assert verify_password(password_hash, "voi-rung-mua-xuan-42")


def test_init_refuses_unmigrated_tables(cli):
    cli.sql("CREATE TABLE citizens (id INTEGER PRIMARY KEY)")
    assert "no migration history" in cli.fail("init")


def test_commands_need_init_first(cli):
    assert "run `idp init`" in cli.fail("keys", "list")


def test_database_unavailable_is_one_line(tmp_path):
    cli = Cli(tmp_path, f"sqlite:///{tmp_path / 'missing-dir' / 'idp.sqlite3'}")
    assert cli.fail("init").startswith("error: database unavailable: ")
    assert cli.fail("clients", "list").startswith("error: database unavailable: ")


def test_bad_configuration_is_one_line(cli):
    cli.env["IDP_ISSUER"] = "http://idp.example.vn"
    assert cli.fail("init").startswith("error: configuration: ")


# --- keys ---------------------------------------------------------------------------------------

def test_keys_list(ready):
    out = ready("keys", "list").stdout.splitlines()
    assert out[0].split() == ["KID", "ALG", "STATE", "CREATED", "STATE", "CHANGED"]
    assert len(out) == 5
    for kid, alg, state in ready.keys():
        assert any(line.split()[:3] == [kid, alg, state] for line in out[1:])


def test_rotate_refused_while_next_key_is_young(ready):
    before = ready.keys()
    error = ready.fail("keys", "rotate")
    assert "--force" in error
    assert ready.keys() == before


def test_rotate_after_jwks_max_age(ready):
    old = {alg: kid for kid, alg, state in ready.keys() if state == "current"}
    nxt = {alg: kid for kid, alg, state in ready.keys() if state == "next"}
    ready.sql("UPDATE signing_keys SET state_changed_at = state_changed_at - 3601")
    ready("keys", "rotate")
    states = {kid: state for kid, _, state in ready.keys()}
    for alg in ("ES256", "RS256"):
        assert states[old[alg]] == "previous"
        assert states[nxt[alg]] == "current"
    assert sorted(states.values()).count("next") == 2
    # The fresh next key is young again: another plain rotation is refused.
    assert "--force" in ready.fail("keys", "rotate")


def test_rotate_force_and_retire(ready):
    current = {kid for kid, _, state in ready.keys() if state == "current"}
    ready("keys", "rotate", "--force")
    states = {kid: state for kid, _, state in ready.keys()}
    assert {states[k] for k in current} == {"previous"}

    new_current = next(k for k, s in states.items() if s == "current")
    assert "rotate first" in ready.fail("keys", "retire", new_current)
    next_kid = next(k for k, s in states.items() if s == "next")
    assert ready.fail("keys", "retire", next_kid).startswith("error: ")

    previous = sorted(current)[0]
    assert ready("keys", "retire", previous).stdout.strip() == f"{previous}: retired"
    assert dict((k, s) for k, _, s in ready.keys())[previous] == "retired"
    assert "already retired" in ready.fail("keys", "retire", previous)


def test_retire_unknown_kid_even_with_leading_dash(ready):
    assert ready.fail("keys", "retire", "nope") == "error: no key with kid nope"
    assert ready.fail("keys", "retire", "-abc") == "error: no key with kid -abc"


# --- clients import -----------------------------------------------------------------------------

GOOD_CLIENTS = """[
  {
    "client_id": "portal-a",
    "client_name": "Cổng A",
    "client_secret": "portal-a-secret-0123456789abcdefghij",
    "redirect_uris": ["https://a.example.vn/cb"]
  },
  {
    "client_id": "spa-b",
    "client_name": "Ứng dụng B",
    "token_endpoint_auth_method": "none",
    "first_party": false,
    "redirect_uris": ["http://127.0.0.1:5003/callback"]
  }
]
"""


def test_clients_import_good_file(ready):
    path = ready.write("clients.json", GOOD_CLIENTS)
    out = ready("clients", "import", path).stdout
    assert out.splitlines() == ["client portal-a: added", "client spa-b: added"]
    rows = dict(ready.sql("SELECT client_id, client_secret_hash FROM clients"))
    secret = "portal-a-secret-0123456789abcdefghij"
    assert rows == {"portal-a": "sha256$" + hashlib.sha256(secret.encode()).hexdigest(),
                    "spa-b": None}
    listing = ready("clients", "list").stdout
    assert "portal-a" in listing and "spa-b" in listing and "third" in listing


def test_clients_import_reports_line_and_field_and_imports_nothing(ready):
    bad = GOOD_CLIENTS.replace('"http://127.0.0.1:5003/callback"', '"http://b.example.vn/cb"')
    path = ready.write("clients.json", bad)
    error = ready.fail("clients", "import", path)
    assert error.startswith(f"error: {path}:13: redirect_uris: Chỉ cho phép http://")
    assert ready.sql("SELECT count(*) FROM clients") == [(0,)]  # portal-a was valid: not added


def test_clients_import_existing_needs_replace(ready):
    path = ready.write("clients.json", GOOD_CLIENTS)
    ready("clients", "import", path)
    renamed = ready.write("renamed.json", GOOD_CLIENTS.replace("Cổng A", "Cổng A mới"))
    error = ready.fail("clients", "import", renamed)
    assert error.startswith(f"error: {renamed}:3: client_id: ")
    out = ready("clients", "import", "--replace", renamed).stdout
    assert "client portal-a: replaced" in out
    meta = json.loads(
        ready.sql("SELECT metadata_json FROM clients WHERE client_id = 'portal-a'")[0][0])
    assert meta["client_name"] == "Cổng A mới"
    assert ready.sql("SELECT count(*) FROM clients") == [(2,)]


CLIENT = ('{"client_id": "c1", "client_name": "C", "client_secret": "%s",'
          ' "redirect_uris": ["https://c.example.vn/cb"]}' % ("x" * 32))


@pytest.mark.parametrize("content, where", [
    (b"", "file is empty"),
    (b"  \n\n", "file is empty"),
    (b"[]", "the list is empty"),
    (b'{"client_id": "c1"}', ":1: expected a JSON list"),
    (b"[1, 2]", ":1: "),
    (b'[\n  {"client_id": "c1",\n', ":3: invalid JSON"),
    (b"[\n" + CLIENT.encode() + b",\n]", ":3: invalid JSON"),  # trailing comma
    (b"\xff\xfe[\x00]\x00", ":1: not valid UTF-8"),
    (("[\n" + CLIENT + ",\n" + CLIENT + "\n]").encode(), ":3: client_id: "),  # duplicate
    (("[\n" + CLIENT.replace('"C"', '"C", "client_name": "D"') + "\n]").encode(),
     ":2: client_name: duplicate key"),
    (b'[{"client_id": "c1", "client_name": "C", "redirect_uris": "https://c.vn/cb",'
     b' "client_secret": "' + b"x" * 32 + b'"}]', ":1: redirect_uris: "),
    (("[\n" + CLIENT.replace("x" * 32, "short") + "\n]").encode(), ":2: client_secret: "),
    (("[\n" + CLIENT.replace('"client_name"', '"logo_uri": "x",\n "client_name"') + "\n]")
     .encode(), ":2: logo_uri: "),
    (("[" + CLIENT.replace('"c1"', '"c1", "token_endpoint_auth_method": "none"') + "]").encode(),
     ":1: client_secret: "),
])
def test_clients_import_bad_files(ready, content, where):
    path = ready.write("bad.json", content)
    error = ready.fail("clients", "import", path)
    assert error.startswith(f"error: {path}"), error
    assert where in error
    assert ready.sql("SELECT count(*) FROM clients") == [(0,)]


def test_clients_import_tolerates_bom(ready):
    path = ready.write("bom.json", b"\xef\xbb\xbf[" + CLIENT.encode() + b"]")
    assert "client c1: added" in ready("clients", "import", path).stdout


def test_clients_import_missing_file_and_directory(ready):
    missing = str(ready.tmp / "nope.json")
    assert ready.fail("clients", "import", missing) == f"error: {missing}: file not found"
    assert "directory" in ready.fail("clients", "import", str(ready.tmp))


# --- clients add / list / remove ----------------------------------------------------------------

def test_clients_add_generates_secret_once(ready):
    out = ready("clients", "add", "--client-id", "hue", "--name", "Cổng Huế",
                "--redirect-uri", "https://dichvucong.hue.gov.vn/cb",
                "--redirect-uri", "https://dichvucong.hue.gov.vn/cb2").stdout
    secret = next(line.split(": ", 1)[1] for line in out.splitlines()
                  if line.startswith("client_secret: "))
    assert len(secret) >= 32
    stored, meta = ready.sql("SELECT client_secret_hash, metadata_json FROM clients")[0]
    assert stored == "sha256$" + hashlib.sha256(secret.encode()).hexdigest()
    meta = json.loads(meta)
    assert meta["redirect_uris"] == ["https://dichvucong.hue.gov.vn/cb",
                                     "https://dichvucong.hue.gov.vn/cb2"]
    assert secret not in json.dumps(meta)
    assert ready.fail("clients", "add", "--client-id", "hue", "--name", "X",
                      "--redirect-uri", "https://x.vn/cb").startswith("error: client_id: ")


def test_clients_add_public_third_party(ready):
    out = ready("clients", "add", "--client-id", "spa", "--name", "SPA", "--auth-method", "none",
                "--third-party", "--scope", "openid profile",
                "--redirect-uri", "http://localhost:3000/cb").stdout
    assert "client_secret" not in out
    stored, meta = ready.sql("SELECT client_secret_hash, metadata_json FROM clients")[0]
    assert stored is None
    assert json.loads(meta)["first_party"] is False


@pytest.mark.parametrize("args, field", [
    (["--redirect-uri", "http://portal.example.vn/cb"], "redirect_uris"),
    (["--redirect-uri", "https://p.vn/cb", "--secret", "too-short"], "client_secret"),
    (["--redirect-uri", "https://p.vn/cb", "--scope", "profile"], "scope"),
    (["--redirect-uri", "https://p.vn/cb", "--auth-method", "none", "--secret", "s" * 40],
     "client_secret"),
    (["--redirect-uri", "https://p.vn/cb", "--alg", "HS256"], "id_token_signed_response_alg"),
])
def test_clients_add_invalid(ready, args, field):
    error = ready.fail("clients", "add", "--client-id", "p", "--name", "P", *args)
    assert error.startswith(f"error: {field}: ")
    assert ready.sql("SELECT count(*) FROM clients") == [(0,)]


def test_clients_remove(ready):
    ready("clients", "import", ready.write("clients.json", GOOD_CLIENTS))
    assert "client spa-b: removed" in ready("clients", "remove", "spa-b").stdout
    assert ready.sql("SELECT client_id FROM clients") == [("portal-a",)]
    assert ready.fail("clients", "remove", "spa-b") == "error: no client with client_id spa-b"
    assert ready.fail("clients", "remove", "-x") == "error: no client with client_id -x"


# --- users import -------------------------------------------------------------------------------

def citizen(**changes) -> dict:
    data = {"id_number": "066085004217", "full_name": "Nguyễn Văn An",
            "birth_date": "1985-03-14", "gender": "male", "phone": "0941234947",
            "email": None, "password": "voi-rung-mua-xuan-42"}
    data.update(changes)
    return data


SECOND = {"id_number": "066192018305", "full_name": "Trần Thị Bích Ngọc",
          "birth_date": "1992-11-02", "gender": "female", "phone": "+84 352 718 406",
          "email": "ngoc@example.vn", "password": "hoa-ca-phe-no-trang-17"}


def jsonl(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                   for r in records)


def test_users_import_good(ready):
    path = ready.write("users.jsonl", jsonl(citizen(), "", SECOND))
    assert ready("users", "import", path).stdout.strip() == "citizens: 2 imported"
    rows = ready.sql("SELECT id_number, full_name, birth_date, gender, phone, email, sub, "
                     "password_hash, status FROM citizens ORDER BY id_number")
    assert [r[:6] for r in rows] == [
        ("066085004217", "Nguyễn Văn An", "1985-03-14", "male", "+84941234947", None),
        ("066192018305", "Trần Thị Bích Ngọc", "1992-11-02", "female", "+84352718406",
         "ngoc@example.vn")]
    assert rows[0][6] != rows[1][6] and "066085004217" not in rows[0][6]  # opaque sub
    assert verify_password(rows[1][7], "hoa-ca-phe-no-trang-17")
    assert not verify_password(rows[1][7], "voi-rung-mua-xuan-42")
    assert {r[8] for r in rows} == {"active"}


@pytest.mark.parametrize("bad, field", [
    (citizen(id_number="003085004217"), "id_number"),      # unassigned province code
    (citizen(gender="female"), "id_number"),               # century/gender digit says male
    (citizen(birth_date="1986-03-14"), "id_number"),       # year digits say 1985
    (citizen(id_number="066085004２17"), "id_number"),      # Unicode digit
    (citizen(id_number=66085004217), "id_number"),
    (citizen(phone="02623812345"), "phone"),               # landline
    (citizen(phone="+12025550123"), "phone"),              # foreign
    (citizen(phone="0951234567"), "phone"),                # unknown prefix
    (citizen(phone=941234947), "phone"),
    (citizen(full_name="Nguyen 2"), "full_name"),
    (citizen(birth_date="1985-02-30"), "birth_date"),
    (citizen(birth_date="2999-01-01"), "birth_date"),
    (citizen(gender="nam"), "gender"),
    (citizen(email="not-an-email"), "email"),
    (citizen(password="short"), "password"),
    (citizen(password=None), "password"),
    (citizen(nickname="An"), "nickname"),
    ({k: val for k, val in citizen().items() if k != "phone"}, "phone"),
])
def test_users_import_bad_line(ready, bad, field):
    path = ready.write("users.jsonl", jsonl(SECOND, bad))
    error = ready.fail("users", "import", path)
    assert error.startswith(f"error: {path}:2: {field}: "), error
    assert ready.sql("SELECT count(*) FROM citizens") == [(0,)]


@pytest.mark.parametrize("line, message", [
    ('["not", "an", "object"]', "Mỗi công dân phải là một đối tượng JSON."),
    ("42", "Mỗi công dân phải là một đối tượng JSON."),
    ('{"id_number": "066085004217",', "invalid JSON"),
    ("{'id_number': '066085004217'}", "invalid JSON"),
    ('{"id_number": "066085004217", "id_number": "066085004218"}', "id_number: duplicate key"),
])
def test_users_import_malformed_line(ready, line, message):
    path = ready.write("users.jsonl", jsonl(SECOND, line))
    error = ready.fail("users", "import", path)
    assert error.startswith(f"error: {path}:2: ") and message in error, error


def test_users_import_exact_message(ready):
    path = ready.write("users.jsonl", jsonl(citizen(id_number="003085004217")))
    assert ready.fail("users", "import", path) == (
        f"error: {path}:1: id_number: Mã tỉnh 003 trong số định danh không tồn tại.")


def test_users_import_duplicates(ready):
    path = ready.write("dup.jsonl", jsonl(citizen(), SECOND, citizen(phone="0912345678")))
    assert ready.fail("users", "import", path) == (
        f"error: {path}:3: id_number: trùng với dòng 1.")
    assert ready.sql("SELECT count(*) FROM citizens") == [(0,)]

    ready("users", "import", ready.write("first.jsonl", jsonl(citizen())))
    again = ready.write("again.jsonl", jsonl(SECOND, citizen()))
    assert ready.fail("users", "import", again).startswith(f"error: {again}:2: id_number: ")
    assert ready.sql("SELECT id_number FROM citizens") == [("066085004217",)]  # SECOND not added


@pytest.mark.parametrize("content, message", [
    (b"", "file is empty"),
    (b"\n \n", "file is empty"),
    (b"\xef\xbb\xbf", "file is empty"),
    (b'{"a": "\xff"}\n', ":1: not valid UTF-8"),
])
def test_users_import_empty_or_undecodable(ready, content, message):
    path = ready.write("users.jsonl", content)
    error = ready.fail("users", "import", path)
    assert error.startswith(f"error: {path}") and message in error


def test_users_import_bom_and_crlf(ready):
    path = ready.write("users.jsonl", b"\xef\xbb\xbf" + jsonl(citizen(), SECOND)
                       .replace("\n", "\r\n").encode())
    assert "2 imported" in ready("users", "import", path).stdout


# --- PostgreSQL ---------------------------------------------------------------------------------

@pytest.fixture
def pg_url():
    if not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI ({PG_URL})")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    name = f"idp_cli_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{PG_URL.rpartition('/')[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_init_and_imports_on_postgresql(tmp_path, pg_url):
    cli = Cli(tmp_path, pg_url)
    assert "schema: upgraded empty database" in cli("init", "--demo").stdout
    assert "schema: up to date" in cli("init").stdout
    assert "--force" in cli.fail("keys", "rotate")
    cli("keys", "rotate", "--force")
    path = cli.write("users.jsonl", jsonl(citizen(id_number="066085004217")))
    assert cli.fail("users", "import", path).startswith(f"error: {path}:1: id_number: ")
    assert "dvc-quocgia" in cli("clients", "list").stdout


# --- the installed console script ---------------------------------------------------------------

def test_console_script_errors_without_traceback(cli):
    script = Path(sys.executable).with_name("idp")
    if not script.exists():
        pytest.skip("console script not installed (pip install -e .)")
    env = {**os.environ, **cli.env}
    bad = cli.write("bad.jsonl", "{not json}\n")
    proc = subprocess.run([str(script), "users", "import", bad], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: the database schema is not up to date: run `idp init`"]
    proc = subprocess.run([str(script), "init"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(script), "users", "import", bad], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {bad}:1: invalid JSON")


def test_users_unlock_lifts_a_second_factor_lock_out(cli):
    cli("init", "--demo")
    cli.sql("UPDATE citizens SET otp_failures = 20, otp_locked_until = 9e9 "
            "WHERE id_number = '066085004217'")
    out = cli("users", "unlock", "066085004217").stdout
    assert "unlocked" in out
    assert cli.sql("SELECT otp_failures, otp_locked_until FROM citizens "
                   "WHERE id_number = '066085004217'") == [(0, 0.0)]
    assert cli.sql("SELECT count(*) FROM audit_events WHERE event = 'citizen.unlocked'") == [(1,)]
    assert cli.fail("users", "unlock", "066099999999").startswith("error: no citizen")
