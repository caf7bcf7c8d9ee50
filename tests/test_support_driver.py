"""The shared test driver (tests/support) does what its users rely on: one authorization
request from /authorize to the tokens, the SMS code read from the gateway fake, the clock
standing still, and message ids found on a page."""
from __future__ import annotations

import pytest

from idp.accounts import otp
from tests.support import CITIZEN, AuthorizationRequest, FrozenClock, SmsGateway, assert_message
from tests.support.clock import ShiftedClock


def test_an_authorization_request_runs_from_authorize_to_the_tokens(app, client):
    request = AuthorizationRequest(client, scope="openid profile phone")
    tokens = request.run(CITIZEN)
    assert tokens["token_type"].lower() == "bearer" and "access_token" in tokens
    claims = request.id_token_claims(tokens)
    assert claims["acr"] == "LoA2"
    sms = SmsGateway(app)
    assert sms.count(CITIZEN.phone) == 1
    assert len(sms.last_code(CITIZEN.phone)) == 6


def test_a_code_is_only_redeemed_with_its_verifier(app, client):
    request = AuthorizationRequest(client)
    answer = request.login(CITIZEN)
    request.verifier = "x" * 64
    with pytest.raises(AssertionError):
        request.exchange(answer["code"])


def test_the_clocks_stand_still_or_run_shifted(monkeypatch):
    frozen = FrozenClock(start=1000.0).install(monkeypatch, otp)
    assert otp.now() == 1000.0
    frozen.advance(61)
    assert otp.now() == 1061.0
    shifted = ShiftedClock().install(monkeypatch, otp)
    before = otp.now()
    shifted.advance(3600)
    assert otp.now() - before >= 3600


def test_assert_message_reads_message_ids():
    page = '<p class="error" data-msg="otp.wrong">Mã xác thực không đúng</p>'
    assert_message(page, "otp.wrong")
    with pytest.raises(AssertionError, match="captcha.invalid"):
        assert_message(page, "captcha.invalid")
