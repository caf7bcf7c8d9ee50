"""Two IdP nodes behind nginx (round robin, no sticky sessions) on PostgreSQL + Redis: complete
flows through the load balancer whose consecutive steps land on alternating nodes, so every
piece of state (flows, captchas, SMS codes, SSO sessions, codes, tokens, signing keys) must be
shared (issue #7 item 3, security-requirements §0.8)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode

import pytest

from tests.system.drive import (
    AN,
    DAKLAK,
    Agent,
    finish,
    jwt_header,
    login,
    new_subscriber,
    redeem,
    refresh,
    register_to_code,
    set_password,
    submit_otp,
    userinfo,
    verify_jwt,
)
from tests.system.harness import wait_until

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]


def assert_alternates(lb, agent: Agent) -> list[str]:
    """Every request of `agent` went to the other node than the one before."""
    nodes = lb.nodes_for(agent.tags)
    assert set(nodes) == {"a", "b"}, nodes
    repeats = [(i, agent.tags[i]) for i in range(1, len(nodes)) if nodes[i] == nodes[i - 1]]
    assert not repeats, f"consecutive requests on one node: {repeats} in {nodes}"
    return nodes


def test_login_token_refresh_logout_across_both_nodes(cluster):
    carrier, lb = cluster.carrier, cluster.lb
    # One agent plays the citizen's browser and the portal's back end in turn, so that all
    # of its requests form one sequence in the load balancer's rotation.
    agent = Agent(cluster.issuer, "multinode")
    meta = agent.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == cluster.issuer
    auth = login(agent, carrier, AN)
    sms = carrier.messages_to(AN.phone)[-1]
    assert sms.node in ("a", "b")
    # The steps' state (pending authorization, flow, captcha, OTP challenge) is in Redis.
    assert cluster.redis.client().keys("idp:*")

    r = redeem(agent, auth)
    assert r.status_code == 200, r.text
    tokens = r.json()
    jwks = agent.get("/jwks.json").json()
    claims = verify_jwt(tokens["id_token"], jwks)
    assert claims["iss"] == cluster.issuer and claims["aud"] == DAKLAK["client_id"]
    assert claims["acr"] == "LoA2" and {"pwd", "sms"} <= set(claims["amr"])
    assert claims["nonce"] == auth.params["nonce"]
    info = userinfo(agent, tokens["access_token"])
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]

    # Refresh rotates: a new refresh token, and the old one is refused afterwards; that
    # reuse revokes the family (RFC 9700 §4.14.2), the new access token included.
    r = refresh(agent, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    renewed = r.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert verify_jwt(renewed["id_token"], jwks)["sub"] == claims["sub"]
    assert userinfo(agent, renewed["access_token"]).status_code == 200
    r = refresh(agent, tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    assert userinfo(agent, renewed["access_token"]).status_code == 401

    # RP-initiated logout with the ID token as hint: straight back to the portal, and the
    # portal's back-channel receiver gets a logout token for the session.
    r = agent.get("/logout?" + urlencode({
        "id_token_hint": renewed["id_token"], "state": "bye",
        "post_logout_redirect_uri": DAKLAK["post_logout_redirect_uri"]}))
    assert r.status_code == 302, r.text[:500]
    assert r.headers["Location"] == DAKLAK["post_logout_redirect_uri"] + "?state=bye"
    nodes = assert_alternates(lb, agent)
    assert cluster.pg.scalar("SELECT revoked_at IS NOT NULL FROM sso_sessions WHERE sid = %s",
                             (claims["sid"],))
    def delivered():
        for client_id, body in carrier.logout_tokens:
            token = verify_jwt(parse_qs(body)["logout_token"][0], jwks)
            if client_id == DAKLAK["client_id"] and token["sid"] == claims["sid"]:
                return token
    logout_token, _ = wait_until(delivered, 10, what="the back-channel logout token")
    assert logout_token["sub"] == claims["sub"] and logout_token["iss"] == cluster.issuer
    # After the logout the SSO session is gone on every node: a new authorization asks for
    # the password again (two requests, so both nodes answer).
    for _ in range(2):
        page = agent.follow(agent.get("/authorize?" + urlencode(auth.params)))
        assert page.status_code == 200 and 'name="password"' in page.text
    print(f"\n[multinode] login->logout on nodes {''.join(nodes)}; SMS sent by node {sms.node}")


def test_registration_across_both_nodes(cluster):
    carrier, lb = cluster.carrier, cluster.lb
    person = new_subscriber(carrier)
    browser = Agent(cluster.issuer, "register")
    auth, page, code = register_to_code(browser, carrier, person)
    r = submit_otp(browser, page, code)
    assert r.status_code == 303, r.text[:800]
    page = browser.get(r.headers["Location"])
    r = set_password(browser, page)
    assert r.status_code == 303, r.text[:800]
    auth = finish(browser, auth, r)
    portal = Agent(cluster.issuer, "register-portal")
    r = redeem(portal, auth)
    assert r.status_code == 200, r.text
    claims = verify_jwt(r.json()["id_token"], portal.get("/jwks.json").json())
    assert claims["acr"] == "LoA2"
    rows = cluster.pg.query("SELECT c.sub, c.phone, count(m.id) FROM citizens c JOIN "
                            "auth_methods m ON m.citizen_id = c.id WHERE c.id_number = %s "
                            "GROUP BY c.sub, c.phone", (person.id_number,))
    assert rows == [(claims["sub"], person.phone, 1)]
    nodes = assert_alternates(lb, browser)
    kyc_nodes = {node for node, _ in carrier.kyc_attempts}
    print(f"\n[multinode] registration on nodes {''.join(nodes)}; KYC asked by {kyc_nodes}")


def test_parallel_redemption_of_one_code_gives_one_token(cluster):
    carrier = cluster.carrier
    auth = login(Agent(cluster.issuer, "race-browser"), carrier, AN)
    portals = [Agent(cluster.issuer, f"race-{i}") for i in range(8)]
    with ThreadPoolExecutor(len(portals)) as pool:
        answers = list(pool.map(lambda p: redeem(p, auth), portals))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [400] * (len(portals) - 1), [(r.status_code, r.text[:100])
                                                            for r in answers]
    assert all(r.json()["error"] == "invalid_grant" for r in answers if r.status_code == 400)
    served = {n for p in portals for n in cluster.lb.nodes_for(p.tags)}
    assert served == {"a", "b"}
    # Exactly one token row was issued for the code's grant; the losers' replays revoked it
    # (RFC 6749 §4.1.2: a code used twice revokes what it issued).
    grant = cluster.pg.query("SELECT grant_id, consumed_at IS NOT NULL FROM authorization_codes "
                             "WHERE client_id = %s ORDER BY created_at DESC LIMIT 1",
                             (DAKLAK["client_id"],))[0]
    assert grant[1]
    tokens = cluster.pg.query("SELECT revoked_at IS NOT NULL FROM tokens WHERE grant_id = %s",
                              (grant[0],))
    assert tokens == [(True,)]
    winner = next(r for r in answers if r.status_code == 200).json()
    assert userinfo(portals[0], winner["access_token"]).status_code == 401
    assert jwt_header(winner["id_token"])["kid"]
