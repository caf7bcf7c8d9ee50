"""Discovery and JWKS answered below Flask (issue 14 item 2).

Both are precomputed bytes that every relying party fetches often; through Flask each
request paid for the rate limiter, the session and locale set-up, the JSON access-log line and
a latency histogram — about 0.8 ms around a byte string. This WSGI middleware, the outermost
layer of the app, answers `GET`/`HEAD` of exactly these two paths itself: the same bytes,
`ETag` and `If-None-Match` → 304, `Cache-Control: public, max-age`, CORS `*`, `nosniff`,
`no-referrer` and HSTS when the issuer is https. What it leaves out, on purpose:
- no rate limit: answering costs less than checking a limit would (a cache or the reverse
  proxy in front absorbs floods; the documents say `public, max-age`);
- no access-log line: one counter per status instead (`idp_http_requests`, same labels as
  the Flask path, so dashboards do not change); no latency histogram.
The JWKS's periodic reload from the database (KeyRing.published() is None every
`key_refresh_interval` s) runs here in an app context of its own. Anything else — another
method, another path, a reload that failed — goes to Flask unchanged, where
protocol/endpoints.py serves the same documents.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from idp.platform.metrics import Metrics
from idp.protocol.endpoints import discovery_bytes

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/jwks.json"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class StaticDocuments:
    def __init__(self, app: Flask, inner: WsgiApp):
        settings = app.config["IDP"]
        self._app, self._inner = app, inner
        self._keyring = app.extensions["idp.keyring"]
        self._discovery = discovery_bytes(settings["issuer"])
        self._max_age = {DISCOVERY: 3600, JWKS: settings["jwks_max_age"]}
        self._extra = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                       ("Access-Control-Allow-Origin", "*")]
        if settings["issuer"].startswith("https://"):
            self._extra.append(("Strict-Transport-Security",
                                "max-age=31536000; includeSubDomains"))
        self._metrics: Metrics | None = app.extensions.get("idp.metrics")
        self._counters: dict[tuple[str, str, int], Any] = {}

    def _document(self, path: str) -> tuple[bytes, str] | None:
        if path == DISCOVERY:
            return self._discovery
        if path == JWKS:
            return self._keyring.published() or self._reloaded_jwks()
        return None

    def _reloaded_jwks(self) -> tuple[bytes, str] | None:
        """The periodic reload of the key ring (every `key_refresh_interval` s), in an app
        context of its own. A failure (database down) is Flask's to answer: None."""
        try:
            with self._app.app_context():
                jwks: tuple[bytes, str] = self._keyring.jwks()
                return jwks
        except Exception:  # noqa: BLE001 - the Flask view reports it the usual way
            return None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        document = self._document(path) if method in ("GET", "HEAD") else None
        if document is None:
            return self._inner(environ, start_response)
        body, etag = document
        headers = [("Cache-Control", f"public, max-age={self._max_age[path]}"), ("ETag", etag),
                   *self._extra]
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            status, body = 304, b""
            start_response("304 Not Modified", headers)
        else:
            status = 200
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body))), *headers])
        self._count(method, path, status)
        return [] if method == "HEAD" else [body]

    def _count(self, method: str, path: str, status: int) -> None:
        if self._metrics is None:
            return
        key = (method, path, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._metrics.http_requests.labels(method, path, str(status))
            self._counters[key] = counter
        counter.inc()


def init_app(app: Flask) -> None:
    """Call last in create_app: the middleware must be the outermost layer."""
    app.wsgi_app = StaticDocuments(app, app.wsgi_app)  # type: ignore[method-assign]
