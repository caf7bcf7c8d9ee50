"""Issue 15: the certificate validation core (idp/platform/pki/): a path to a configured anchor,
validity, leaf profile, revocation by OCSP or CRL fetched from a loopback CA (fail closed),
the cache, and the pinned trust anchors. Each test names the one reason it expects."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from cryptography.hazmat.primitives import serialization

from idp.platform.config import load_settings
from idp.platform.pki import revocation, testca, trust, validation
from idp.platform.pki.validation import CertificateRefused, validate
from tests.support.pki import serve_pki

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def served():
    with serve_pki() as s:
        yield s


def refused(leaf, served, **policy) -> str:
    with pytest.raises(CertificateRefused) as exc:
        validate(leaf.cert, leaf.chain, policy=served.policy(**policy))
    return exc.value.reason


# --- good certificates


def test_validation_works_from_a_thread_that_runs_an_event_loop(served):
    """A caller inside a running loop (an asyncio server, Playwright's sync API) must get an
    answer, not asyncio.run's "cannot be called from a running event loop"."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    leaf = served.pki.issue(uids=("CCCD:001200000001",))

    async def inside_a_loop():
        return validate(leaf.cert, leaf.chain, policy=served.policy())

    def in_a_fresh_thread(coroutine):  # this test's own loop, whatever the worker's thread runs
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    assert in_a_fresh_thread(inside_a_loop()).revocation_checked is True
    revoked = served.pki.issue(uids=("CCCD:001200000001",))
    served.pki.revoke(revoked)

    async def refused_inside_a_loop():
        with pytest.raises(CertificateRefused) as refused:
            validate(revoked.cert, revoked.chain, policy=served.policy())
        return refused.value.reason

    assert in_a_fresh_thread(refused_inside_a_loop()) == "revoked"


@pytest.mark.parametrize("ca", ["vnpt", "gov"])
@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_a_good_certificate_is_valid(served, ca, key):
    leaf = served.pki.issue(uids=("CCCD:001200000001", "MST:0123456787"), ca=ca, key=key,
                            phone="84912345678")
    result = validate(leaf.der, [c.public_bytes(serialization.Encoding.DER) for c in leaf.chain],
                      policy=served.policy())
    root = "public" if ca == "vnpt" else "government"
    assert result.leaf == leaf.cert
    assert result.path == (leaf.cert, served.pki.cas[ca].cert, served.pki.cas[root].cert)
    assert result.anchor == served.pki.cas[root].cert
    assert result.sha256 == testca.sha256_hex(leaf.cert)
    assert result.serial == leaf.cert.serial_number
    assert result.issuer == served.pki.cas[ca].cert.subject.rfc4514_string()
    assert result.revocation_checked is True
    # The leaf's status from its CA, the intermediate's from the root: OCSP only.
    assert served.count("ocsp") == 2 and served.count("crl") == 0


def test_a_purpose_time_in_the_recent_past_still_validates(served):
    leaf = served.pki.issue()
    result = validate(leaf.cert, leaf.chain, policy=served.policy(),
                      purpose_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3))
    assert result.revocation_checked


# --- the path


def test_a_leaf_under_an_unknown_root_is_untrusted_and_nothing_is_fetched(served):
    leaf = served.pki.unknown_root_leaf()
    chain = leaf.chain + [served.pki.cas["stranger"].cert]  # the carrier sends its root too
    with pytest.raises(CertificateRefused) as exc:
        validate(leaf.cert, chain, policy=served.policy())
    assert exc.value.reason == "untrusted" and exc.value.message_id == "pki.untrusted"
    assert served.count() == 0  # its CDP/AIA were never called


def test_a_missing_intermediate_is_not_fetched_from_aia(served):
    leaf = served.pki.issue()
    with pytest.raises(CertificateRefused, match="untrusted"):
        validate(leaf.cert, [], policy=served.policy())
    assert served.count() == 0


def test_no_configured_anchor_trusts_nothing(served):
    leaf = served.pki.issue()
    with pytest.raises(CertificateRefused, match="untrusted"):
        validate(leaf.cert, leaf.chain, policy=validation.Policy(anchors=()))


def test_an_expired_certificate_is_refused_before_any_request(served):
    leaf = served.pki.issue(not_after=NOW - dt.timedelta(days=1))
    assert refused(leaf, served) == "expired"
    assert served.count() == 0


def test_a_certificate_not_yet_valid_is_refused(served):
    leaf = served.pki.issue(not_before=NOW + dt.timedelta(days=1))
    assert refused(leaf, served) == "not_yet_valid"


