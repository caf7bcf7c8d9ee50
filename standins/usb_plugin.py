"""A stand-in for VNPT's signing plugin ("VNPT-CA Plugin", reference pki.md §2, §9): the
program on the citizen's PC that the certificate sign-in page's JavaScript
(idp/static/usb-signer.js) reaches at `wss://localhost:<4433|4434|4435>/plugin` to read the
USB token's certificate and sign our challenge with its key. Tests and the development demo
run this instead, with test tokens (standins/usb_token.py), so every branch of the page and of
the server's verification can be reached without Windows, a token or a PIN dialog.

The protocol, its modes and the control socket: standins/usb_protocol.py.

Run: `python -m standins.usb_plugin --port 4433 --data DIR [--plain]`; TLS uses --tls-cert and
--tls-key, or else a fresh self-signed certificate for localhost/127.0.0.1/::1 written to
DIR/tls/ (a browser must be told to trust it, e.g. Playwright's ignore_https_errors).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
import tempfile
import threading
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from standins.usb_protocol import CONTROL_PATH, MODES, PLUGIN_PATH, Plugin, Settings
from standins.usb_token import load_tokens

log = logging.getLogger("standins.usb_plugin")


def self_signed_tls(directory: str | Path) -> tuple[Path, Path]:
    """A fresh self-signed EC certificate for localhost, 127.0.0.1 and ::1 (30 days), written
    as directory/cert.pem and directory/key.pem; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "USB plugin stand-in")])
    now = dt.datetime.now(dt.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
             x509.IPAddress(ipaddress.ip_address("::1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def tls_context(cert_path: str | Path, key_path: str | Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_path), str(key_path))
    # No TLS 1.3 session tickets: OpenSSL sends them just after the handshake, racing the
    # client's first request; with them about 1 connection in 300 of the tests' quick
    # connect-call-close lost its opening request here (compare openssl/openssl#7948).
    # Nobody resumes sessions with a local plugin.
    context.num_tickets = 0
    return context


# --- the server

class PluginServer:
    """Serves a `Plugin` on loopback: `await run()` in an event loop (the command line), or
    `start()`/`stop()` on a background thread (tests; also a context manager). `port=0` takes
    a free port; `url` and `control_url` say where it listens once started. With `tls=None`
    it speaks plain ws://; otherwise wss:// with `tls`, or with a fresh self-signed
    certificate when `tls=True` (its PEM in `tls_cert_pem`, for clients to trust)."""

    def __init__(self, plugin: Plugin, host: str = "127.0.0.1", port: int = 0,
                 tls: ssl.SSLContext | bool | None = True):
        self.plugin, self.host, self.port = plugin, host, port
        self.tls_cert_pem: bytes | None = None
        if tls is True:
            with tempfile.TemporaryDirectory() as scratch:
                cert_path, key_path = self_signed_tls(scratch)
                self.tls_cert_pem = cert_path.read_bytes()
                tls = tls_context(cert_path, key_path)
        self.tls: ssl.SSLContext | None = tls or None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}{PLUGIN_PATH}"

    @property
    def control_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}{CONTROL_PATH}"

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path not in (PLUGIN_PATH, CONTROL_PATH):
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        request = connection.request
        path = urlsplit(request.path).path if request else PLUGIN_PATH
        origin = request.headers.get("Origin") if request else None
        try:
            async for message in connection:
                if not isinstance(message, str):
                    await connection.close(1003, "text messages only")
                    return
                if path == CONTROL_PATH:
                    await connection.send(self.plugin.control(message))
                    continue
                delay, reply = self.plugin.handle(message, origin)
                if delay:
                    await asyncio.sleep(delay)
                await connection.send(reply)
        except ConnectionClosed:
            pass  # the page went away mid-request, as a closed tab does

    async def run(self, started: threading.Event | None = None) -> None:
        """Serve until `stop()` (or until cancelled)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._serve, self.host, self.port, ssl=self.tls,
                         process_request=self._route, compression=None) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            log.info("USB plugin stand-in listening on %s", self.url)
            if started:
                started.set()
            await self._stop.wait()

    def start(self) -> PluginServer:
        def main() -> None:
            try:
                asyncio.run(self.run(self._ready))
            except BaseException as exc:  # noqa: BLE001 - reported to start()'s caller
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=main, name="usb-plugin-standin", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error:
            raise RuntimeError(f"the USB plugin stand-in did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop and self._stop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> PluginServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standins.usb_plugin",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=4433)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data", required=True, help="directory holding tokens.json")
    parser.add_argument("--plain", action="store_true", help="ws:// instead of wss://")
    parser.add_argument("--tls-cert", help="PEM certificate (default: a self-signed one)")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--mode", default="ok", choices=MODES)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--serial", help="the token the user picks (default: the first)")
    parser.add_argument("--detached", action="store_true", help="SignCMS without content")
    parser.add_argument("--licence", default="any", choices=("any", "check"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    plugin = Plugin(load_tokens(args.data),
                    Settings(mode=args.mode, delay=args.delay, serial=args.serial,
                             detached=args.detached, licence=args.licence))
    tls: ssl.SSLContext | None = None
    if not args.plain:
        if args.tls_cert and args.tls_key:
            cert_path, key_path = Path(args.tls_cert), Path(args.tls_key)
        else:
            cert_path, key_path = self_signed_tls(Path(args.data) / "tls")
            log.info("self-signed TLS certificate: %s", cert_path)
        tls = tls_context(cert_path, key_path)
    try:
        asyncio.run(PluginServer(plugin, args.host, args.port, tls).run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
