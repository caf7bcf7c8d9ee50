"""Configuration: TOML files in config/ plus IDP_<KEY> environment overrides (CONTRACT.md §2).

Order, later wins: config/default.toml, the file named by IDP_CONFIG, IDP_* variables, then the
mapping a test passes to create_app(). Every key must exist in default.toml (a typo is an error,
not a silently ignored setting), and values are coerced to the type of the default.
"""
from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = Path(os.environ.get("IDP_CONFIG_DIR", ROOT / "config"))
DEFAULT_FILE = CONFIG_DIR / "default.toml"

# Keys read from the environment that are not settings themselves.
_NOT_SETTINGS = {"IDP_CONFIG", "IDP_CONFIG_DIR", "IDP_INSTANCE_DIR", "IDP_KEK_FILE", "IDP_PORT",
                 "IDP_TEST_DATABASE_URL", "IDP_TEST_REDIS_URL"}


class ConfigError(ValueError):
    """A setting is missing, malformed or insecure; the message is one line for operators."""


def _coerce(key: str, value, default):
    if isinstance(default, list):
        # A TOML list, or from the environment a comma-separated string ("a.vn,b.vn").
        items = value if isinstance(value, list) else str(value).split(",")
        if not all(isinstance(item, str) for item in items):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return [item.strip() for item in items if item.strip()]
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{key}: expected a boolean, got {value!r}")
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    return str(value)


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_settings(overrides: dict | None = None, environ=os.environ) -> dict:
    defaults = _read_toml(DEFAULT_FILE)
    settings = dict(defaults)

    def apply(source: dict, origin: str):
        for key, value in source.items():
            k = key.lower()
            if k not in defaults:
                raise ConfigError(f"{origin}: unknown setting {key!r}")
            settings[k] = _coerce(k, value, defaults[k])

    extra = environ.get("IDP_CONFIG")
    if extra:
        apply(_read_toml(Path(extra)), extra)
    apply(
        {
            name[4:]: value
            for name, value in environ.items()
            if name.startswith("IDP_") and name not in _NOT_SETTINGS
        },
        "environment",
    )
    if overrides:
        apply(overrides, "create_app()")
    validate(settings)
    return settings


