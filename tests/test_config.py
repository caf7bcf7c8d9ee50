"""Configuration: TOML defaults, IDP_* overrides, and production refusing insecure settings."""
from __future__ import annotations

import pytest

from idp.platform.config import ConfigError, load_settings

SECURE = {"IDP_ENV": "production", "IDP_ISSUER": "https://xacthuc.daklak.gov.vn",
          "IDP_SECRET_KEY": "s" * 40, "IDP_KEK": "A" * 43,
          "IDP_DATABASE_URL": "postgresql://idp@db/idp", "IDP_SMS_PROVIDER": "http",
          "IDP_SMS_HTTP_URL": "https://sms.internal/send"}


def test_defaults_and_environment_overrides():
    s = load_settings(environ={})
    assert s["env"] == "development" and s["issuer"] == "http://127.0.0.1:5000"
    s = load_settings(environ={"IDP_OTP_TTL": "120", "IDP_TEST_HOOKS": "1",
                               "IDP_ISSUER": "http://localhost:8000"})
    assert s["otp_ttl"] == 120 and s["test_hooks"] == 1 and s["issuer"] == "http://localhost:8000"


def test_production_example_is_valid_with_secrets_from_environment():
    env = dict(SECURE)
    env["IDP_CONFIG"] = "config/production.example.toml"
    del env["IDP_DATABASE_URL"]
    s = load_settings(environ=env)
    assert s["env"] == "production" and s["issuer"].startswith("https://")


@pytest.mark.parametrize("change, reason", [
    ({"IDP_TEST_HOOKS": "1"}, "IDP_TEST_HOOKS"),
    ({"IDP_ISSUER": "http://127.0.0.1:5000"}, "https"),
    ({"IDP_SECRET_KEY": ""}, "IDP_SECRET_KEY"),
    ({"IDP_SECRET_KEY": "short"}, "IDP_SECRET_KEY"),
    ({"IDP_KEK": ""}, "IDP_KEK"),
])
def test_production_refuses_insecure_settings_with_one_line_reason(change, reason):
    env = dict(SECURE, **change)
    with pytest.raises(ConfigError) as exc:
        load_settings(environ=env)
    assert reason in str(exc.value) and "\n" not in str(exc.value)


def test_production_refuses_sqlite_with_several_workers(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    with pytest.raises(ConfigError, match="SQLite"):
        load_settings(environ=dict(SECURE, IDP_DATABASE_URL="sqlite:////tmp/x.db"))


@pytest.mark.parametrize("env, message", [
    ({"IDP_ISSUER": "http://idp.example.gov.vn"}, "loopback"),
    ({"IDP_ISSUER": "https://idp.example/"}, "must not end"),
    ({"IDP_ISSUER": "https://idp.example?x=1"}, "query"),
    ({"IDP_ISSUER": "ftp://x"}, "http"),
    ({"IDP_OTP_TTL": "601"}, "otp_ttl"),
    ({"IDP_OTP_TTL": "ten"}, "integer"),
    ({"IDP_CODE_TTL": "0"}, "code_ttl"),
    ({"IDP_ENV": "staging"}, "env"),
    ({"IDP_ISSEUR": "https://typo"}, "unknown setting"),
    ({"IDP_DEFAULT_LOCALE": "fr"}, "default_locale"),
    ({"IDP_REDIS_URL": "http://127.0.0.1:6379"}, "redis_url"),
    ({"IDP_REDIS_TIMEOUT": "0"}, "redis_timeout"),
    ({"IDP_DB_POOL_SIZE": "0"}, "db_pool_size"),
    ({"IDP_DB_MAX_OVERFLOW": "-1"}, "db_max_overflow"),
    ({"IDP_LOG_FORMAT": "xml"}, "log_format"),
    ({"IDP_RATE_LIMIT_PAGES": "lots"}, "rate_limit_pages"),
])
def test_bad_settings_are_refused_everywhere(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_create_app_refuses_production_with_test_hooks(monkeypatch):
    from idp import create_app
    for k, v in SECURE.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("IDP_TEST_HOOKS", "1")
    with pytest.raises(ConfigError):
        create_app()
