"""A node killed with deliveries pending loses nothing (issue 11 item 4; idp/outbox.py).

Back-channel logout tokens and lost-phone notices are produced through the load balancer (three
citizens log in at the provincial portal, log out, and file a lost-phone request) while both
`idp worker` processes are paused, so every row is pending. Then worker a alone resumes against
slow receivers (1 s per message), claims the whole batch, and is SIGKILLed together with its
node's gunicorn while it holds the rows — one message in flight, the others claimed and not
started. Worker b resumes; once the dead worker's leases run out it delivers everything.

"Exactly once" as the receivers observe it: every message arrives, each under the one id fixed
when its row was written (the SMS port's message_id, the logout token's jti), and no message
arrives under a second id — so a receiver that drops an id it has already seen (as the portals
do with jti values) processes each exactly once. Underneath it is at least once: the message
that was in flight when the worker died is sent again, with the same id, and that repetition is
the only one.
"""
from __future__ import annotations

import os
import signal
import time
from collections import Counter
from urllib.parse import parse_qs, urlencode

import pytest

from tests.system.checks import record
from tests.system.drive import DAKLAK, HA, MINH, NGOC, Agent, login, redeem, verify_jwt
from tests.system.harness import wait_until

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

PEOPLE = (NGOC, HA, MINH)
NEW_PHONE = "0987650011"  # the number a lost-phone request asks for (never approved here)
DELAY = 1.0  # seconds each receiver takes: below the SMS and back-channel timeouts


def lost_phone_request(agent: Agent, person) -> None:
    page = agent.get("/lost-phone")
    assert page.status_code == 200, page.text[:300]
    r = agent.post_form(page, id_number=person.id_number, phone=NEW_PHONE, action="request",
                        **agent.captcha(page))
    assert r.status_code == 303, r.text[:500]


def outbox_rows(pg, after: int) -> list[tuple]:
    return pg.query("SELECT message_id, kind, state, claimed_by, attempts FROM outbox "
                    "WHERE id > %s ORDER BY id", (after,))


def test_a_killed_worker_loses_nothing_and_the_other_delivers_each_message_once(cluster):
    carrier, pg = cluster.carrier, cluster.pg
    worker_a, worker_b = cluster.workers["a"], cluster.workers["b"]
    wait_until(lambda: pg.scalar("SELECT count(*) FROM outbox WHERE state = 'pending'") == 0,
               30, 0.2, "earlier tests' deliveries")
    start = pg.scalar("SELECT coalesce(max(id), 0) FROM outbox")
    worker_a.signal(signal.SIGSTOP)
    worker_b.signal(signal.SIGSTOP)
    try:
        # ---- produce: logouts (one back-channel token each) and lost-phone notices
        for person in PEOPLE:
            browser = Agent(cluster.issuer, f"outbox-{person.id_number[-4:]}")
            tokens = redeem(browser, login(browser, carrier, person)).json()
            r = browser.get("/logout?" + urlencode({"id_token_hint": tokens["id_token"]}))
            assert r.status_code == 200 and "Bạn đã đăng xuất" in r.text, r.text[:500]
            lost_phone_request(Agent(cluster.issuer, f"lost-{person.id_number[-4:]}"), person)
        rows = outbox_rows(pg, start)
        kinds = Counter(kind for _, kind, _, _, _ in rows)
        assert kinds["backchannel"] == len(PEOPLE) and kinds["sms"] >= len(PEOPLE), rows
        assert {state for _, _, state, _, _ in rows} == {"pending"}
        ids = {message_id for message_id, *_ in rows}

        # ---- worker a alone, slow receivers: it claims the batch and starts delivering
        carrier.sms_delay = carrier.backchannel_delay = DELAY
        tokens_before, attempts_before = len(carrier.logout_tokens), len(carrier.sms_attempts)
        worker_a.signal(signal.SIGCONT)
        tag_a = f":{worker_a.proc.pid}:"

        def in_flight():
            arrived = (len(carrier.logout_tokens) > tokens_before
                       or len(carrier.sms_attempts) > attempts_before)
            held = sum(1 for _, _, state, by, _ in outbox_rows(pg, start)
                       if state == "pending" and by and tag_a in by)
            return arrived and held >= 2
        wait_until(in_flight, 20, 0.02, "worker a holding the batch with a message in flight")

        # ---- kill node a: its worker and its gunicorn, no chance to clean up
        os.kill(worker_a.proc.pid, signal.SIGKILL)
        os.killpg(cluster.nodes["a"].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        worker_a.proc.wait(10)
        held = {m for m, _, state, by, _ in outbox_rows(pg, start)
                if state == "pending" and by and tag_a in by}
        assert len(held) >= 2, outbox_rows(pg, start)
        carrier.sms_delay = carrier.backchannel_delay = 0.0
        worker_b.signal(signal.SIGCONT)

        # ---- worker b delivers everything once the dead worker's leases run out
        wait_until(lambda: all(state == "delivered" for _, _, state, _, _ in
                               outbox_rows(pg, start)), 60, 0.2, "every row delivered")
        recovered_after = time.monotonic() - killed_at
    finally:
        carrier.sms_delay = carrier.backchannel_delay = 0.0
        worker_b.signal(signal.SIGCONT)

    final = outbox_rows(pg, start)
    tag_b = f":{worker_b.proc.pid}:"
    for message_id, _, state, by, attempts in final:
        assert state == "delivered"
        if message_id in held:  # taken over from the dead worker: its claim counted
            assert tag_b in by and attempts == 2, (message_id, by, attempts)

    # What the receivers saw, by id (only this test's messages: login codes are not rows).
    jwks = Agent(cluster.issuer, "outbox-jwks").get("/jwks.json").json()
    seen = Counter()
    for client_id, body in list(carrier.logout_tokens[tokens_before:]):
        claims = verify_jwt(parse_qs(body)["logout_token"][0], jwks)
        assert client_id == DAKLAK["client_id"] == claims["aud"]
        seen[claims["jti"]] += 1
    for sms in list(carrier.sent):
        if sms.message_id in ids:
            seen[sms.message_id] += 1
    unknown = set(seen) - ids
    assert not unknown, f"messages under ids no row has (a retry minted a new id): {unknown}"
    assert set(seen) == ids, f"lost: {ids - set(seen)}"
    # After dropping repeated ids, each message once; repeats only of what the dead worker
    # had in flight (at most one message: it delivers one at a time).
    repeated = {m: n for m, n in seen.items() if n > 1}
    assert set(repeated) <= held and len(repeated) <= 1, repeated
    assert all(n == 2 for n in repeated.values())
    # Everything the dead worker held and had not finished went out through worker b.
    later_sms = [s for s in carrier.sent if s.message_id in held]
    assert all(s.node in ("a", "b") for s in later_sms)
    assert any(s.node == "b" for s in later_sms) or not later_sms
    record("outbox", "kill_worker_with_deliveries_pending", {
        "messages": len(ids), "backchannel": kinds["backchannel"], "sms": kinds["sms"],
        "held_by_killed_worker": len(held), "repeated_in_flight": len(repeated),
        "all_delivered_after_kill_s": recovered_after,
        "lease_s": float(cluster.env("a")["IDP_OUTBOX_LEASE_SECONDS"])})
