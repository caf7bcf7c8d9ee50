"""Graceful shutdown (issue #7 item 5): SIGTERM to a node's gunicorn master while a request is
in flight — a login step whose SMS the gateway takes 1.5 s to accept — lets that request finish
with its normal answer; the node then exits with status 0 and the load balancer sends the
next requests to the other node. The fixture starts the node again for the next test."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.system.checks import assert_nothing_half_written, record
from tests.system.drive import MINH, Agent, finish, redeem, start_login, submit_otp, submit_password
from tests.system.harness import SMS_TIMEOUT, wait_until

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

SMS_DELAY = 0.75 * SMS_TIMEOUT  # slow, but accepted before the IdP gives up


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def test_sigterm_lets_the_request_in_flight_finish(cluster):
    carrier, lb = cluster.carrier, cluster.lb
    browser = Agent(cluster.issuer, "graceful")
    auth, page = start_login(browser)
    r = submit_password(browser, page, MINH)
    assert r.status_code == 303
    otp_url = r.headers["Location"]  # showing this page sends the SMS

    carrier.sms_delay = SMS_DELAY
    sent = carrier.count()
    result = {}

    def in_flight():
        t = time.monotonic()
        result["response"] = browser.get(otp_url)
        result["seconds"] = time.monotonic() - t
    thread = threading.Thread(target=in_flight)
    thread.start()
    assert carrier.sms_started.wait(10), "the SMS was never sent"
    node = cluster.nodes[carrier.last_sms_node]
    other = next(n for n in cluster.nodes.values() if n is not node)
    pid = node.pid
    t = time.monotonic()
    node.terminate()
    _, refusing = wait_until(lambda: refuses_connections(node.port), 5, 0.01,
                             f"node {node.name} to stop listening")

    # Meanwhile, new requests through the load balancer are answered at once: the draining
    # node refuses connections (nginx then tries the other one) instead of queueing them.
    during = []
    for _ in range(2):
        probe = Agent(cluster.issuer, "graceful-probe")
        start = time.monotonic()
        r = probe.get("/.well-known/openid-configuration")
        during.append((r.status_code, round(time.monotonic() - start, 3),
                       "->".join(lb.hit(probe.tags[0]).upstreams)))
    # Both were answered while the request in flight was still running: they did not wait
    # in the draining node's listen queue.
    drained_meanwhile = not thread.is_alive()
    thread.join(30)
    exit_status = node.proc.wait(30)
    shutdown = time.monotonic() - t

    response = result["response"]
    assert response.status_code == 200 and 'name="otp"' in response.text, response.text[:500]
    assert "Không gửi được" not in response.text
    assert result["seconds"] >= SMS_DELAY
    assert exit_status == 0, f"node {node.name} (pid {pid}) exited with {exit_status}"
    assert shutdown < SMS_DELAY + 10
    assert all(status == 200 for status, _, _ in during) and not drained_meanwhile, during
    assert f"{node.name}->{other.name}" in [path for _, _, path in during], during

    # The login goes on through the load balancer; only the other node answers now.
    carrier.sms_delay = 0
    first_after = len(browser.tags)
    r = submit_otp(browser, response, carrier.code_for(MINH.phone, sent))
    assert r.status_code == 303, r.text[:500]
    auth = finish(browser, auth, r)
    r = redeem(browser, auth)
    assert r.status_code == 200, r.text
    served = lb.nodes_for(browser.tags[first_after:])
    assert set(served) == {other.name}, served
    assert_nothing_half_written(cluster.pg)
    record("graceful_shutdown", "SIGTERM during a request", {
        "in_flight_request_s": result["seconds"], "sigterm_to_refusing_s": refusing,
        "sigterm_to_exit_s": shutdown,
        "exit_status": exit_status, "requests_during_drain": during})
