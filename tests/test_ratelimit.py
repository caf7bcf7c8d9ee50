"""Per-address request-rate limits (idp/ratelimit.py): enforced per blueprint, shared by every
node through Redis, answered with the 429 page, never applied to probes, and failing closed
(503) when Redis cannot answer."""
from __future__ import annotations

import tempfile
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from idp.platform.db import db
from tests.support import ISSUER, PORTAL_CB, auth_params, pkce_pair
from tests.support.apps import free_port, make_app, require_redis


@pytest.fixture
def limited_app(database_url):
    app = make_app(database_url, rate_limit_pages="3 per minute", rate_limit_captcha="2 per minute",
                   rate_limit_api="4 per minute")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_pages_are_limited_per_address_with_the_429_page(limited_app):
    client = limited_app.test_client()
    statuses = [client.get("/recover").status_code for _ in range(4)]
    assert 429 not in statuses[:3] and statuses[3] == 429
    r = client.get("/recover")
    assert r.status_code == 429 and "Quá nhiều yêu cầu" in r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) > 0
    # Another address has its own allowance.
    other = client.get("/recover", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other.status_code != 429


def test_api_limit_answers_json_and_probes_are_never_limited(limited_app):
    client = limited_app.test_client()
    statuses = [client.get("/userinfo").status_code for _ in range(4)]
    assert 429 not in statuses
    r = client.get("/userinfo")  # the fifth request of the group
    assert r.status_code == 429 and r.get_json()["error"] == "invalid_request"
    assert all(client.get("/healthz").status_code == 200 for _ in range(10))
    assert all(client.get("/readyz").status_code == 200 for _ in range(10))
    # Discovery and JWKS are answered below the limiter (protocol/static_documents.py).
    assert all(client.get(path).status_code == 200
               for path in ["/.well-known/openid-configuration", "/jwks.json"] * 5)


def test_limits_are_shared_by_nodes_through_redis(monkeypatch):
    """Two apps (two nodes) on one Redis draw from one allowance."""
    url = require_redis()
    prefix = f"idptest:{uuid.uuid4().hex[:12]}:"
    settings = dict(rate_limit_pages="4 per minute", redis_url=url, redis_prefix=prefix)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/idp.sqlite3"
        node_a, node_b = make_app(db_url, **settings), make_app(db_url, **settings)
        a, b = node_a.test_client(), node_b.test_client()
        statuses = [c.get("/recover").status_code for c in (a, b, a, b, a, b)]
        assert [s == 429 for s in statuses] == [False] * 4 + [True] * 2
        for node in (node_a, node_b):
            with node.app_context():
                db.engine.dispose()


def test_a_redis_outage_fails_closed_with_503(tmp_path):
    """Nothing listens on the port: the limit cannot be checked, so the page is refused."""
    app = make_app(f"sqlite:///{tmp_path / 'idp.sqlite3'}", rate_limit_pages="100 per minute",
                   rate_limit_api="100 per minute",
                   redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout=0.5)
    client = app.test_client()
    r = client.get("/recover")
    assert r.status_code == 503 and "tạm thời gián đoạn" in r.get_data(as_text=True)
    assert r.headers["Retry-After"]
    r = client.post("/token", data={"grant_type": "authorization_code", "code": "x"})
    assert r.status_code == 503 and r.get_json()["error"] == "temporarily_unavailable"
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_authorize_with_redis_down_redirects_temporarily_unavailable(tmp_path):
    """Client and redirect URI are checked in the database; the pending request cannot be
    stored, so the RP is told (with state and iss) rather than the citizen stranded."""
    app = make_app(f"sqlite:///{tmp_path / 'idp.sqlite3'}",
                   redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout=0.5)
    r = app.test_client().get("/authorize", query_string=auth_params(challenge=pkce_pair()[1]))
    assert r.status_code == 302 and r.headers["Location"].startswith(PORTAL_CB)
    query = parse_qs(urlsplit(r.headers["Location"]).query)
    assert query["error"] == ["temporarily_unavailable"]
    assert query["iss"] == [ISSUER] and query["state"]
    with app.app_context():
        db.engine.dispose()
