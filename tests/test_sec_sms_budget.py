"""Issue 11 item 2: SMS budgets per purpose (idp/sms_budget.py, idp/otp.py).

Registration and reset codes go to numbers an anonymous caller typed; before the fix they
spent the same per-phone and global hourly budgets as login codes, so five captchas an hour
kept a citizen from their LoA2 login and draining the global budget stopped every login.
Each test runs on SQLite, PostgreSQL and PostgreSQL + Redis (the `database_url` fixture).
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from idp import create_app
from idp.accounts import otp
from idp.platform.crypto import sha256_hex
from idp.platform.db import db
from idp.platform.models import Citizen
from tests.support import (
    CITIZEN,
    auth_params,
    authorize,
    follow_to_login,
    hidden,
    last_code,
    login_form_submit,
    outbox,
    pkce_pair,
)
from tests.support.apps import TEST_SETTINGS, make_app

BUDGET = "Đã gửi quá nhiều mã trong thời gian ngắn. Vui lòng thử lại sau."


def citizen_id(app) -> int:
    with app.app_context():
        return db.session.scalars(select(Citizen.id).where(
            Citizen.id_number == CITIZEN.id_number)).one()


def counter(app, key: str) -> int:
    with app.app_context():
        return app.extensions["idp.store"].incr(key, 3600, 0)


def sent_to(app, phone: str) -> int:
    return sum(1 for m in outbox(app) if m["to"] == phone)


def loa2_login(client):
    """Password + captcha at LoA2; returns the second-factor page (its GET sends the code)."""
    params = auth_params(challenge=pkce_pair()[1], acr_values="LoA2")
    page = follow_to_login(client, authorize(client, params)).get_data(as_text=True)
    r = login_form_submit(client, page, CITIZEN.id_number, CITIZEN.password)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    flow_url = r.headers["Location"]
    return flow_url, client.get(flow_url)


def test_anonymous_codes_to_a_phone_do_not_spend_its_login_allowance(app):
    """Five registration / reset codes to the citizen's number (what five captchas buy an
    anonymous caller) and the citizen still gets the login code and signs in."""
    s = app.config["IDP"]
    cid = citizen_id(app)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.23"}):
        for i in range(s["sms_budget_per_phone"]):
            if i % 2:
                otp.send(f"reset-flow-{i}", "reset", CITIZEN.phone, cid)
            else:
                otp.send(f"register-flow-{i}", "register", CITIZEN.phone)
    assert sent_to(app, CITIZEN.phone) == s["sms_budget_per_phone"]

    client = app.test_client()
    flow_url, page = loa2_login(client)
    html = page.get_data(as_text=True)
    assert BUDGET not in html
    assert sent_to(app, CITIZEN.phone) == s["sms_budget_per_phone"] + 1
    r = client.post(flow_url, data={"csrf_token": hidden(html, "csrf_token"),
                                    "action": "verify", "otp": last_code(app, CITIZEN.phone)})
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    assert client.get(r.headers["Location"]).status_code == 302  # back to the portal

    # The anonymous purposes have a budget of their own, and it is spent.
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.24"}):
        with pytest.raises(otp.OtpRefused) as refused:
            otp.send("register-flow-late", "register", CITIZEN.phone)
    assert refused.value.reason == "budget" and refused.value.retry_after > 0


def test_anonymous_purposes_are_shed_first_when_the_global_budget_runs_low(database_url):
    # A global budget of 10 with 6 already spent: past the anonymous share (default 0.5),
    # below the whole budget.
    app = make_app(database_url, sms_budget_global=10)
    cid = citizen_id(app)
    with app.app_context():
        app.extensions["idp.store"].incr("sms-global", 3600, 6)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.31"}):
        for flow_id, purpose, who in (("shed-register", "register", None),
                                      ("shed-reset", "reset", cid)):
            with pytest.raises(otp.OtpRefused) as refused:
                otp.send(flow_id, purpose, "+84912345001", who)
            assert refused.value.reason == "budget"
        assert counter(app, "sms-global") == 6  # refused sends gave back what they took
        assert otp.send("shed-login", "login", CITIZEN.phone, cid) is not None
    assert sent_to(app, CITIZEN.phone) == 1 and sent_to(app, "+84912345001") == 0
    assert counter(app, "sms-global") == 7

    # Logins go on to the end of the budget, and stop there.
    client = app.test_client()
    for expected in (8, 9, 10):
        with app.test_request_context(environ_base={"REMOTE_ADDR": f"198.51.100.{expected}"}):
            otp.send(f"shed-login-{expected}", "login", f"+849123450{expected:02d}")
        assert counter(app, "sms-global") == expected
    _, page = loa2_login(client)
    assert BUDGET in page.get_data(as_text=True)


def test_notifications_are_counted_and_refused_past_their_budget(app):
    from idp.accounts import sms_budget

    s = app.config["IDP"]
    phone = "+84987654321"
    with app.app_context():  # as the outbox worker calls it: no request, no client address
        taken = [sms_budget.take("notify", phone, citizen_id(app))
                 for _ in range(s["sms_budget_per_phone_notify"])]
        assert all(not any(k.startswith("sms-ip") for k in keys) for keys in taken)
        with pytest.raises(sms_budget.BudgetRefused) as refused:
            sms_budget.take("notify", phone)
        assert refused.value.budget == "phone_notify" and refused.value.retry_after > 0
        # Notifications spent their own allowance, not the number's login allowance.
        login = sms_budget.take("login", phone)
    assert counter(app, "sms-phone-notify:" + sha256_hex(phone)) == s["sms_budget_per_phone_notify"]
    assert counter(app, "sms-phone:" + sha256_hex(phone)) == 1
    assert counter(app, "sms-global") == s["sms_budget_per_phone_notify"] + 1
    assert "sms-global" in login
    # Inside a request the client address is counted too.
    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.77"}):
        keys = sms_budget.take("notify", "+84987654322")
    assert "sms-ip-notify:" + sha256_hex("203.0.113.77") in keys


def test_a_refusal_gives_back_every_counter_it_took(app):
    from idp.accounts import sms_budget

    app.config["IDP"]["sms_budget_global"] = 0  # the last counter taken refuses
    phone, address = "+84912000111", "203.0.113.9"
    cid = citizen_id(app)
    with app.app_context():
        for purpose in ("login", "reset", "notify"):
            with pytest.raises(sms_budget.BudgetRefused) as refused:
                sms_budget.take(purpose, phone, cid, client_address=address)
            assert refused.value.budget.startswith("global")
    for prefix in ("sms-phone", "sms-phone-anon", "sms-phone-notify"):
        assert counter(app, f"{prefix}:{sha256_hex(phone)}") == 0, prefix
    for key in (f"sms-account:{cid}", f"sms-account-anon:{cid}", "sms-global",
                "sms-ip:" + sha256_hex(address), "sms-ip-anon:" + sha256_hex(address),
                "sms-ip-notify:" + sha256_hex(address)):
        assert counter(app, key) == 0, key
    # and refund() gives back what a successful take took (a send that failed)
    app.config["IDP"]["sms_budget_global"] = 5
    with app.app_context():
        keys = sms_budget.take("register", phone, client_address=address)
        assert counter(app, "sms-global") == 1
        sms_budget.refund(keys)
    assert [counter(app, k) for k in keys] == [0] * len(keys)


def test_budgets_are_atomic_across_two_nodes_sharing_the_store(app, database_url):
    """Two app instances (two nodes) on one database / Redis; 12 parallel takes against a
    per-phone budget of 5: exactly 5 succeed, and the counter holds exactly 5."""
    from idp.accounts import sms_budget

    other = create_app({**TEST_SETTINGS, "database_url": database_url})
    for node in (app, other):
        node.config["IDP"]["sms_budget_per_phone_unauthenticated"] = 5
    phone = "+84912000222"
    barrier = threading.Barrier(12)
    results, lock = [], threading.Lock()

    def run(node, i):
        with node.app_context():
            barrier.wait()
            try:
                sms_budget.take("register", phone, client_address=f"203.0.113.{i}")
                outcome = "taken"
            except sms_budget.BudgetRefused as exc:
                outcome = exc.budget
            finally:
                db.session.remove()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=((app, other)[i % 2], i)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("taken") == 5
    assert results.count("phone_unauthenticated") == 7
    assert counter(app, "sms-phone-anon:" + sha256_hex(phone)) == 5
    assert counter(other, "sms-global") == 5
    with other.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("shares", [(0.9, 0.8), (-0.1, 0.5), (0.5, 1.5)])
def test_global_shares_are_validated(shares):
    from idp.platform.config import ConfigError, load_settings

    unauthenticated, notify = shares
    with pytest.raises(ConfigError, match="between 0 and 1"):
        load_settings({"sms_budget_global_unauthenticated_share": unauthenticated,
                       "sms_budget_global_notify_share": notify}, environ={})
