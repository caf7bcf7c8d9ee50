"""`idp pki demo DIR` (issue 15, the development demo's test PKI): what it writes is what ./run,
the IdP and the stand-ins read — anchors with matching pins, CRLs a stand-in serves at the
address the certificates name, tokens and subscribers for the demo citizens and one person
without an account — so a demo certificate passes the IdP's fail-closed validation over real
HTTP. A second run keeps the certificates and signs fresh CRLs; production refuses it."""
from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from cryptography import x509

from idp.cli import main
from idp.platform.pki import revocation, trust, validation
from idp.platform.pki.testca import UID
from standins import mobile_sim
from standins.core import load_subscribers
from standins.usb_token import load_tokens
from tests.support.standins import serve_wsgi

ROOT = Path(__file__).resolve().parents[1]
DEMO_IDS = [json.loads(line)["id_number"] for line in
            (ROOT / "idp/data/demo_citizens.jsonl").read_text().splitlines() if line]
NO_ACCOUNT = "066188207519"  # Vũ Thị Lan: in the carrier registry, no demo account
PRODUCTION = {"IDP_ENV": "production", "IDP_ISSUER": "https://xacthuc.daklak.gov.vn",
              "IDP_SECRET_KEY": "s" * 40, "IDP_KEK": "A" * 43, "IDP_SMS_PROVIDER": "http",
              "IDP_SMS_HTTP_URL": "https://sms.internal/send"}


def run(*args: str, **env: str):
    return CliRunner().invoke(main, ["pki", "demo", *args],
                              env={"IDP_ENV": "development", **env}, catch_exceptions=False)


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = shlex.split(value)[0]
    return values


def cccd(cert: x509.Certificate) -> str:
    return next(str(a.value) for a in cert.subject.get_attributes_for_oid(UID))


@pytest.fixture
def sim(tmp_path):
    """The SIM stand-in serving the (not yet written) demo folder, as under ./run."""
    folder = tmp_path / "pki"
    folder.mkdir()
    with serve_wsgi(mobile_sim.create_app(folder)) as url:
        yield folder, url


def test_demo_pki_validates_over_the_stand_ins_crl_route(sim):
    folder, url = sim
    result = run(str(folder), "--base-url", f"{url}/_pki")
    assert result.exit_code == 0, result.output
    assert "demo PKI created" in result.output

    # The IdP's configuration, as ./run sources it.
    env = env_file(folder / "pki.env")
    paths = env["IDP_PKI_TRUST_ANCHORS"].split(",")
    pins = env["IDP_PKI_TRUST_ANCHOR_SHA256"].split(",")
    assert [Path(p).name for p in paths] == ["public-root.pem", "government-root.pem"]
    anchors = trust.load_anchors(paths, pins, require_pins=True)
    assert all(pin in (folder / "anchors/pins.txt").read_text() for pin in pins)

    # The stand-ins' files: every demo citizen, then the person without an account.
    tokens = load_tokens(folder)
    subscribers = load_subscribers(folder)
    expected = [f"CCCD:{n}" for n in [*DEMO_IDS, NO_ACCOUNT]]
    assert [cccd(t.cert) for t in tokens] == expected
    assert [cccd(s.cert) for s in subscribers] == expected
    assert subscribers[-1].phone == "0917408253" and all(s.password for s in subscribers)
    assert tokens[0].cert != subscribers[0].cert  # a token and a remote-signing certificate
    assert oct((folder / "tokens.json").stat().st_mode & 0o777) == "0o600"

    # The CRLs at the address the certificates name, fresh for days; a certificate passes
    # the fail-closed check (the OCSP address answers 404, the CRL is read).
    cdp = revocation.crl_urls(tokens[0].cert)
    assert cdp == [f"{url}/_pki/crl/vnpt.crl"]
    crl = x509.load_der_x509_crl(requests.get(cdp[0], timeout=5).content)
    assert crl.next_update_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=6)
    assert requests.get(f"{url}/_pki/crl/../subscribers.json", timeout=5).status_code == 404
    assert requests.get(f"{url}/_pki/crl/subscribers.json", timeout=5).status_code == 404
    policy = validation.Policy(anchors=anchors, revocation="require")
    revocation.clear_cache()
    try:
        for cert, chain in ((tokens[0].cert, tokens[0].chain),
                            (subscribers[-1].cert, subscribers[-1].chain)):
            checked = validation.validate(cert, chain, policy=policy)
            assert checked.revocation_checked
    finally:
        revocation.clear_cache()
    # CRL fetches are not the signing service's traffic.
    assert requests.get(f"{url}/_control/requests", timeout=5).json() == []


def test_a_second_run_keeps_the_certificates_and_signs_new_crls(tmp_path):
    folder = tmp_path / "pki"
    assert run(str(folder)).exit_code == 0
    tokens = (folder / "tokens.json").read_bytes()
    (folder / "crl/vnpt.crl").unlink()
    again = run(str(folder))
    assert again.exit_code == 0 and "demo PKI kept" in again.output
    assert (folder / "tokens.json").read_bytes() == tokens
    assert (folder / "crl/vnpt.crl").is_file()
    # Another address for the CRLs is written into new certificates.
    moved = run(str(folder), "--base-url", "http://127.0.0.1:6012/_pki")
    assert "demo PKI created" in moved.output
    assert revocation.crl_urls(load_tokens(folder)[0].cert) == [
        "http://127.0.0.1:6012/_pki/crl/vnpt.crl"]


def test_refused_in_production_before_writing(tmp_path):
    folder = tmp_path / "pki"
    result = run(str(folder), **PRODUCTION)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: `idp pki demo` is refused with IDP_ENV=production: its CAs and keys are "
        "published test keys, never trust anchors of a real deployment"]
    assert not folder.exists()


def test_a_base_url_must_be_http(tmp_path):
    result = run(str(tmp_path / "pki"), "--base-url", "file:///etc")
    assert result.exit_code == 1 and "--base-url must be an http(s) URL" in result.stderr