def test_a_sha1_signed_certificate_is_refused(served):
    leaf = served.pki.issue(hash="sha1")
    assert refused(leaf, served) == "weak_algorithm"
    assert served.count() == 0


# --- the leaf


def test_a_certificate_without_a_signing_key_usage_is_refused(served):
    leaf = served.pki.issue(key_usage=("key_encipherment",))
    assert refused(leaf, served) == "key_usage"


@pytest.mark.parametrize("usage", [("digital_signature",), ("content_commitment",)])
def test_either_signing_key_usage_is_enough(served, usage):
    leaf = served.pki.issue(key_usage=usage)
    assert validate(leaf.cert, leaf.chain, policy=served.policy()).revocation_checked


def test_a_ca_certificate_is_not_a_sign_in_certificate(served):
    assert refused(served.pki.issue(ca_flag=True), served) == "not_end_entity"
    root = testca.Issued(served.pki.cas["public"].cert, served.pki.cas["public"].key)
    assert refused(root, served) == "not_end_entity"


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x01", b"not a certificate at all"])
def test_malformed_der_is_refused(served, data):
    with pytest.raises(CertificateRefused) as exc:
        validate(data, [], policy=served.policy())
    assert exc.value.reason == "malformed"
    leaf = served.pki.issue()
    with pytest.raises(CertificateRefused, match="malformed"):
        validate(leaf.cert, [data], policy=served.policy())


# --- revocation


def test_revoked_by_ocsp(served):
    leaf = served.pki.issue()
    served.pki.revoke(leaf)
    assert refused(leaf, served) == "revoked"
    assert served.count("crl") == 0


def test_revoked_by_crl_when_ocsp_is_down(served):
    leaf = served.pki.issue()
    good = served.pki.issue(uids=("CCCD:001200000002",))
    served.pki.revoke(leaf)
    served.down = {"ocsp"}
    assert refused(leaf, served) == "revoked"
    assert served.count("crl") >= 1
    assert validate(good.cert, good.chain, policy=served.policy()).revocation_checked


def test_a_revoked_intermediate_revokes_its_leaves(served):
    leaf = served.pki.issue()
    served.pki.revoke(served.pki.cas["vnpt"].cert)
    assert refused(leaf, served) == "revoked"


def test_responders_down_fail_closed(served):
    leaf = served.pki.issue()
    served.down = {"ocsp", "crl"}
    assert refused(leaf, served) == "revocation_unavailable"
    assert served.count("ocsp") >= 1 and served.count("crl") >= 1


def test_soft_fail_accepts_when_responders_are_down_but_not_when_revoked(served):
    leaf = served.pki.issue()
    served.down = {"ocsp", "crl"}
    result = validate(leaf.cert, leaf.chain, policy=served.policy(revocation="soft-fail"))
    assert result.revocation_checked is False
    served.down = set()
    served.pki.revoke(leaf)
    assert refused(leaf, served, revocation="soft-fail") == "revoked"


def test_a_leaf_naming_no_responder_fails_closed_unless_soft_fail(served):
    leaf = served.pki.issue(revocation_info=False)
    assert refused(leaf, served) == "revocation_unavailable"
    result = validate(leaf.cert, leaf.chain, policy=served.policy(revocation="soft-fail"))
    assert result.revocation_checked is False


def test_a_hanging_responder_costs_at_most_the_timeout(served):
    leaf = served.pki.issue()
    served.delay = 3.0
    started = time.monotonic()
    assert refused(leaf, served, timeout=0.5) == "revocation_unavailable"
    assert time.monotonic() - started < 2.0


def test_a_forged_ocsp_answer_does_not_count_and_is_not_cached(served, monkeypatch):
    """Over plain HTTP anyone on the path can answer "good"; only the CA's signature counts."""
    leaf = served.pki.issue()
    genuine = served.pki.ocsp_response_der
    monkeypatch.setattr(served.pki, "ocsp_response_der",
                        lambda der: genuine(der, signed_by="stranger"))
    served.down = {"crl"}
    assert refused(leaf, served) == "revocation_unavailable"
    monkeypatch.undo()
    served.reset_counts()
    assert validate(leaf.cert, leaf.chain, policy=served.policy()).revocation_checked
    assert served.count("ocsp") == 2  # asked afresh: the forgery was not kept


