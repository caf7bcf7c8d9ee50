"""The test PKI on loopback: a TestPki (idp/platform/pki/testca.py) whose CRLs and OCSP answers
are served by a real HTTP server on 127.0.0.1 (port 0, a thread), so the validator fetches
them over the network as it would from crl.vnpt-ca.vn / ocsp.vnpt-ca.vn.

    with serve_pki() as served:             # or the `pki_server` fixture
        leaf = served.pki.issue(uids=("CCCD:001200000001",))
        policy = served.policy()            # validation.Policy trusting its two roots
        validation.validate(leaf.cert, leaf.chain, policy=policy)
        served.count("ocsp")                # requests seen, per service ("crl", "ocsp")
        served.down = {"ocsp"}              # that service answers 503 from now on
        served.delay = 2.0                  # every answer waits this long first

Every request is recorded (`served.requests`: (method, path)). The revocation cache is per
process: `serve_pki` clears it on entry and exit, so tests do not see each other's answers.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from idp.platform.pki import revocation, testca, validation


class PkiServer:
    def __init__(self, httpd: ThreadingHTTPServer):
        self.httpd = httpd
        self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self.pki = testca.TestPki.create(base_url=self.base_url)
        self.requests: list[tuple[str, str]] = []
        self.down: set[str] = set()
        self.delay = 0.0
        self._lock = threading.Lock()

    def count(self, service: str | None = None) -> int:
        """Requests seen so far, all or those of one service ("crl" or "ocsp")."""
        with self._lock:
            return sum(1 for _, path in self.requests
                       if service is None or path.startswith(f"/{service}/"))

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def policy(self, **changes) -> validation.Policy:
        """A validation policy trusting this PKI's two roots (fail closed unless changed)."""
        return validation.Policy(anchors=tuple(self.pki.anchors), **changes)

    def settings(self, directory: Path) -> dict:
        """create_app() overrides that configure this PKI's roots, written under `directory`."""
        paths = self.pki.write(directory)
        return {"pki_trust_anchors": [str(p) for p in paths],
                "pki_trust_anchor_sha256": self.pki.anchor_sha256}

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests.append((method, path))
        if self.delay:
            time.sleep(self.delay)
        service, _, name = path.lstrip("/").partition("/")
        if service in self.down:
            return 503, "text/plain", b"down"
        if service == "crl" and method == "GET" and name.endswith(".crl"):
            ca = name.removesuffix(".crl")
            if ca in self.pki.cas:
                return 200, "application/pkix-crl", self.pki.crl_der(ca)
        if service == "ocsp" and method == "POST" and name in self.pki.cas:
            return 200, "application/ocsp-response", self.pki.ocsp_response_der(body)
        return 404, "text/plain", b"not found"


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        served: PkiServer = self.server.served  # type: ignore[attr-defined]
        status, kind, data = served.answer(method, self.path, body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._respond("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._respond("POST")

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet test output
        pass


@contextlib.contextmanager
def serve_pki() -> Iterator[PkiServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    served = PkiServer(httpd)
    httpd.served = served  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              name="test-pki", daemon=True)
    thread.start()
    revocation.clear_cache()
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        revocation.clear_cache()


@pytest.fixture
def pki_server() -> Iterator[PkiServer]:
    with serve_pki() as served:
        yield served
