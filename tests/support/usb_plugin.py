"""Drive the USB signing plugin (VNPT's, or our stand-in standins/usb_plugin.py) from Python the
way the sign-in page's idp/static/usb-signer.js does, for tests without a browser:

    with plugin_server(tmp_path, [token_entry(leaf.cert, leaf.key, leaf.chain)]) as server:
        cert_der, cms_der = usb_sign(server.url, challenge, trust=server.tls_cert_pem)

`usb_sign` runs the page's sequence — connect (port after port), checkPlugin, getCertInfo,
SignCMS — and fails with `PluginFailure(message_id)`, `message_id` being the same id the page
shows a message for (`unavailable`, `nocert`, `cancelled`, `nokey`, `failed`), so a test of
the server can produce exactly what the browser would post. `PluginClient` is the protocol
one call at a time; `PluginControl` sets the stand-in's mode over its control socket.
"""
from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from websockets.exceptions import InvalidHandshake, WebSocketException
from websockets.sync.client import ClientConnection, connect

from standins.usb_plugin import PluginServer
from standins.usb_protocol import (
    CANCELLED,
    CANNOT_READ_CERT,
    CHECK_PLUGIN,
    GET_CERT_INFO,
    GET_VERSION,
    NO_PRIVATE_KEY,
    SET_LICENSE_KEY,
    SIGN_CMS,
    SIGN_HASH,
    Plugin,
    Settings,
)
from standins.usb_token import load_tokens, write_tokens

# The page's defaults (usb-signer.js): the ports VNPT's library tries first, 3 s each.
PORTS = (4433, 4434, 4435)
CONNECT_TIMEOUT = 3.0
# Signing waits for a person to type a PIN: no short timeout there.
SIGN_TIMEOUT = 120.0


class PluginFailure(Exception):
    """The sequence stopped; `message_id` names the message the page would show."""

    def __init__(self, message_id: str, detail: str = ""):
        super().__init__(f"{message_id}: {detail}" if detail else message_id)
        self.message_id = message_id


@dataclass(frozen=True)
class SignResult:
    code: int
    data: bytes
    error: str


def _ssl(url: str, trust: bytes | None) -> ssl.SSLContext | None:
    if not url.startswith("wss:"):
        return None
    context = ssl.create_default_context()
    if trust:
        context.load_verify_locations(cadata=trust.decode("ascii"))
    return context


class PluginClient:
    """One websocket to the plugin. `trust`: the PEM of the stand-in's self-signed TLS
    certificate (PluginServer.tls_cert_pem). Calls answer in order, one at a time, as the
    page sends them."""

    def __init__(self, url: str, *, trust: bytes | None = None, timeout: float = CONNECT_TIMEOUT,
                 domain: str = "localhost", origin: str | None = None):
        self.domain = domain
        self.ws: ClientConnection = connect(
            url, ssl=_ssl(url, trust), proxy=None, open_timeout=timeout, compression=None,
            origin=origin)

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> PluginClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, function_id: int, *args: str, callback: str = "callbackDefault",
             timeout: float | None = SIGN_TIMEOUT) -> str:
        """Send one request; the reply's result (the text before the last `*`). Raises
        TimeoutError when no reply comes within `timeout` seconds."""
        self.ws.send(json.dumps({"functionID": function_id, "funcCallback": callback,
                                 "args": list(args), "domain": self.domain}))
        reply = self.ws.recv(timeout=timeout)
        assert isinstance(reply, str), "the plugin answers with text"
        result, star, echoed = reply.rpartition("*")
        assert star and echoed == callback, f"reply {reply[:80]!r} names another callback"
        return result

    def check_plugin(self, timeout: float | None = CONNECT_TIMEOUT) -> str:
        return self.call(CHECK_PLUGIN, "", timeout=timeout)

    def get_version(self) -> str:
        return self.call(GET_VERSION, "")

    def set_licence(self, licence: str) -> dict:
        return json.loads(self.call(SET_LICENSE_KEY, licence))

    def get_cert_info(self, serial: str = "", only_token: bool = False) -> dict | None:
        """The chosen token's certificate info, or None when the plugin read none ("")."""
        result = self.call(GET_CERT_INFO, "1" if only_token else "0", serial)
        return json.loads(result) if result else None

    def _signed(self, function_id: int, data: bytes, timeout: float | None) -> SignResult:
        reply = json.loads(self.call(function_id, base64.b64encode(data).decode("ascii"),
                                     timeout=timeout))
        return SignResult(int(reply["code"]), base64.b64decode(reply.get("data") or ""),
                          str(reply.get("error") or ""))

    def sign_cms(self, content: bytes, timeout: float | None = SIGN_TIMEOUT) -> SignResult:
        return self._signed(SIGN_CMS, content, timeout)

    def sign_hash(self, digest: bytes, timeout: float | None = SIGN_TIMEOUT) -> SignResult:
        return self._signed(SIGN_HASH, digest, timeout)