def test_answers_are_cached_until_next_update(served, monkeypatch):
    leaf = served.pki.issue()
    validate(leaf.cert, leaf.chain, policy=served.policy())
    first = served.count()
    assert first == 2
    other = served.pki.issue(uids=("CCCD:001200000002",))
    validate(other.cert, other.chain, policy=served.policy())
    assert served.count() == first + 1  # the intermediate's answer came from the cache
    served.reset_counts()
    validate(leaf.cert, leaf.chain, policy=served.policy())
    assert served.count() == 0  # a second login: no request at all
    monkeypatch.setattr(revocation, "MAX_CACHE_SECONDS", 0)
    revocation.clear_cache()
    validate(leaf.cert, leaf.chain, policy=served.policy())
    validate(leaf.cert, leaf.chain, policy=served.policy())
    assert served.count() == 4  # nothing kept: both validations asked again


def test_crls_are_cached_too(served):
    leaf = served.pki.issue()
    served.down = {"ocsp"}
    validate(leaf.cert, leaf.chain, policy=served.policy())
    crls = served.count("crl")
    validate(leaf.cert, leaf.chain, policy=served.policy())
    assert crls == 2 and served.count("crl") == crls


def test_only_allowed_hosts_are_fetched(served):
    leaf = served.pki.issue()
    assert refused(leaf, served, allowed_hosts=frozenset({"ocsp.vnpt-ca.vn"})) == \
        "revocation_unavailable"
    assert served.count() == 0
    policy = served.policy(allowed_hosts=frozenset({"127.0.0.1"}))
    assert validate(leaf.cert, leaf.chain, policy=policy).revocation_checked


def test_only_http_urls_are_fetched():
    for url in ("file:///etc/passwd", "ftp://crl.example/x.crl", "http://u:p@host/x",
                "gopher://h/x"):
        with pytest.raises(revocation.FetchRefused):
            revocation.check_url(url, frozenset())
    revocation.check_url("http://crl.vnpt-ca.vn/vnptca.crl", frozenset())


# --- trust anchors (trust.py) and settings


def test_anchor_files_are_pinned(served, tmp_path):
    settings = load_settings(served.settings(tmp_path), environ={})
    policy = validation.Policy.from_settings(settings)
    assert policy.anchors == tuple(served.pki.anchors) and policy.revocation == "require"
    leaf = served.pki.issue()
    assert validate(leaf.cert, leaf.chain, policy=policy).revocation_checked

    pins = list(reversed(served.pki.anchor_sha256))  # right values, wrong order
    with pytest.raises(trust.TrustAnchorError, match="refusing to trust"):
        trust.load_anchors(settings["pki_trust_anchors"], pins)
    colons = [":".join(p[i:i + 2] for i in range(0, 64, 2)).upper()
              for p in served.pki.anchor_sha256]
    assert trust.load_anchors(settings["pki_trust_anchors"], colons) == policy.anchors


def test_anchor_files_must_be_one_ca_certificate_each(served, tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                                for c in served.pki.anchors))
    with pytest.raises(trust.TrustAnchorError, match="2 certificates"):
        trust.load_anchors([bundle])
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(served.pki.issue().cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(trust.TrustAnchorError, match="not a CA"):
        trust.load_anchors([leaf])
    with pytest.raises(trust.TrustAnchorError, match="cannot read"):
        trust.load_anchors([tmp_path / "missing.pem"])
    with pytest.raises(trust.TrustAnchorError, match="required"):
        trust.load_anchors(served.pki.write(tmp_path), require_pins=True)


@pytest.mark.parametrize("env, message", [
    ({"IDP_PKI_REVOCATION": "off"}, "pki_revocation"),
    ({"IDP_PKI_REVOCATION_TIMEOUT": "0"}, "pki_revocation_timeout"),
    ({"IDP_PKI_TRUST_ANCHOR_SHA256": "abc"}, "fingerprint"),
    ({"IDP_PKI_TRUST_ANCHORS": "a.pem,b.pem", "IDP_PKI_TRUST_ANCHOR_SHA256": "a" * 64},
     "one each"),
    ({"IDP_PKI_REVOCATION_ALLOWED_HOSTS": "http://ocsp.vnpt-ca.vn"}, "host names"),
])
def test_bad_pki_settings_are_refused(env, message):
    from idp.platform.config import ConfigError
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_every_reason_has_a_message():
    from idp.platform.messages import is_known
    assert all(is_known(f"pki.{reason}") for reason in validation.REASONS)


def test_importing_the_validator_loads_no_path_validation_library():
    """The serving worker's memory is measured (test_worker_memory.py): pyhanko, asn1crypto
    and aiohttp load with the first certificate presented, not with the app."""
    import subprocess
    import sys

    probe = ("import sys, idp.platform.pki.validation, idp.platform.pki.trust\n"
             "print(sorted(m for m in ('pyhanko_certvalidator', 'asn1crypto', 'aiohttp', "
             "'oscrypto') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
