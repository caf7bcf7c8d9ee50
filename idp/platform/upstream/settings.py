"""The upstream providers' file (`upstream_providers_file`, TOML): one table per provider.

```toml
[vneid]
label = "VNeID"
mode = "vneid-encrypted"          # or "oidc"
authorization_endpoint = "https://…/authorize"
token_endpoint = "https://…/token"
userinfo_endpoint = "https://…/userinfo"
client_id = "…"
client_secret_env = "VNEID_CLIENT_SECRET"   # or client_secret = "…"
private_key_file = "vneid-rp.pem"           # relative: to this file's folder
```

Every problem is a `ConfigError` naming the provider and the key, raised at start-up: nothing
is fetched over the network here (discovery and JWKS are fetched at first use).
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from idp.platform.config import ConfigError, is_loopback

MODES = ("oidc", "vneid-encrypted")
NAME = re.compile(r"[a-z0-9-]{1,32}")
_URL_KEYS = ("discovery_url", "issuer", "authorization_endpoint", "token_endpoint",
             "userinfo_endpoint", "jwks_uri", "end_session_endpoint", "logout_endpoint")
_DEFAULTS: dict[str, Any] = {
    "label": "", "mode": "", **{key: "" for key in _URL_KEYS},
    "client_id": "", "client_secret": "", "client_secret_env": "", "scopes": ["openid"],
    "private_key_file": "", "token_code": "decrypted", "send_nonce": False,
    "send_pkce": False, "timeout": 10.0, "clock_skew": 120, "max_response_bytes": 65536,
}


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    label: str
    mode: str
    redirect_uri: str
    backchannel_logout_uri: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ("openid",)
    discovery_url: str = ""
    issuer: str = ""
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    userinfo_endpoint: str = ""
    jwks_uri: str = ""
    end_session_endpoint: str = ""
    logout_endpoint: str = ""
    private_key: rsa.RSAPrivateKey | None = field(default=None, repr=False, compare=False)
    token_code: str = "decrypted"
    send_nonce: bool = False
    send_pkce: bool = False
    timeout: float = 10.0
    clock_skew: int = 120
    max_response_bytes: int = 65536

    @property
    def encrypted(self) -> bool:
        return self.mode == "vneid-encrypted"


def url_is_acceptable(url: str) -> bool:
    """https, or http on a loopback host (tests and the demo)."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return False
    return parts.scheme == "https" or is_loopback(parts.hostname)


def load_providers(path: str | os.PathLike[str], issuer: str,
                   environ: Any = os.environ) -> dict[str, ProviderSettings]:
    """The providers the file at `path` configures, by name; an empty path → none."""
    if not str(path):
        return {}
    file = Path(path)
    problem = ""
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        problem = f"cannot read {str(path)!r} ({exc.__class__.__name__})"
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problem = f"{str(path)!r} is not valid TOML ({exc})"
    if problem:
        raise ConfigError("upstream_providers_file: " + problem)
    found: dict[str, ProviderSettings] = {}
    for name, table in data.items():
        if not NAME.fullmatch(name):
            raise ConfigError(f"upstream provider {name!r}: the name must be 1-32 of a-z, 0-9, -")
        if not isinstance(table, dict):
            raise ConfigError(f"upstream provider {name!r}: must be a table ([{name}])")
        found[name] = parse_provider(name, table, issuer, file.parent, environ)
    return found


def parse_provider(name: str, table: dict[str, Any], issuer: str, base: Path,
                   environ: Any = os.environ) -> ProviderSettings:
    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"upstream provider {name!r}: {key}: {why}")

    unknown = sorted(set(table) - set(_DEFAULTS))
    if unknown:
        raise fail(unknown[0], "unknown key")
    s = {**_DEFAULTS, **table}
    for key, default in _DEFAULTS.items():
        value = s[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, list):
            ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise fail(key, f"wrong type ({type(value).__name__})")
    mode = s["mode"]
    if mode not in MODES:
        raise fail("mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    if not s["client_id"]:
        raise fail("client_id", "missing")
    secret = s["client_secret"]
    if s["client_secret_env"]:
        if secret:
            raise fail("client_secret_env", "give client_secret or client_secret_env, not both")
        secret = environ.get(s["client_secret_env"], "")
        if not secret:
            raise fail("client_secret_env", f"environment variable {s['client_secret_env']!r} "
                                            "is not set")
    if not secret:
        raise fail("client_secret", "missing (or set client_secret_env)")
    for key in _URL_KEYS:
        if s[key] and not url_is_acceptable(s[key]):
            raise fail(key, "must be an https:// URL (http only on a loopback host)")
    if mode == "oidc":
        needed = ["issuer"] + ([] if s["discovery_url"] else
                               ["authorization_endpoint", "token_endpoint", "jwks_uri"])
        if "openid" not in s["scopes"]:
            raise fail("scopes", "must contain 'openid'")
    else:
        needed = ["authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                  "private_key_file"]
        if s["discovery_url"] or s["jwks_uri"] or s["end_session_endpoint"]:
            key = next(k for k in ("discovery_url", "jwks_uri", "end_session_endpoint") if s[k])
            raise fail(key, "not used in vneid-encrypted mode")
    for key in needed:
        if not s[key]:
            raise fail(key, f"missing (needed in {mode} mode)")
    if s["token_code"] not in ("decrypted", "encrypted"):
        raise fail("token_code", f"must be 'decrypted' or 'encrypted', got {s['token_code']!r}")
    if not 0 < s["timeout"] <= 60:
        raise fail("timeout", "must be between 0 and 60 seconds")
    if not 0 <= s["clock_skew"] <= 600:
        raise fail("clock_skew", "must be between 0 and 600 seconds")
    if not 1024 <= s["max_response_bytes"] <= 10 * 1024 * 1024:
        raise fail("max_response_bytes", "must be between 1024 and 10485760")
    private_key = _private_key(s["private_key_file"], base, fail) \
        if s["private_key_file"] else None
    root = issuer.rstrip("/")
    return ProviderSettings(
        name=name, label=s["label"] or name, mode=mode,
        redirect_uri=f"{root}/signin/upstream/{name}/callback",
        backchannel_logout_uri=f"{root}/signin/upstream/{name}/backchannel-logout",
        client_id=s["client_id"], client_secret=secret, scopes=tuple(s["scopes"]),
        **{k: s[k] for k in _URL_KEYS}, private_key=private_key, token_code=s["token_code"],
        send_nonce=s["send_nonce"], send_pkce=s["send_pkce"], timeout=float(s["timeout"]),
        clock_skew=s["clock_skew"], max_response_bytes=s["max_response_bytes"])


def _private_key(value: str, base: Path, fail: Any) -> rsa.RSAPrivateKey:
    path = Path(value)
    if not path.is_absolute():
        path = base / path
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise fail("private_key_file", f"cannot read ({exc.__class__.__name__})") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise fail("private_key_file", "not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise fail("private_key_file", "not an RSA private key")
    if key.key_size < 2048:
        raise fail("private_key_file", "RSA key shorter than 2048 bits")
    return key
