"""Discovery and JWKS below Flask (idp/protocol/static_documents.py): the same documents and
headers as the Flask views, 304 on a matching ETag, HEAD without a body, counted in metrics,
no access-log line, and a JWKS that still follows key rotation (a reload due goes through
Flask)."""
from __future__ import annotations

import logging

from werkzeug.test import Client
from werkzeug.wrappers import Response

from idp.platform import keys
from idp.platform.db import db
from idp.protocol.endpoints import discovery_document
from idp.protocol.static_documents import StaticDocuments
from tests.support import ISSUER

PATHS = ("/.well-known/openid-configuration", "/jwks.json")


def requests_counted(app, path: str, status: int, method: str = "GET") -> float:
    found = app.extensions["idp.metrics"].registry.get_sample_value(
        "idp_http_requests_total", {"method": method, "endpoint": path, "status": str(status)})
    return found or 0.0


def test_the_middleware_is_the_outermost_layer(app):
    assert isinstance(app.wsgi_app, StaticDocuments)


def test_discovery_is_the_document_with_cache_headers(app, client):
    r = client.get(PATHS[0])
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_json() == discovery_document(ISSUER)
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert int(r.headers["Content-Length"]) == len(r.get_data())
    assert "Set-Cookie" not in r.headers


def test_the_fast_path_and_the_flask_view_answer_the_same(app, client):
    """Inner app = the Flask views alone: same body, same ETag, same caching."""
    for path in PATHS:
        client.get(path)  # the first JWKS request loads the keys (through Flask)
        fast = client.get(path)
        direct = Client(app.wsgi_app._inner, Response).get(path)
        assert fast.get_data() == direct.get_data()
        assert fast.headers["ETag"] == direct.headers["ETag"]
        assert fast.headers["Cache-Control"] == direct.headers["Cache-Control"]


def test_a_matching_etag_gets_304_and_head_gets_no_body(app, client):
    for path in PATHS:
        client.get(path)
        etag = client.get(path).headers["ETag"]
        r = client.get(path, headers={"If-None-Match": etag})
        assert r.status_code == 304 and r.get_data() == b"" and r.headers["ETag"] == etag
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        head = client.head(path)
        assert head.status_code == 200 and head.get_data() == b""


def test_requests_are_counted_without_an_access_log_line(app, client, caplog):
    client.get(PATHS[1])  # keys loaded
    before = requests_counted(app, PATHS[0], 200), requests_counted(app, PATHS[1], 200)
    with caplog.at_level(logging.INFO):
        caplog.clear()
        for path in PATHS * 3:
            assert client.get(path).status_code == 200
        access = [r for r in caplog.records if PATHS[0] in r.getMessage()
                  or PATHS[1] in r.getMessage()]
    assert access == []
    assert requests_counted(app, PATHS[0], 200) == before[0] + 3
    assert requests_counted(app, PATHS[1], 200) == before[1] + 3


def test_other_methods_and_paths_go_to_flask(app, client):
    assert client.post(PATHS[0]).status_code == 405
    assert client.get(PATHS[0] + "/").status_code == 404


def test_jwks_follows_a_key_rotation(app, client):
    """A rotation invalidates the key ring (as the periodic reload does on another node): the
    next request goes through Flask, reloads, and the fast path serves the new set."""
    first = client.get(PATHS[1]).get_json()
    with app.app_context():
        keys.rotate(app.extensions["idp.keyring"]._kek)
        db.session.remove()
    app.extensions["idp.keyring"].invalidate()
    after = client.get(PATHS[1]).get_json()
    assert {k["kid"] for k in after["keys"]} > {k["kid"] for k in first["keys"]}
    assert client.get(PATHS[1]).get_json() == after
