"""Where the IdP may send requests that a client's metadata names (back-channel logout URIs):
a guard against server-side request forgery (ASVS 5.0 §1.3.6 / OWASP SSRF prevention).

A client's `backchannel_logout_uri` is chosen by whoever registers the client, and the IdP
POSTs to it from inside the data centre. Without a guard it could name the cloud metadata
service (169.254.169.254), a database port on the private network or the node itself.
Rules:

- production: the URI must be https;
- its host must not be, or resolve to, an address that is not globally routable (loopback,
  private, link-local, shared/CGNAT, multicast, reserved, unspecified; IPv4-mapped IPv6
  addresses are judged by their IPv4 address), unless the operator allow-lists the host name
  in `backchannel_logout_allowed_hosts` (an RP on the province's own network);
- development/test: loopback is allowed (the demo portals live on 127.0.0.1), http too (the
  client validation allows http only on loopback).

The check runs twice. At registration (`check_url`, from `idp clients import|add`) on the
literal host, and on the addresses it resolves to when it resolves (an RP may not be in DNS
yet: a name that does not resolve is accepted there). At delivery time, because DNS can change
after registration (DNS rebinding): `resolve_checked` resolves once and checks every address,
and `connection` returns an http.client connection pinned to the checked address (the TLS
certificate is still verified against the host name), so no second resolution can swap in an
internal address between the check and the connection.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit


class BlockedURL(ValueError):
    """The URL may not be called. `code` is for logs and audit; the message, one line, says why
    (in Vietnamese, like the other client-metadata errors an operator sees)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Policy:
    production: bool
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: dict) -> Policy:
        return cls(production=settings["env"] == "production",
                   allowed_hosts=frozenset(_norm_host(h) for h in
                                           settings.get("backchannel_logout_allowed_hosts") or ()))


def _norm_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _policy(allowed_hosts, production: bool) -> Policy:
    return Policy(production, frozenset(_norm_host(h) for h in allowed_hosts or ()))


_HINT = " (nếu đúng là máy chủ của RP, thêm host vào backchannel_logout_allowed_hosts)"


def check_address(address: str, production: bool) -> None:
    """Refuse an address that is not globally routable (loopback allowed outside production)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        raise BlockedURL("bad_address", f"địa chỉ không hợp lệ: {address!r}") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        if production:
            raise BlockedURL("loopback", f"địa chỉ loopback ({ip}) không được phép trong "
                                         f"production{_HINT}")
        return
    if ip.is_link_local:
        raise BlockedURL("link_local", f"địa chỉ link-local ({ip}) không được phép{_HINT}")
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        raise BlockedURL("private", f"địa chỉ nội bộ/không định tuyến công khai ({ip}) "
                                    f"không được phép{_HINT}")


def _split(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BlockedURL("bad_url", f"URI không hợp lệ: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedURL("bad_url", f"URI phải là địa chỉ tuyệt đối http(s): {url!r}")
    return parts.scheme, _norm_host(parts.hostname), port or (443 if parts.scheme == "https"
                                                               else 80)


def _check_scheme_and_literal(url: str, policy: Policy) -> tuple[str, int, bool]:
    """(host, port, allow-listed) after the checks that need no DNS."""
    scheme, host, port = _split(url)
    if policy.production and scheme != "https":
        raise BlockedURL("not_https", f"production: URI phải dùng https://: {url}")
    if host in policy.allowed_hosts:
        return host, port, True
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761 §6.3: always loopback
        check_address("127.0.0.1", policy.production)
    else:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return host, port, False
        check_address(host, policy.production)
    return host, port, False


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_url(url: str, allowed_hosts=(), production: bool = False) -> None:
    """Registration-time check (see the module docstring); raises BlockedURL with the reason."""
    policy = _policy(allowed_hosts, production)
    host, port, allowed = _check_scheme_and_literal(url, policy)
    if allowed:
        return
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        return  # not in DNS (yet): the delivery-time check decides
    for address in addresses:
        check_address(address, policy.production)


def resolve_checked(host: str, port: int = 443, allowed_hosts=(),
                    production: bool = False) -> list[str]:
    """Delivery-time: the addresses of `host`, every one of them checked. Raises BlockedURL
    (code `unresolvable` when the name does not resolve)."""
    policy = _policy(allowed_hosts, production)
    host = _norm_host(host)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        raise BlockedURL("unresolvable", f"không phân giải được tên miền {host!r}") from None
    if not addresses:
        raise BlockedURL("unresolvable", f"không phân giải được tên miền {host!r}")
    if host not in policy.allowed_hosts:
        for address in addresses:
            check_address(address, policy.production)
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, **kw):
        super().__init__(host, port, **kw)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, context, **kw):
        super().__init__(host, port, context=context, **kw)
        self._address = address
        self._ctx = context

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # SNI and certificate verification against the host name, not the pinned address.
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def connection(url: str, timeout: float, allowed_hosts=(), production: bool = False,
               context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
    """An http.client connection for `url` (not yet connected) whose socket goes to an address
    checked by `resolve_checked`. Raises BlockedURL before any byte is sent."""
    policy = _policy(allowed_hosts, production)
    host, port, _ = _check_scheme_and_literal(url, policy)
    address = resolve_checked(host, port, policy.allowed_hosts, policy.production)[0]
    if urlsplit(url).scheme == "https":
        if context is None:
            context = ssl.create_default_context()
            context.minimum_version = ssl.TLSVersion.TLSv1_2
        return _PinnedHTTPSConnection(host, port, address, context, timeout=timeout)
    return _PinnedHTTPConnection(host, port, address, timeout=timeout)
