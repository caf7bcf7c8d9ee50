"""`idp audit list`: the audit trail for operators, on SQLite and PostgreSQL. Filters by event
prefix, citizen (given by ID number), client and time; newest first in Vietnam time; never an
ID number or phone in clear; bad arguments are one line on stderr with exit status 2."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from click.testing import CliRunner

from idp import create_app
from idp.cli import main
from idp.platform.db import db
from idp.platform.models import AuditEvent, Citizen
from tests.support.apps import throwaway_pg_database

AN = "066085004217"   # Nguyễn Văn An (demo)
NGOC = "066192018305"  # Trần Thị Bích Ngọc (demo)
HOUR = 3600
# 2025-01-31 08:00:00 in Vietnam.
T0 = dt.datetime(2025, 1, 31, 1, 0, tzinfo=dt.UTC).timestamp()


class Cli:
    def __init__(self, tmp_path, database_url: str):
        self.url = database_url
        self.env = {"IDP_INSTANCE_DIR": str(tmp_path / "instance"),
                    "IDP_KEK_FILE": str(tmp_path / "kek.key"),
                    "IDP_DATABASE_URL": database_url, "IDP_ENV": "development"}

    def __call__(self, *args: str, code: int = 0):
        result = CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    def lines(self, *args: str) -> list[str]:
        return self("audit", "list", *args).stdout.splitlines()

    def error(self, *args: str, code: int = 2) -> str:
        result = self("audit", "list", *args, code=code)
        assert "Traceback" not in result.output and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        return lines[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def cli(request, tmp_path):
    if request.param == "sqlite":
        c = Cli(tmp_path, f"sqlite:///{tmp_path / 'idp.sqlite3'}")
        c("init", "--demo")
        yield c
        return
    with throwaway_pg_database("idp_audit") as url:
        c = Cli(tmp_path, url)
        c("init", "--demo")
        yield c


@pytest.fixture
def trail(cli, monkeypatch):
    """Known events at known times (T0 = 2025-01-31 08:00 +07:00), plus the ones of `init`."""
    for key, value in cli.env.items():
        monkeypatch.setenv(key, value)
    app = create_app({"database_url": cli.url})
    with app.app_context():
        ids = dict(db.session.execute(db.select(Citizen.id_number, Citizen.id)).all())
        rows = [
            (T0, "login.failure", ids[AN], "dvc-daklak",
             {"failures": 1, "id_number": "066xxxxxx217"}),
            (T0 + 60, "login.password_ok", ids[AN], "dvc-daklak", {}),
            (T0 + 120, "otp.sent", ids[AN], None, {"phone": "0941xxx947", "purpose": "login"}),
            (T0 + 180, "login.second_factor_ok", ids[AN], "dvc-daklak", {"amr": ["pwd", "sms"]}),
            (T0 + 240, "login.password_ok", ids[NGOC], "dvc-quocgia", {}),
            # A careless caller once stored numbers in clear: the output still masks them.
            (T0 + 300, "recovery.requested", ids[NGOC], None,
             {"new_phone": "+84352718406", "note": f"CCCD {NGOC} at the counter"}),
            (time.time() - 2 * HOUR, "login.failure", None, "dvc-daklak",
             {"id_number": "054xxxxxx556"}),
        ]
        for at, event, citizen_id, client_id, detail in rows:
            db.session.add(AuditEvent(at=at, event=event, citizen_id=citizen_id,
                                      client_id=client_id, ip="192.0.2.7",
                                      detail_json=json.dumps(detail)))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return ids


def assert_no_clear_numbers(text: str) -> None:
    for raw in (AN, NGOC, "+84352718406", "0352718406", "352718406"):
        assert raw not in text, raw


def test_lists_newest_first_in_vietnam_time(cli, trail):
    lines = cli.lines()
    events = [line.split("  ")[1] for line in lines]
    assert events[:3] == ["citizens.imported", "clients.imported", "login.failure"]
    old = lines[events.index("recovery.requested"):]
    assert [line.split("  ")[1] for line in old] == [
        "recovery.requested", "login.password_ok", "login.second_factor_ok", "otp.sent",
        "login.password_ok", "login.failure"]
    assert old[0].startswith("2025-01-31 08:05:00+07:00  recovery.requested  "
                             f"citizen={trail[NGOC]} (066xxxxxx305)  client=-  ip=192.0.2.7  ")
    assert old[-1].startswith("2025-01-31 08:00:00+07:00  login.failure  "
                              f"citizen={trail[AN]} (066xxxxxx217)  client=dvc-daklak  ")
    assert "failures=1 id_number=066xxxxxx217" in old[-1]
    assert_no_clear_numbers("\n".join(lines))
    assert "new_phone=0352xxx406" in old[0] and "CCCD 066xxxxxx305" in old[0]


def test_filters_combine(cli, trail):
    assert len(cli.lines("--event", "login.")) == 5
    assert len(cli.lines("--event", "login.password")) == 2
    assert cli.lines("--event", "login%") == []  # a prefix, not a LIKE pattern
    assert cli.lines("--event", "login_failure") == []
    an = cli.lines("--citizen", AN)
    assert len(an) == 4 and all(f"citizen={trail[AN]} (066xxxxxx217)" in x for x in an)
    assert len(cli.lines("--citizen", AN, "--event", "login.")) == 3
    assert len(cli.lines("--client", "dvc-quocgia")) == 1
    assert len(cli.lines("--client", "dvc-daklak", "--citizen", AN)) == 3
    assert len(cli.lines("--client", "nobody")) == 0


def test_since_takes_durations_and_iso_dates(cli, trail):
    recent = cli.lines("--since", "24h")
    assert {x.split("  ")[1] for x in recent} == {"login.failure", "clients.imported",
                                                    "citizens.imported"}
    assert cli.lines("--since", "30m", "--event", "login.") == []
    assert len(cli.lines("--since", "3h", "--event", "login.")) == 1
    # Without an offset: Vietnam time. 08:02 +07:00 leaves the events from 08:03 on.
    assert len(cli.lines("--since", "2025-01-31T08:02:30", "--event", "l")) == 3
    assert len(cli.lines("--since", "2025-01-31T01:02:30Z", "--event", "l")) == 3
    assert len(cli.lines("--since", "2025-01-31", "--event", "l")) == 5
    assert len(cli.lines("--since", "2025-02-01", "--event", "l")) == 1
    assert len(cli.lines("--since", "1w", "--event", "l")) == 1


def test_limit_keeps_the_newest(cli, trail):
    assert len(cli.lines()) == 9
    lines = cli.lines("--limit", "2", "--since", "2025-01-01")
    assert [x.split("  ")[1] for x in lines] == ["citizens.imported", "clients.imported"]
    assert len(cli.lines("--limit", "100000")) == 9
    assert len(cli.lines("--limit", "4", "--event", "login.")) == 4


def test_the_default_limit_is_100(cli, monkeypatch):
    for key, value in cli.env.items():
        monkeypatch.setenv(key, value)
    app = create_app({"database_url": cli.url})
    with app.app_context():
        db.session.add_all(AuditEvent(at=T0 + i, event="notify.sent", detail_json="{}")
                           for i in range(120))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    lines = cli.lines("--event", "notify.")
    assert len(lines) == 100
    assert lines[0].startswith("2025-01-31 08:01:59+07:00")  # T0 + 119 s
    assert lines[-1].startswith("2025-01-31 08:00:20+07:00")  # T0 + 20 s


def test_json_lines(cli, trail):
    out = cli("audit", "list", "--json", "--citizen", NGOC).stdout
    assert_no_clear_numbers(out)
    entries = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in entries] == ["recovery.requested", "login.password_ok"]
    first = entries[0]
    assert first["at"] == "2025-01-31T08:05:00+07:00"
    assert first["citizen_id"] == trail[NGOC] and first["id_number"] == "066xxxxxx305"
    assert first["client_id"] is None and first["ip"] == "192.0.2.7"
    assert first["detail"] == {"new_phone": "0352xxx406",
                               "note": "CCCD 066xxxxxx305 at the counter"}
    assert isinstance(first["id"], int)


@pytest.mark.parametrize("args, message", [
    (["--limit", "abc"], "Invalid value for '--limit'"),
    (["--limit", "0"], "Invalid value for '--limit'"),
    (["--limit", "-5"], "Invalid value for '--limit'"),
    (["--limit"], "'--limit' requires an argument"),
    (["--since", "yesterday"], "Invalid value for '--since'"),
    (["--since", "24x"], "Invalid value for '--since'"),
    (["--since", "2025-13-01"], "Invalid value for '--since'"),
    (["--citizen", "12345"], "Invalid value for '--citizen'"),
    (["--citizen", "06608500421X"], "Invalid value for '--citizen'"),
    (["--frobnicate"], "No such option"),
    (["extra"], "unexpected extra argument"),
])
def test_bad_arguments_are_one_line_and_exit_2(cli, args, message):
    line = cli.error(*args)
    assert message in line
    assert "06608500421" not in line  # a malformed ID number is not echoed either


def test_an_unknown_citizen_is_one_masked_line(cli):
    line = cli.error("--citizen", "066300517349", code=1)
    assert line == "error: no citizen with ID number 066xxxxxx349"


def test_help_mentions_every_option(cli):
    out = cli("audit", "list", "--help").stdout
    for option in ("--event", "--citizen", "--client", "--since", "--limit", "--json"):
        assert option in out
