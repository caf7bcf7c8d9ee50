"""The challenge a certificate holder signs (idp/methods/certificate/challenge.py, pki.md §1):
made by the IdP, canonical, bound to one flow, one pending per flow, used at most once, and
dead after its lifetime — on every ephemeral store (the `app` fixture's three backends)."""
from __future__ import annotations

import hashlib
import json
import threading

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import pkcs7

import idp.platform.store
from idp.methods.certificate import challenge as ch
from idp.methods.certificate.challenge import ChallengeRefused
from idp.platform.messages import CATALOGUE
from idp.platform.pki import testca
from idp.platform.pki.signature import SignatureInvalid, verify_cms, verify_hash_signature
from tests.support.clock import FrozenClock
from tests.support.people import ISSUER

FIELDS = {"client_id", "display_code", "iat", "issuer", "nonce", "purpose", "tx_id"}


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def clock(monkeypatch):
    return FrozenClock().install(monkeypatch, ch, idp.platform.store)


def refusal(flow_id: str, tx_id: str) -> str:
    with pytest.raises(ChallengeRefused) as info:
        ch.consume(flow_id, tx_id)
    assert info.value.message_id in CATALOGUE
    return info.value.reason


def test_the_challenge_is_canonical_json_bound_to_issuer_purpose_and_client(ctx, clock):
    c = ch.issue("flow-1", "login", "portal-a", ISSUER)
    fields = json.loads(c.payload)
    assert set(fields) == FIELDS
    assert (fields["issuer"], fields["purpose"], fields["client_id"], fields["iat"]) == (
        ISSUER, "login", "portal-a", int(clock()))
    assert c.payload == json.dumps(fields, sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode()
    assert c.digest == hashlib.sha256(c.payload).digest() and len(c.digest) == 32
    assert bytes.fromhex(c.digest_hex) == c.digest
    assert c.expires_at == clock() + ch.DEFAULT_TTL


def test_nonce_tx_id_and_display_code_are_random_and_unambiguous(ctx):
    seen = [ch.issue(f"flow-{i}", "register", "portal-a", ISSUER) for i in range(20)]
    nonces = {json.loads(c.payload)["nonce"] for c in seen}
    assert len(nonces) == 20 and all(len(n) >= 22 for n in nonces)  # ≥ 128 bits in base64url
    assert len({c.tx_id for c in seen}) == 20
    for c in seen:
        assert len(c.display_code) == 4
        assert set(c.display_code) <= set(ch.DISPLAY_ALPHABET)
        assert not set(c.display_code) & set("0O1IL")


def test_consume_returns_the_issued_challenge_once(ctx):
    issued = ch.issue("flow-1", "login", "portal-a", ISSUER)
    assert ch.pending("flow-1") == issued
    assert ch.consume("flow-1", issued.tx_id) == issued
    assert refusal("flow-1", issued.tx_id) == "expired_or_used"
    assert ch.pending("flow-1") is None


def test_a_challenge_dies_at_its_lifetime(ctx, clock):
    issued = ch.issue("flow-1", "login", "portal-a", ISSUER, ttl=120)
    clock.advance(119)
    assert ch.pending("flow-1") == issued
    clock.advance(1)
    assert refusal("flow-1", issued.tx_id) == "expired_or_used"


def test_issuing_again_replaces_the_pending_challenge(ctx):
    old = ch.issue("flow-1", "login", "portal-a", ISSUER)
    new = ch.issue("flow-1", "login", "portal-a", ISSUER)
    assert old.tx_id != new.tx_id and ch.pending("flow-1") == new
    assert refusal("flow-1", old.tx_id) == "expired_or_used"
    assert ch.consume("flow-1", new.tx_id) == new  # the stale try did not burn the new one


def test_a_tx_id_of_another_flow_is_refused_and_left_to_its_flow(ctx):
    mine = ch.issue("flow-a", "login", "portal-a", ISSUER)
    ch.issue("flow-b", "login", "portal-a", ISSUER)
    assert refusal("flow-b", mine.tx_id) == "wrong_flow"
    assert refusal("flow-c", mine.tx_id) == "wrong_flow"
    assert ch.consume("flow-a", mine.tx_id) == mine


@pytest.mark.parametrize("tx_id", ["", "unknown-tx", "x" * 200])
def test_unknown_tx_ids_are_refused(ctx, tx_id):
    ch.issue("flow-1", "login", "portal-a", ISSUER)
    assert refusal("flow-1", tx_id) == "expired_or_used"


def test_unknown_purpose_or_lifetime_is_a_programming_error(ctx):
    with pytest.raises(ValueError):
        ch.issue("flow-1", "anything", "portal-a", ISSUER)
    with pytest.raises(ValueError):
        ch.issue("flow-1", "login", "portal-a", ISSUER, ttl=0)


def test_parallel_consumes_succeed_exactly_once(app):
    with app.app_context():
        issued = ch.issue("flow-1", "login", "portal-a", ISSUER)
    barrier = threading.Barrier(6)
    results: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        with app.app_context():
            barrier.wait()
            try:
                ch.consume("flow-1", issued.tx_id)
                outcome = "ok"
            except ChallengeRefused as exc:
                outcome = exc.reason
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["expired_or_used"] * 5 + ["ok"]


# --- what the signers sign -------------------------------------------------------------------

@pytest.fixture(scope="module")
def leaf():
    return testca.TestPki.create(base_url="http://127.0.0.1:1").issue(key="ec")


def test_remote_signers_sign_the_digest_and_usb_signs_the_payload(ctx, leaf):
    issued = ch.issue("flow-1", "login", "portal-a", ISSUER)
    usb = (pkcs7.PKCS7SignatureBuilder().set_data(issued.payload)
           .add_signer(leaf.cert, leaf.key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary,
                                              pkcs7.PKCS7Options.DetachedSignature]))
    remote = leaf.key.sign(issued.digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))

    used = ch.consume("flow-1", issued.tx_id)
    assert verify_cms(usb, used.payload) == leaf.cert
    verify_hash_signature(leaf.cert, used.digest, remote)

    again = ch.issue("flow-1", "login", "portal-a", ISSUER)  # an old signature is worthless
    with pytest.raises(SignatureInvalid):
        verify_cms(usb, ch.consume("flow-1", again.tx_id).payload)
