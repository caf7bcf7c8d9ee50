"""The upstream providers' file (idp/platform/upstream/settings.py): every problem stops the
IdP at start-up with a one-line ConfigError naming the provider and the key."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from idp.platform.config import ConfigError
from idp.platform.upstream import build
from idp.platform.upstream.settings import load_providers

ISSUER = "https://id.example.gov.vn"


@cache
def rp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key, fmt=serialization.PrivateFormat.PKCS8) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "rp.pem").write_bytes(pem(rp_key()))
    return tmp_path


ENCRYPTED = {
    "label": "VNeID", "mode": "vneid-encrypted",
    "authorization_endpoint": "https://vneid.example/authorize",
    "token_endpoint": "https://vneid.example/token",
    "userinfo_endpoint": "https://vneid.example/userinfo",
    "client_id": "cong-dvc", "client_secret": "s3cret", "private_key_file": "rp.pem",
}
OIDC = {"mode": "oidc", "issuer": "https://op.example",
        "discovery_url": "https://op.example/.well-known/openid-configuration",
        "client_id": "cong-dvc", "client_secret": "s3cret"}


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write(folder: Path, tables: dict[str, dict]) -> Path:
    lines = []
    for name, table in tables.items():
        lines.append(f'["{name}"]')
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    path = folder / "upstream.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(folder: Path, table: dict, name: str = "vneid", environ=None):
    return load_providers(write(folder, {name: table}), ISSUER, environ or {})


def test_encrypted_provider(folder):
    p = load(folder, ENCRYPTED)["vneid"]
    assert p.mode == "vneid-encrypted" and p.label == "VNeID" and p.encrypted
    assert p.redirect_uri == f"{ISSUER}/signin/upstream/vneid/callback"
    assert p.backchannel_logout_uri == f"{ISSUER}/signin/upstream/vneid/backchannel-logout"
    assert p.private_key is not None and p.token_code == "decrypted"
    assert (p.send_nonce, p.send_pkce, p.timeout, p.clock_skew) == (False, False, 10.0, 120)
    assert "s3cret" not in repr(p)


def test_oidc_provider_and_secret_from_environment(folder):
    table = {**OIDC, "client_secret": "", "client_secret_env": "OP_SECRET"}
    p = load(folder, table, "op-1", {"OP_SECRET": "from-env"})["op-1"]
    assert p.client_secret == "from-env" and p.label == "op-1" and p.scopes == ("openid",)


def test_pkcs1_key_and_loopback_http(folder):
    (folder / "rp.pem").write_bytes(pem(rp_key(), serialization.PrivateFormat.TraditionalOpenSSL))
    table = {**ENCRYPTED, "token_endpoint": "http://127.0.0.1:9/token",
             "userinfo_endpoint": "http://localhost/userinfo"}
    assert load(folder, table)["vneid"].private_key is not None


def test_empty_path_means_no_providers():
    assert load_providers("", ISSUER) == {}
    assert build({"issuer": ISSUER}) == {}
    assert build({"issuer": ISSUER, "upstream_providers_file": ""}) == {}


def test_init_app_reads_the_file_without_network(folder):
    # an unroutable discovery URL: building must not fetch it
    table = {**OIDC, "discovery_url": "https://op.invalid/.well-known/openid-configuration"}
    found = build({"issuer": ISSUER,
                   "upstream_providers_file": str(write(folder, {"op": table}))})
    assert list(found) == ["op"] and found["op"].redirect_uri.startswith(ISSUER)


def expect(folder, table, *needles, name="vneid", environ=None):
    with pytest.raises(ConfigError) as caught:
        load(folder, table, name, environ)
    text = str(caught.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, text


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="upstream_providers_file"):
        load_providers(tmp_path / "nope.toml", ISSUER)


def test_bad_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[vneid\nmode = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_providers(path, ISSUER)


def test_not_a_table(tmp_path):
    path = tmp_path / "flat.toml"
    path.write_text('vneid = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="'vneid'"):
        load_providers(path, ISSUER)


@pytest.mark.parametrize("name", ["VNeID", "vne_id", "a" * 33, "vneid.test"])
def test_bad_provider_name(folder, name):
    expect(folder, ENCRYPTED, repr(name), "name", name=name)


@pytest.mark.parametrize(("change", "key"), [
    ({"colour": "blue"}, "colour"),
    ({"mode": "saml"}, "mode"),
    ({"mode": ""}, "mode"),
    ({"client_id": ""}, "client_id"),
    ({"client_secret": ""}, "client_secret"),
    ({"client_secret_env": "NOT_SET"}, "client_secret_env"),
    ({"authorization_endpoint": ""}, "authorization_endpoint"),
    ({"token_endpoint": ""}, "token_endpoint"),
    ({"userinfo_endpoint": ""}, "userinfo_endpoint"),
    ({"private_key_file": ""}, "private_key_file"),
    ({"private_key_file": "missing.pem"}, "private_key_file"),
    ({"private_key_file": "garbage.pem"}, "private_key_file"),
    ({"private_key_file": "ec.pem"}, "private_key_file"),
    ({"token_endpoint": "http://vneid.example/token"}, "token_endpoint"),
    ({"logout_endpoint": "ftp://vneid.example/logout"}, "logout_endpoint"),
    ({"token_code": "both"}, "token_code"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": "10"}, "timeout"),
    ({"clock_skew": -1}, "clock_skew"),
    ({"max_response_bytes": 10}, "max_response_bytes"),
    ({"send_pkce": "yes"}, "send_pkce"),
    ({"scopes": "openid"}, "scopes"),
    ({"jwks_uri": "https://vneid.example/jwks"}, "jwks_uri"),
])
def test_encrypted_mode_problems(folder, change, key):
    (folder / "garbage.pem").write_text("not a key")
    (folder / "ec.pem").write_bytes(pem(ec.generate_private_key(ec.SECP256R1())))
    table = {**ENCRYPTED, **change}
    if key == "client_secret_env":
        table["client_secret"] = ""
    expect(folder, table, "'vneid'", key)


def test_short_rsa_key_refused(folder):
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (folder / "short.pem").write_bytes(pem(short))
    expect(folder, {**ENCRYPTED, "private_key_file": "short.pem"}, "private_key_file", "2048")


def test_both_secret_forms_refused(folder):
    expect(folder, {**ENCRYPTED, "client_secret_env": "X"}, "client_secret_env",
           environ={"X": "y"})


@pytest.mark.parametrize(("change", "key"), [
    ({"issuer": ""}, "issuer"),
    ({"issuer": "http://op.example"}, "issuer"),
    ({"discovery_url": ""}, "authorization_endpoint"),
    ({"discovery_url": "http://op.example/.well-known/openid-configuration"},
     "discovery_url"),
    ({"scopes": ["profile"]}, "scopes"),
])
def test_oidc_mode_problems(folder, change, key):
    expect(folder, {**OIDC, **change}, "'op'", key, name="op")


def test_oidc_with_explicit_endpoints_needs_no_discovery(folder):
    table = {**OIDC, "discovery_url": "", "authorization_endpoint": "https://op.example/a",
             "token_endpoint": "https://op.example/t", "jwks_uri": "https://op.example/k"}
    assert load(folder, table, "op")["op"].jwks_uri == "https://op.example/k"
