"""The account page's enrolments run as flow kinds (issue 13, item 3): declared transition
tables, served only at the account's own addresses, one flow per session, and the binding
step claimed once."""
from __future__ import annotations

import re

import pyotp
import pytest

from idp.flows.claim import claim
from idp.interaction import engine
from tests.support.account import (  # noqa: F401 (own_outbox: an autouse fixture)
    account_login,
    own_outbox,
    post,
    rows,
)
from tests.support.apps import ephemeral_keys

ACCOUNT_KINDS = ("account_phone", "account_totp", "account_recovery_codes")


def test_the_enrolments_are_registered_kinds_with_their_own_addresses(app):
    for name in ACCOUNT_KINDS:
        kind = engine.KINDS[name]
        assert kind.routed and kind.initial_state in kind.transitions
        with app.test_request_context():  # every state that goes on has a page of its own
            for state, targets in kind.transitions.items():
                flow = engine.Flow("f", name, state, "p", "", {"replace": None})
                assert kind.url(flow) != "/account/" or not targets, (name, state)
    phone = engine.KINDS["account_phone"]
    assert engine.allowed(phone, "number", "code") and engine.allowed(phone, "code", "bound")
    assert not engine.allowed(phone, "number", "bound")  # no binding without the code step


def _flow_ids(app) -> list[str]:
    return [k.split(":", 1)[1] for k in ephemeral_keys(app, "flow:acct-")]


def test_an_enrolment_is_not_served_at_the_flows_address(app, client):
    account_login(app, client)
    assert client.get("/account/totp/new").status_code == 200
    [flow_id] = _flow_ids(app)
    assert client.get(f"/flows/{flow_id}").status_code == 410
    assert post(client, f"/flows/{flow_id}", otp="123456").status_code == 410
    assert rows(app, "totp") == []


def test_reloading_the_authenticator_page_keeps_one_secret_and_one_flow(app, client):
    account_login(app, client)
    first = client.get("/account/totp/new").get_data(as_text=True)
    again = client.get("/account/totp/new").get_data(as_text=True)
    secret = re.search(r"data-secret>([A-Z2-7 ]+)<", first).group(1)
    assert secret == re.search(r"data-secret>([A-Z2-7 ]+)<", again).group(1)
    assert len(_flow_ids(app)) == 1
    code = pyotp.TOTP(secret.replace(" ", "")).now()
    assert post(client, "/account/totp/new", otp=code).status_code == 303
    assert _flow_ids(app) == []  # finished: nothing left behind
    assert post(client, "/account/totp/new", otp=code).status_code == 303  # nothing to confirm
    assert len(rows(app, "totp")) == 1


def test_the_binding_step_is_claimed_once(app, client):
    """Two submits of the same step loaded the flow; only the first claim goes on."""
    account_login(app, client)
    client.get("/account/recovery-codes")
    [flow_id] = _flow_ids(app)
    with app.test_request_context():
        from flask import session
        with client.session_transaction() as browser:
            session.update(browser)
        kind = engine.KINDS["account_recovery_codes"]
        first, second = engine.load(flow_id), engine.load(flow_id)
        claim(kind, first, "issued")
        with pytest.raises(engine.FlowConflict):
            claim(kind, second, "issued")
        with pytest.raises(engine.FlowConflict):  # and never an undeclared state
            claim(kind, engine.load(flow_id), "confirm")
