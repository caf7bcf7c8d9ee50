"""The IdP and the demo portals on real loopback HTTP servers, for the browser tests and the
HTTP tests that need real redirects between them: one way to start each, so the fixtures
of tests/conftest.py and of the browser tests differ only in the settings they pass."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from tests.support import SECRET
from tests.support.apps import free_port, make_app


@contextlib.contextmanager
def _served(app: Any, port: int) -> Iterator[None]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@contextlib.contextmanager
def serve_idp(database_url: str, *, port: int | None = None,
              **settings: Any) -> Iterator[tuple[str, Flask]]:
    """The IdP at http://127.0.0.1:<port> (a free one unless given: a stand-in that must know
    the IdP's callback before it starts is given the port first); yields (issuer, app). A
    served IdP delivers its outbox (codes, notices, back-channel logouts) with a worker
    thread, as under ./run (idp/platform/outbox.py)."""
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = make_app(database_url, issuer=issuer, outbox_inline_worker="on",
                   outbox_poll_interval=0.1, **settings)
    try:
        with _served(app, port):
            yield issuer, app
    finally:
        if "idp.outbox.inline" in app.extensions:
            app.extensions["idp.outbox.inline"].stop.set()


def register_client(app: Flask, client_id: str, metadata: dict) -> None:
    """A confidential client (secret tests.support.SECRET) added to the IdP's database."""
    from idp.platform.crypto import hash_secret
    from idp.platform.db import db
    from idp.platform.models import Client

    with app.app_context():
        client = Client(client_id=client_id, client_secret_hash=hash_secret(SECRET))
        client.set_metadata(metadata)
        db.session.add(client)
        db.session.commit()


@contextlib.contextmanager
def serve_portal(idp: tuple[str, Flask], module: Any, instance_dir: Path, *, client_id: str,
                 client_name: str, scope: str, backchannel: bool = False,
                 id_token_alg: str | None = None, **portal_settings: Any) -> Iterator[str]:
    """A demo portal (`module`: portals.daklak or portals.quocgia) on a free loopback port,
    registered at the IdP as `client_id` with its callback and post-logout URIs (and its
    back-channel logout URI when `backchannel`); yields its base URL."""
    from portals.app import create_portal

    issuer, app = idp
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    metadata = {"client_name": client_name, "redirect_uris": [base + "/auth/callback"],
                "post_logout_redirect_uris": [base + "/"], "scope": scope,
                "token_endpoint_auth_method": "client_secret_basic"}
    if backchannel:
        metadata.update(backchannel_logout_uri=base + "/auth/backchannel-logout",
                        backchannel_logout_session_required=True)
    if id_token_alg:
        metadata["id_token_signed_response_alg"] = id_token_alg
    register_client(app, client_id, metadata)
    config = dict(module.DEFAULTS, issuer=issuer, client_id=client_id, client_secret=SECRET,
                  base_url=base, instance_dir=str(instance_dir), secret_key="p" * 40,
                  **portal_settings)
    with _served(create_portal(config), port):
        yield base