def connect_first(urls: Sequence[str], *, trust: bytes | None = None,
                  timeout: float = CONNECT_TIMEOUT, domain: str = "localhost") -> PluginClient:
    """The first of `urls` whose server answers checkPlugin with "1" within `timeout`, as the
    page tries its ports; PluginFailure("unavailable") when none does."""
    for url in urls:
        try:
            client = PluginClient(url, trust=trust, timeout=timeout, domain=domain)
        except (OSError, TimeoutError, InvalidHandshake):
            continue
        try:
            if client.check_plugin(timeout=timeout) == "1":
                return client
        except (TimeoutError, WebSocketException):
            pass
        client.close()
    raise PluginFailure("unavailable", f"no plugin at {list(urls)}")


def plugin_urls(host: str = "localhost", ports: Sequence[int] = PORTS,
                scheme: str = "wss") -> list[str]:
    return [f"{scheme}://{host}:{port}/plugin" for port in ports]


# The plugin's codes -> the page's message ids (usb-signer.js messageFor).
_MESSAGE_IDS = {CANCELLED: "cancelled", NO_PRIVATE_KEY: "nokey", CANNOT_READ_CERT: "nocert"}


def usb_sign(urls: str | Sequence[str], challenge: bytes, *, trust: bytes | None = None,
             domain: str = "localhost", licence: str | None = None) -> tuple[bytes, bytes]:
    """The page's whole sequence: (certificate DER from getCertInfo, CMS DER from SignCMS over
    `challenge`) — what the page posts as `certificate` and `signature`, Base64-decoded."""
    urls = [urls] if isinstance(urls, str) else list(urls)
    with connect_first(urls, trust=trust, domain=domain) as client:
        if licence is not None:
            client.set_licence(licence)
        info = client.get_cert_info()
        if not info or not info.get("base64"):
            raise PluginFailure("nocert")
        signed = client.sign_cms(challenge)
        if signed.code != 0 or not signed.data:
            raise PluginFailure(_MESSAGE_IDS.get(signed.code, "failed"), signed.error)
        return base64.b64decode(info["base64"]), signed.data


class PluginControl:
    """The stand-in's control socket: `configure(mode="cancel")`, `reset()`, `state()`."""

    def __init__(self, control_url: str, *, trust: bytes | None = None):
        self.ws = connect(control_url, ssl=_ssl(control_url, trust), proxy=None,
                          compression=None)

    def _send(self, request: dict) -> dict:
        self.ws.send(json.dumps(request))
        reply = json.loads(self.ws.recv(timeout=10))
        if not reply["ok"]:
            raise ValueError(reply["error"])
        return reply

    def configure(self, **settings) -> dict:
        return self._send({"op": "configure", **settings})["settings"]

    def reset(self) -> None:
        self._send({"op": "reset"})

    def state(self) -> dict:
        return self._send({"op": "state"})

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> PluginControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def plugin_server(directory: str | Path, entries: list[dict] | None = None, *, tls: bool = True,
                  port: int = 0, **settings) -> Iterator[PluginServer]:
    """A running stand-in on loopback with the tokens of `directory`/tokens.json (written from
    `entries` first when given: standins.usb_token.token_entry), stopped afterwards."""
    if entries is not None:
        write_tokens(directory, entries)
    plugin = Plugin(load_tokens(directory), Settings(**settings))
    with PluginServer(plugin, port=port, tls=tls or None) as server:
        yield server
