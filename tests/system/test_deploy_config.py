"""The production examples in config/: gunicorn.conf.py derives its settings from the IdP's
own configuration, and nginx.example.conf is a valid nginx configuration."""
from __future__ import annotations

import datetime as dt
import os
import runpy
import subprocess
import sys

import pytest

from tests.system.harness import GUNICORN_CONF, NGINX, ROOT

EXAMPLE = ROOT / "config" / "nginx.example.conf"
PRODUCTION = {"IDP_ENV": "production", "IDP_ISSUER": "https://xacthuc.example.vn",
              "IDP_SECRET_KEY": "p" * 40, "IDP_KEK": "A" * 43, "IDP_SMS_PROVIDER": "http",
              "IDP_SMS_HTTP_URL": "https://sms.example.vn/send"}


def load_conf(monkeypatch, tmp_path, **env) -> dict:
    """Evaluate config/gunicorn.conf.py as gunicorn does, with only `env` set."""
    for name in list(os.environ):
        if name.startswith(("IDP_", "GUNICORN_")) or name in ("WEB_CONCURRENCY",
                                                              "FORWARDED_ALLOW_IPS"):
            monkeypatch.delenv(name)
    # gunicorn.conf.py writes WEB_CONCURRENCY into os.environ: make monkeypatch restore it
    # (absent) afterwards, or later production checks in this process see several workers.
    monkeypatch.setenv("WEB_CONCURRENCY", "")
    monkeypatch.delenv("WEB_CONCURRENCY")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("IDP_INSTANCE_DIR", str(tmp_path / "instance"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def test_gunicorn_settings_follow_the_idp_configuration(monkeypatch, tmp_path):
    pg = "postgresql://idp@db.internal/idp"
    conf = load_conf(monkeypatch, tmp_path, IDP_DATABASE_URL=pg)
    assert conf["workers"] == min(2 * os.cpu_count() + 1, 8)
    assert conf["worker_class"] == "gthread" and conf["threads"] == 4
    assert conf["bind"] == ["127.0.0.1:8000"] and conf["accesslog"] is None
    assert conf["forwarded_allow_ips"] == ""  # the application trusts no proxy: nor does gunicorn
    assert conf["control_socket_disable"] is True
    conf = load_conf(monkeypatch, tmp_path, IDP_DATABASE_URL=pg, IDP_TRUSTED_PROXIES="1",
                     WEB_CONCURRENCY="3", GUNICORN_BIND="10.0.1.11:8000")
    assert conf["workers"] == 3 and conf["bind"] == ["10.0.1.11:8000"]
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert load_conf(monkeypatch, tmp_path)["workers"] == 1  # SQLite: one writer


def test_gunicorn_refuses_sqlite_with_several_workers_in_production(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(PRODUCTION, WEB_CONCURRENCY="3", PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
               IDP_INSTANCE_DIR=str(tmp_path / "instance"))
    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
                             "--check-config", "idp.wsgi:app"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "error: configuration: production: SQLite cannot serve more than one worker" \
        in result.stderr


def test_nginx_example_is_valid(tmp_path):
    if not os.access(NGINX, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{NGINX} is required under CI")
        pytest.skip(f"{NGINX} not found")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xacthuc.example.vn")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "idp.conf").write_text(EXAMPLE.read_text().replace(
        "/etc/ssl/idp", str(tmp_path)).replace("/var/log/nginx", str(tmp_path)))
    (tmp_path / "nginx.conf").write_text(
        f"events {{}}\nhttp {{ include {tmp_path}/idp.conf; }}\n")
    result = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                             "-c", str(tmp_path / "nginx.conf"),
                             "-g", f"pid {tmp_path}/nginx.pid;"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
