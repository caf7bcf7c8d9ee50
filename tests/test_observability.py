"""Observability (issue 7 "Operations"): Prometheus metrics at /metrics fed by real requests
and by the audit trail, structured logs with request ids and masked personal data, and
/readyz checking the database and Redis (CONTRACT.md §8)."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from idp.platform import logs
from idp.platform.config import ConfigError
from idp.platform.db import db
from idp.platform.keys import KeyError_
from idp.platform.models import AuditEvent
from tests.support import (
    CITIZEN,
    auth_params,
    authorize,
    follow_to_login,
    hidden,
    last_code,
    login_form_submit,
    pkce_pair,
)
from tests.support.apps import free_port, make_app

ROOT = Path(__file__).resolve().parent.parent


def value(app, name: str, **labels) -> float:
    """A sample of the app's registry; 0 for a series that does not exist yet."""
    found = app.extensions["idp.metrics"].registry.get_sample_value(name, labels)
    return found or 0.0


def scrape(client) -> dict[tuple[str, tuple], float]:
    """GET /metrics, parsed with prometheus_client's own parser."""
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert r.headers["Cache-Control"] == "no-store"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.get_data(as_text=True))
            for s in family.samples}


def start_login(client, acr: str | None = None):
    params = auth_params(challenge=pkce_pair()[1], **({"acr_values": acr} if acr else {}))
    return follow_to_login(client, authorize(client, params)).get_data(as_text=True)


# =========================================================================== HTTP metrics

def test_requests_are_counted_by_rule_method_and_status(app, client):
    key = ("idp_http_requests_total",
           (("endpoint", "/healthz"), ("method", "GET"), ("status", "200")))
    before = scrape(client)
    assert key not in before
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    after = scrape(client)
    assert after[key] == 3
    duration = ("idp_http_request_duration_seconds_count",
                (("endpoint", "/healthz"), ("method", "GET")))
    assert after[duration] == 3
    # The /metrics request that produced `before` is counted in `after`.
    assert after[("idp_http_requests_total",
                  (("endpoint", "/metrics"), ("method", "GET"), ("status", "200")))] >= 1


def test_labels_are_url_rules_never_raw_paths(app, client):
    page = start_login(client)  # /flows/<flow_id>
    assert page
    client.get("/nothing-here/066089001234")
    client.open("/healthz", method="BREW")  # an unknown method is "other"
    text = client.get("/metrics").get_data(as_text=True)
    assert "066089001234" not in text
    assert value(app, "idp_http_requests_total", method="GET", endpoint="unmatched",
                 status="404") == 1
    assert value(app, "idp_http_requests_total", method="other", endpoint="unmatched",
                 status="405") == 1
    flow_rules = [line for line in text.splitlines()
                  if line.startswith("idp_http_requests_total") and "/flows/" in line]
    assert flow_rules and all("<" in line for line in flow_rules), flow_rules


def test_500_and_503_answers_are_counted(app, client):
    def boom():
        raise RuntimeError("unexpected")

    def no_keys():
        raise KeyError_("no signing keys")

    app.add_url_rule("/_boom", "boom", boom)
    app.add_url_rule("/_no_keys", "no_keys", no_keys)
    assert client.get("/_boom").status_code == 500
    assert client.get("/_no_keys").status_code == 503
    assert value(app, "idp_http_requests_total", method="GET", endpoint="/_boom",
                 status="500") == 1
    assert value(app, "idp_http_requests_total", method="GET", endpoint="/_no_keys",
                 status="503") == 1
    assert value(app, "idp_http_request_duration_seconds_count", method="GET",
                 endpoint="/_boom") == 1


# =========================================================================== business counters

def test_a_wrong_password_counts_a_login_failure(app, client):
    page = start_login(client)
    r = login_form_submit(client, page, CITIZEN.id_number, "not-the-password-at-all")
    assert r.status_code == 400
    assert value(app, "idp_logins_total", outcome="failure") == 1
    assert value(app, "idp_logins_total", outcome="password_ok") == 0
    assert value(app, "idp_events_total", event="login.failure") == 1
    scraped = scrape(client)
    assert scraped[("idp_logins_total", (("outcome", "failure"),))] == 1


def test_the_throttle_after_repeated_wrong_passwords_is_counted(app, client):
    limit = app.config["IDP"]["login_max_failures"]
    for attempt in range(limit):
        page = start_login(client)
        r = login_form_submit(client, page, CITIZEN.id_number, f"wrong-password-{attempt}")
        assert r.status_code == 400
    assert value(app, "idp_logins_total", outcome="failure") == limit
    assert value(app, "idp_logins_total", outcome="throttled") == 1
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.event == "login.throttled")).all()
    assert len(events) == 1 and '"seconds": 30' in events[0].detail_json
    assert CITIZEN.id_number not in events[0].detail_json


