"""The signing stand-ins (standins/) in tests: a WSGI app on a loopback port in a thread,
subscribers.json written from test-CA leaves (idp.platform.pki.testca), the stand-ins'
/_control/ endpoints, and a port where nothing listens."""
from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from werkzeug.serving import make_server

from idp.platform.pki.testca import UID, Issued


@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port, threaded) for the block; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def cccd_of(leaf: Issued) -> str:
    """The 12 digits of the leaf's `UID=CCCD:` attribute."""
    for attr in leaf.cert.subject.get_attributes_for_oid(UID):
        if str(attr.value).startswith("CCCD:"):
            return str(attr.value).split(":", 1)[1]
    raise ValueError("the leaf names no CCCD")


def subscriber(leaf: Issued, *, phone: str = "", password: str = "mat-khau-demo",
               status: str = "valid", **extra: Any) -> dict[str, Any]:
    """One subscribers.json entry for `leaf` (user_id: the leaf's CCCD)."""
    pem = serialization.Encoding.PEM
    key_pem = leaf.key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
    return {"user_id": cccd_of(leaf), "phone": phone, "password": password,
            "cert_pem": leaf.cert.public_bytes(pem).decode(),
            "chain_pem": [c.public_bytes(pem).decode() for c in leaf.chain],
            "key_pem": key_pem, "status": status, **extra}


def write_subscribers(directory: Path, entries: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "subscribers.json"
    path.write_text(json.dumps(entries, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


class Control:
    """A stand-in's /_control/ endpoints."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/") + "/_control"

    def reset(self) -> None:
        requests.post(f"{self.base}/reset", timeout=5).raise_for_status()

    def settings(self, **changes: Any) -> dict:
        r = requests.post(f"{self.base}/settings", json=changes, timeout=5)
        r.raise_for_status()
        return r.json()

    def act(self, tx_id: str, action: str) -> requests.Response:
        return requests.post(f"{self.base}/transactions/{tx_id}/{action}", timeout=5)

    def transactions(self) -> list[dict]:
        return requests.get(f"{self.base}/transactions", timeout=5).json()

    def requests(self) -> list[dict]:
        return requests.get(f"{self.base}/requests", timeout=5).json()

    def notifications(self) -> list[dict]:
        return requests.get(f"{self.base}/notifications", timeout=5).json()
