"""The IdP as a relying party of upstream identity providers ("Đăng nhập bằng VNeID",
reference/vneid.md): the providers of `upstream_providers_file` (settings.py), each an
`UpstreamProvider` (client.py) that the sign-in flows drive with `begin()` / `finish()`.

- `settings`: the providers' TOML file → frozen `ProviderSettings` (ConfigError at start-up);
- `envelope`: VNeID's `{data, key}` encryption (RSA PKCS#1 v1.5 + AES-ECB) and encrypted code;
- `jwks`: discovery and JWKS, fetched at first use, cached, one refetch on an unknown kid;
- `id_token`: ID token and back-channel logout token checks;
- `transport`: one capped HTTP exchange, no redirects;
- `errors`: `UpstreamError` (area "upstream", messages `upstream.<reason>`).

`init_app` builds the providers once at start-up without touching the network;
`provider(name)` / `providers()` are how the flows reach them.
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from idp.platform.extensions import installed
from idp.platform.upstream.client import UpstreamProvider
from idp.platform.upstream.errors import UpstreamError
from idp.platform.upstream.model import Expected, LogoutRequest, Start, UpstreamIdentity
from idp.platform.upstream.settings import ProviderSettings, load_providers

__all__ = ["Expected", "LogoutRequest", "ProviderSettings", "Start", "UpstreamError",
           "UpstreamIdentity", "UpstreamProvider", "build", "init_app", "provider",
           "providers"]

EXTENSION = "idp.upstream"


def build(settings: dict[str, Any]) -> dict[str, UpstreamProvider]:
    """The providers the IdP settings configure, by name (none when the file key is empty)."""
    found = load_providers(settings.get("upstream_providers_file", "") or "",
                           settings["issuer"])
    return {name: UpstreamProvider(s) for name, s in found.items()}


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = build(app.config["IDP"])


def provider(name: str) -> UpstreamProvider | None:
    """The configured provider `name`, None when it is not configured (or outside an app)."""
    found: UpstreamProvider | None = installed(EXTENSION).get(name)
    return found


def providers() -> list[UpstreamProvider]:
    return list(installed(EXTENSION).values())