def test_an_loa2_login_counts_password_sms_budgets_and_second_factor(app, client):
    page = start_login(client, acr="LoA2")
    r = login_form_submit(client, page, CITIZEN.id_number, CITIZEN.password)
    assert r.status_code == 303
    flow_url = r.headers["Location"]
    html = client.get(flow_url).get_data(as_text=True)  # sends the first code
    assert value(app, "idp_logins_total", outcome="password_ok") == 1
    assert value(app, "idp_otp_sends_total", outcome="sent") == 1
    for scope in ("phone", "account", "ip", "global"):
        assert value(app, "idp_sms_budget_used_total", scope=scope) == 1, scope
        assert value(app, "idp_sms_budget_refusals_total", scope=scope) == 0, scope
    r = client.post(flow_url, data={"csrf_token": hidden(html, "csrf_token"), "action": "verify",
                                    "otp": last_code(app, CITIZEN.phone)})
    assert r.status_code == 303
    assert value(app, "idp_logins_total", outcome="second_factor_ok") == 1
    assert value(app, "idp_events_total", event="otp.verified") == 1


def test_a_spent_budget_counts_a_refusal_and_no_use(app, client):
    app.config["IDP"]["sms_budget_per_ip"] = 0
    page = start_login(client, acr="LoA2")
    r = login_form_submit(client, page, CITIZEN.id_number, CITIZEN.password)
    client.get(r.headers["Location"])
    assert value(app, "idp_sms_budget_refusals_total", scope="ip") == 1
    assert value(app, "idp_otp_sends_total", outcome="budget_exhausted") == 1
    assert value(app, "idp_otp_sends_total", outcome="sent") == 0
    for scope in ("phone", "account", "ip", "global"):
        assert value(app, "idp_sms_budget_used_total", scope=scope) == 0, scope


def test_every_audit_event_is_counted_by_name(app):
    from idp.platform import audit
    with app.app_context():
        audit.record("keys.rotated", actor="test")
        audit.record("keys.rotated", actor="test")
    assert value(app, "idp_events_total", event="keys.rotated") == 2


def test_apps_have_their_own_registries(app, tmp_path):
    other = make_app(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    other.test_client().get("/healthz")
    assert value(other, "idp_http_requests_total", method="GET", endpoint="/healthz",
                 status="200") == 1
    assert value(app, "idp_http_requests_total", method="GET", endpoint="/healthz",
                 status="200") == 0


_WORKER = """
import sys
from idp import create_app
app = create_app({"env": "test", "database_url": sys.argv[1], "secret_key": "t" * 40})
client = app.test_client()
assert client.get("/healthz").status_code == 200
if sys.argv[2] == "scrape":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""


def test_metrics_of_several_worker_processes_are_added_up(tmp_path, monkeypatch):
    """PROMETHEUS_MULTIPROC_DIR (gunicorn): /metrics in one worker shows every worker's."""
    from idp.platform import metrics
    shared = tmp_path / "prom"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared),
           "IDP_INSTANCE_DIR": str(tmp_path / "instance"),
           "IDP_KEK_FILE": str(tmp_path / "kek.key")}
    url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    outputs = [subprocess.run([sys.executable, "-c", _WORKER, url, step], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
               for step in ("serve", "scrape")]
    for out in outputs:
        assert out.returncode == 0, out.stderr[-2000:]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(outputs[1].stdout)
               for s in family.samples}
    assert samples[("idp_http_requests_total",
                    (("endpoint", "/healthz"), ("method", "GET"), ("status", "200")))] == 2
    assert list(shared.iterdir())

    class Worker:
        pid = 4242
    live = shared / "gauge_livesum_4242.db"
    live.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    metrics.child_exit(None, Worker())
    assert not live.exists()


# =========================================================================== logs

@pytest.fixture
def json_app(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'idp.sqlite3'}", log_format="json")
    careless = logging.getLogger("idp.careless")

    def lookup():
        from flask import request
        # Code that logs what it was given, as someone will one day write.
        careless.warning("lookup of %s by %s", request.args["id"], request.args["phone"])
        return "ok"

    def crash():
        from flask import request
        raise ValueError(f"no account {request.args['id']}")

    app.add_url_rule("/_lookup", "lookup", lookup)
    app.add_url_rule("/_crash", "crash", crash)
    return app


def test_json_lines_carry_request_id_and_never_personal_data(json_app, capsys):
    client = json_app.test_client()
    capsys.readouterr()
    r = client.get("/_lookup?id=066089001234&phone=%2B84941234947&code=secret-code")
    client.get("/_crash?id=001195004321")
    client.get("/thing/0912345678")
    err = capsys.readouterr().err
    for raw in ("066089001234", "84941234947", "0941234947", "001195004321", "0912345678",
                "secret-code"):
        assert raw not in err, raw
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines), err[:2000]
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert {"ts", "level", "logger", "message", "request_id", "node"} <= set(entry)
        assert entry["node"].endswith(f":{os.getpid()}")
    careless = [e for e in entries if e["logger"] == "idp.careless"]
    assert careless[0]["message"] == "lookup of 066xxxxxx234 by 0941xxx947"
    assert careless[0]["request_id"] == r.headers["X-Request-Id"]
    crash = [e for e in entries if e["level"] == "ERROR"]
    assert crash and "no account 001xxxxxx321" in crash[0]["exc_info"]
    access = [e for e in entries if e["logger"] == "idp.access"]
    assert [(e["method"], e["path"], e["status"]) for e in access] == [
        ("GET", "/_lookup", 200), ("GET", "/_crash", 500), ("GET", "/thing/0912xxx678", 404)]
    assert all(isinstance(e["duration_ms"], float) for e in access)
    assert access[0]["request_id"] == r.headers["X-Request-Id"]
    assert len({e["request_id"] for e in access}) == 3