def is_loopback(host: str | None) -> bool:
    """localhost or a loopback address (http is allowed there: tests and the demo)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def issuer_is_secure(issuer: str) -> bool:
    return urlsplit(issuer).scheme == "https"


def validate(s: dict) -> None:
    """Checks every environment; production additionally refuses insecure settings."""
    if s["env"] not in {"development", "test", "production"}:
        raise ConfigError(f"env: must be development, test or production, got {s['env']!r}")
    parts = urlsplit(s["issuer"])
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"issuer: must be an absolute http(s) URL, got {s['issuer']!r}")
    if parts.query or parts.fragment:
        raise ConfigError("issuer: must not contain a query or fragment (OIDC Discovery §3)")
    if s["issuer"].endswith("/"):
        raise ConfigError("issuer: must not end with '/'")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError("issuer: http:// is allowed only on a loopback address; use https://")
    if s["otp_ttl"] > 600 or s["otp_ttl"] <= 0:
        raise ConfigError("otp_ttl: must be between 1 and 600 seconds (NIST 800-63B: ≤ 10 min)")
    if not 3600 <= s["counter_activation_ttl"] <= 30 * 86400:
        raise ConfigError("counter_activation_ttl: must be between 3600 s and 30 days")
    if not 1 <= s["counter_activation_max_attempts"] <= 20:
        raise ConfigError("counter_activation_max_attempts: must be between 1 and 20")
    if not 60 <= s["staff_idle_timeout"] <= 3600:
        raise ConfigError("staff_idle_timeout: must be between 60 and 3600 seconds")
    if not s["staff_idle_timeout"] <= s["staff_session_lifetime"] <= 86400:
        raise ConfigError("staff_session_lifetime: between staff_idle_timeout and 86400 s")
    if not 30 <= s["staff_reauth_window"] <= s["staff_session_lifetime"]:
        raise ConfigError("staff_reauth_window: between 30 s and staff_session_lifetime")
    if not 0 < s["code_ttl"] <= 600:
        raise ConfigError("code_ttl: must be between 1 and 600 seconds (RFC 6749 §4.1.2)")
    for key in ("access_token_ttl", "id_token_ttl", "refresh_token_ttl", "flow_ttl",
                "captcha_ttl", "session_ttl", "session_idle_ttl", "login_max_failures",
                "login_id_ceiling", "login_ceiling_delay", "device_cookie_ttl",
                "jwks_max_age", "key_refresh_interval"):
        if s[key] <= 0:
            raise ConfigError(f"{key}: must be positive")
    if s["trusted_proxies"] < 0:
        raise ConfigError("trusted_proxies: must be 0 or more")
    if s["sms_provider"] not in {"outbox", "http"}:
        raise ConfigError("sms_provider: must be outbox or http")
    if s["sms_provider"] == "http" and not s["sms_http_url"].startswith(("http://", "https://")):
        raise ConfigError("sms_http_url: an http(s) URL is required when sms_provider is http")
    if s["redis_url"] and urlsplit(s["redis_url"]).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError("redis_url: must be a redis://, rediss:// or unix:// URL")
    for key in ("redis_timeout", "db_pool_size", "db_pool_timeout", "db_connect_timeout",
                "bhxh_timeout"):
        if s[key] <= 0:
            raise ConfigError(f"{key}: must be positive")
    if s["db_max_overflow"] < 0 or s["db_statement_timeout_ms"] < 0:
        raise ConfigError("db_max_overflow, db_statement_timeout_ms: must be 0 or more")
    if s["log_format"] not in {"", "text", "json"}:
        raise ConfigError("log_format: must be text or json (empty: json in production)")
    for key in ("rate_limit_pages", "rate_limit_captcha", "rate_limit_api"):
        if s[key]:
            from limits import parse_many
            try:
                parse_many(s[key])
            except ValueError:
                raise ConfigError(f"{key}: not a rate such as '300 per minute': "
                                  f"{s[key]!r}") from None
    if s["default_locale"] not in {"vi", "en"}:
        raise ConfigError("default_locale: must be vi or en")
    if s["login_min_acr"] not in {"LoA1", "LoA2"}:
        # LoA3 needs a certificate for every login, which not every citizen has.
        raise ConfigError(f"login_min_acr: must be LoA1 or LoA2, got {s['login_min_acr']!r}")
    _validate_sms_budgets(s)
    _validate_outbox(s)
    _validate_hardening(s)
    _validate_landing(s)
    _validate_pki(s)
    _validate_remote_signers(s)
    if s["env"] == "production":
        if s["test_hooks"]:
            raise ConfigError("production: IDP_TEST_HOOKS must be 0")
        if parts.scheme != "https":
            raise ConfigError("production: the issuer must be https://")
        if len(s["secret_key"]) < 32:
            raise ConfigError("production: IDP_SECRET_KEY must be set (at least 32 characters)")
        if not s["kek"]:
            raise ConfigError("production: IDP_KEK must be set (the key-encryption key)")
        if s["sms_provider"] != "http":
            raise ConfigError("production: IDP_SMS_PROVIDER must be http (the outbox is a file)")
        if not s["database_url"] or s["database_url"].startswith("sqlite"):
            workers = int(os.environ.get("WEB_CONCURRENCY", "1") or 1)
            if workers > 1:
                raise ConfigError("production: SQLite cannot serve more than one worker")


# --- Issue 11 item 6 (low-severity hardening): outside URLs, metrics token.

def _validate_hardening(s: dict) -> None:
    for host in s["backchannel_logout_allowed_hosts"]:
        if not (_is_ip(host) or all(c.isalnum() or c in ".-_" for c in host)):
            raise ConfigError("backchannel_logout_allowed_hosts: host names or IP addresses "
                              f"only (no scheme, port or path), got {host!r}")
    if s["env"] != "production":
        return
    for key, provider in (("sms_http_url", "sms_provider"), ("kyc_http_url", "kyc_provider"),
                          ("bhxh_http_url", "bhxh_provider")):
        if s[provider] == "http" and urlsplit(s[key]).scheme != "https":
            raise ConfigError(f"production: {key} must be an https:// URL "
                              "(codes and personal data cross the network)")
    if s["metrics_token"] and len(s["metrics_token"]) < 32:
        raise ConfigError("production: IDP_METRICS_TOKEN must be at least 32 characters "
                          "(empty: /metrics disabled)")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


# --- Issue 11 item 2: SMS budgets per purpose (idp/sms_budget.py).

def _validate_sms_budgets(s: dict) -> None:
    for key in ("sms_budget_per_phone", "sms_budget_per_phone_unauthenticated",
                "sms_budget_per_phone_notify", "sms_budget_per_ip", "sms_budget_global"):
        if s[key] < 0:
            raise ConfigError(f"{key}: must be 0 or more")
    unauthenticated = s["sms_budget_global_unauthenticated_share"]
    notify = s["sms_budget_global_notify_share"]
    if not 0 <= unauthenticated <= notify <= 1:
        raise ConfigError("sms_budget_global_unauthenticated_share ≤ "
                          "sms_budget_global_notify_share: both between 0 and 1 (anonymous "
                          "codes are shed first, logins last)")


# --- Issue 11 item 4: the outbox and its workers (idp/outbox.py).

def _validate_outbox(s: dict) -> None:
    for key in ("outbox_poll_interval", "outbox_backoff", "backchannel_timeout"):
        if s[key] <= 0:
            raise ConfigError(f"{key}: must be positive")
    if s["outbox_max_attempts"] < 1:
        raise ConfigError("outbox_max_attempts: must be at least 1")
    if s["outbox_inline_worker"] not in {"auto", "on", "off"}:
        raise ConfigError("outbox_inline_worker: must be auto, on or off")
    longest = max(s["sms_timeout"], s["backchannel_timeout"])
    if s["outbox_lease_seconds"] <= longest:
        raise ConfigError(f"outbox_lease_seconds: must exceed the longest delivery "
                          f"(sms_timeout, backchannel_timeout: {longest} s), or a slow "
                          f"delivery would be taken over and sent twice")


# --- Issue 12 item 6: the page at / (idp/landing.py).

def _validate_landing(s: dict) -> None:
    for key, urls in (("home_url", [s["home_url"]] if s["home_url"] else []),
                      ("dev_portal_urls", s["dev_portal_urls"])):
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ConfigError(f"{key}: must be absolute http(s) URLs, got {url!r}")
    if s["env"] == "production" and s["home_url"] and not issuer_is_secure(s["home_url"]):
        raise ConfigError("production: home_url must be an https:// URL")


# --- Issue 15: certificate sign-in (idp/platform/pki/). The anchor files themselves are read
# and checked against their fingerprints by idp/platform/pki/trust.py at start-up.

def _validate_pki(s: dict) -> None:
    pins = s["pki_trust_anchor_sha256"]
    for pin in pins:
        if not re.fullmatch(r"[0-9a-f]{64}", re.sub(r"[\s:]", "", pin).lower()):
            raise ConfigError(f"pki_trust_anchor_sha256: not a SHA-256 fingerprint (64 hex "
                              f"digits): {pin!r}")
    if pins and len(pins) != len(s["pki_trust_anchors"]):
        raise ConfigError(f"pki_trust_anchor_sha256: {len(pins)} fingerprints for "
                          f"{len(s['pki_trust_anchors'])} pki_trust_anchors (one each, same "
                          "order)")
    if s["env"] == "production" and s["pki_trust_anchors"] and not pins:
        raise ConfigError("production: pki_trust_anchor_sha256 must pin every file in "
                          "pki_trust_anchors")
    if s["pki_revocation"] not in {"require", "soft-fail"}:
        raise ConfigError("pki_revocation: must be require or soft-fail")
    if not 0 < s["pki_revocation_timeout"] <= 30:
        raise ConfigError("pki_revocation_timeout: must be between 0 and 30 seconds (a "
                          "citizen waits at the page)")
    for host in s["pki_revocation_allowed_hosts"]:
        if not (_is_ip(host) or all(c.isalnum() or c in ".-_" for c in host)):
            raise ConfigError("pki_revocation_allowed_hosts: host names or IP addresses only "
                              f"(no scheme, port or path), got {host!r}")


def _validate_remote_signers(s: dict) -> None:
    """The carriers' addresses (idp/platform/signers/, the USB plugin on the citizen's PC)."""
    ports = s["usb_plugin_ports"]
    if not ports or not all(p.isdigit() and 0 < int(p) < 65536 for p in ports):
        raise ConfigError(f"usb_plugin_ports: port numbers 1-65535, got {ports!r}")
    if s["usb_plugin_scheme"] not in {"wss", "ws"}:
        raise ConfigError("usb_plugin_scheme: must be wss (or ws for a local test)")
    host = s["usb_plugin_host"]
    if not host or not all(c.isalnum() or c in ".-" for c in host):
        raise ConfigError(f"usb_plugin_host: a host name or IPv4 address, got {host!r}")
    if s["env"] == "production" and s["usb_plugin_scheme"] != "wss":
        raise ConfigError("production: usb_plugin_scheme must be wss")
    for key in ("mobile_sign_url", "smartca_url", "smartca_notify_url"):
        url = s[key]
        if url and urlsplit(url).scheme not in {"http", "https"}:
            raise ConfigError(f"{key}: an http(s) URL, got {url!r}")
        if url and s["env"] == "production" and not url.startswith("https://"):
            raise ConfigError(f"production: {key} must be an https:// URL")
    if not 0 < s["signer_timeout"] <= 60:
        raise ConfigError("signer_timeout: must be between 0 and 60 seconds")