def test_the_default_format_is_text_outside_production(app, client, capsys):
    capsys.readouterr()
    r = client.get("/healthz", headers={"X-Request-Id": "probe-7"})
    err = capsys.readouterr().err
    assert " INFO idp.access [probe-7] GET /healthz 200 " in err, err[-2000:]
    assert r.headers["X-Request-Id"] == "probe-7"


def test_log_format_setting():
    assert logs.log_format({"env": "production", "log_format": ""}) == "json"
    assert logs.log_format({"env": "development", "log_format": ""}) == "text"
    assert logs.log_format({"env": "test"}) == "text"
    assert logs.log_format({"env": "production", "log_format": "text"}) == "text"
    with pytest.raises(ConfigError, match="log_format"):
        logs.log_format({"env": "production", "log_format": "xml"})


@pytest.mark.parametrize("given, echoed", [
    ("req-1.2_3", True),
    ("A" * 64, True),
    ("A" * 65, False),
    ("bad id", False),
    ("x;y", False),
    ("", False),
    ("066089001234", False),  # a request id must not smuggle an ID number into the logs
])
def test_a_request_id_is_echoed_only_when_well_formed(sqlite_app, given, echoed):
    r = sqlite_app.test_client().get("/healthz", headers={"X-Request-Id": given})
    got = r.headers["X-Request-Id"]
    if echoed:
        assert got == given
    else:
        assert got != given and len(got) == 32 and int(got, 16) >= 0


def test_request_ids_are_new_for_each_request(sqlite_app):
    client = sqlite_app.test_client()
    ids = {client.get("/healthz").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("text, masked", [
    ("citizen 066089001234 logged in", "citizen 066xxxxxx234 logged in"),
    ("cmnd=241234567.", "cmnd=241xxx567."),
    ("to +84941234947, then 0912345678", "to 0941xxx947, then 0912xxx678"),
    ("{'id_number': '001195004321'}", "{'id_number': '001xxxxxx321'}"),
])
def test_personal_numbers_are_masked(text, masked):
    assert logs.mask_text(text) == masked


@pytest.mark.parametrize("text", [
    "at 1718000000.123456789 took 123456789.5 ms",       # epoch seconds, fractions
    "kid ES256-gTglfyAVJcX_123456789012 rotated",        # key ids (base64url)
    "request 1f2e3d4c5b6a79880123456789abcdef done",     # hex ids
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "2025-01-31T08:00:05.123+07:00 duration_ms=12.5 epoch_ms=1718000000123",
])
def test_other_numbers_are_left_alone(text):
    assert logs.mask_text(text) == text


def test_masking_covers_arguments_of_any_type_and_tracebacks():
    f = logs.MaskPersonalData()
    record = logging.LogRecord("idp.x", logging.INFO, __file__, 1, "%s / %d / %r",
                               ("066089001234", 241234567, {"phone": "+84941234947"}), None)
    assert f.filter(record)
    assert record.getMessage() == "066xxxxxx234 / 241xxx567 / {'phone': '0941xxx947'}"
    try:
        raise ValueError("bad 066089001234")
    except ValueError:
        record = logging.LogRecord("idp.x", logging.ERROR, __file__, 1, "failed", (),
                                   sys.exc_info())
    f.filter(record)
    assert "066089001234" not in record.exc_text and "066xxxxxx234" in record.exc_text


# =========================================================================== readiness

class _UpRedis:
    def ping(self):
        return True


def test_readyz_without_redis_checks_the_database(app, client):
    app.extensions.pop("idp.redis", None)
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "up"}


def test_readyz_with_redis_up(app, client):
    app.extensions.setdefault("idp.redis", _UpRedis())
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "up", "redis": "up"}


def test_readyz_with_redis_down_is_503_without_hanging(app, client):
    app.extensions["idp.redis"] = redis.Redis(host="127.0.0.1", port=free_port(),
                                              socket_timeout=1, socket_connect_timeout=1)
    started = time.monotonic()
    r = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert r.status_code == 503
    assert r.json == {"status": "unavailable", "database": "up", "redis": "down"}
    assert r.headers["Cache-Control"] == "no-store"
    assert value(app, "idp_http_requests_total", method="GET", endpoint="/readyz",
                 status="503") == 1
