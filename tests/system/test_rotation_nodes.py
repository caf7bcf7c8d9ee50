"""Key rotation across nodes (issue #7 item 6; security-requirements §0.10, §7.3): after
`idp keys rotate` every node signs new ID tokens — from a code and from a refresh — with the
new key within the nodes' key refresh interval (IDP_KEY_REFRESH_INTERVAL=1 here); tokens
signed before still verify against the JWKS; an id_token_hint signed by the previous key is
still accepted at logout (Hydra#3719, Hydra#3573 in §7.3)."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlencode

import pytest

from tests.system.checks import record
from tests.system.drive import (
    DAKLAK,
    NGOC,
    QUOCGIA,
    Agent,
    Authorization,
    authorization_params,
    jwt_header,
    login,
    query,
    redeem,
    refresh,
    verify_jwt,
)

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

REFRESH_INTERVAL = 1  # IDP_KEY_REFRESH_INTERVAL of the nodes (harness.Cluster.env)


def sso_code(agent: Agent, client) -> Authorization:
    """A new authorization for a browser that has a LoA2 session: the code comes at once."""
    params, verifier = authorization_params(client)
    r = agent.get("/authorize?" + urlencode(params))
    assert r.status_code == 302 and r.headers["Location"].startswith(client["redirect_uri"]), \
        r.text[:500]
    return Authorization(params, verifier, query(r.headers["Location"])["code"])


def current_kids(pg) -> dict[str, str]:
    return dict(pg.query("SELECT alg, kid FROM signing_keys WHERE state = 'current'"))


def test_every_node_signs_with_the_new_key_and_old_tokens_still_work(cluster):
    pg, lb = cluster.pg, cluster.lb
    agent = Agent(cluster.issuer, "rotation")
    old = redeem(agent, login(agent, cluster.carrier, NGOC)).json()
    old_rs = redeem(agent, sso_code(agent, QUOCGIA), QUOCGIA).json()
    before = current_kids(pg)
    assert jwt_header(old["id_token"])["kid"] == before["ES256"]
    assert jwt_header(old_rs["id_token"])["kid"] == before["RS256"]
    upcoming = dict(pg.query("SELECT alg, kid FROM signing_keys WHERE state = 'next'"))

    # The operator rotates while the portal keeps refreshing (one refresh every 0.1 s,
    # alternating nodes); each new ID token's kid tells which key that node signed with.
    rotation = threading.Thread(target=cluster.idp, args=("keys", "rotate", "--force"))
    rotation.start()
    token, run, history = old["refresh_token"], [], []
    while rotation.is_alive() or len(run) < 4:
        r = refresh(agent, token)
        assert r.status_code == 200, r.text
        token, id_token = r.json()["refresh_token"], r.json()["id_token"]
        kid = jwt_header(id_token)["kid"]
        assert kid in (before["ES256"], upcoming["ES256"]), kid
        history.append((time.time(), lb.nodes_for(agent.tags[-1:])[0], kid == upcoming["ES256"]))
        run = run + [id_token] if kid == upcoming["ES256"] else []
        assert len(history) < 200, "the nodes never switched to the new key"
        time.sleep(0.1)
    rotation.join()
    after = current_kids(pg)
    assert after == upcoming and set(after.values()).isdisjoint(before.values())
    committed = pg.scalar("SELECT state_changed_at FROM signing_keys WHERE kid = %s",
                          (after["ES256"],))
    numbers = {"refresh_interval_s": REFRESH_INTERVAL}
    for name in ("a", "b"):
        mine = [(at - committed, new) for at, node, new in history if node == name]
        last_old = max([dt for dt, new in mine if not new], default=None)
        first_new = min(dt for dt, new in mine if new)
        numbers[f"node_{name}_first_new_kid_after_s"] = first_new
        # A node re-reads the keys at most REFRESH_INTERVAL after its last read, so no token
        # it answers later than that after the rotation carries the old kid (the margin
        # covers state_changed_at being taken before the new keys are generated and
        # committed, and the request's own time on a loaded machine).
        if last_old is not None:
            numbers[f"node_{name}_last_old_kid_after_s"] = last_old
            assert last_old < REFRESH_INTERVAL + 2.5, history
    assert all(new for _, _, new in history[-4:])
    assert {node for _, node, _ in history[-4:]} == {"a", "b"}

    # The JWKS publishes the previous, current and next keys; new tokens verify with the new
    # key (header kid and signature agree), old ones with the previous key.
    jwks = agent.get("/jwks.json").json()
    published = {k["kid"] for k in jwks["keys"]}
    assert set(before.values()) | set(after.values()) <= published
    for id_token in run:
        verify_jwt(id_token, jwks)
    assert verify_jwt(old["id_token"], jwks)["sub"] == verify_jwt(run[0], jwks)["sub"]
    verify_jwt(old_rs["id_token"], jwks)
    # ID tokens from a code, on both nodes, and for the RS256 client.
    code_nodes = []
    for client in (DAKLAK, DAKLAK, QUOCGIA):
        fresh = redeem(agent, sso_code(agent, client), client)
        assert fresh.status_code == 200, fresh.text
        code_nodes.append(lb.nodes_for(agent.tags[-1:])[0])
        alg = "RS256" if client is QUOCGIA else "ES256"
        assert jwt_header(fresh.json()["id_token"])["kid"] == after[alg]
        verify_jwt(fresh.json()["id_token"], jwks)
    r = refresh(agent, old_rs["refresh_token"], QUOCGIA)
    assert jwt_header(r.json()["id_token"])["kid"] == after["RS256"]

    # Logout with the hint signed by the previous key: accepted by both nodes (without a
    # session here: straight to the registered URI, which only a valid hint allows) ...
    logout = "/logout?" + urlencode({"id_token_hint": old["id_token"], "state": "s",
                                     "post_logout_redirect_uri":
                                         DAKLAK["post_logout_redirect_uri"]})
    hint_nodes = []
    for i in range(2):
        other = Agent(cluster.issuer, f"rotation-hint-{i}")
        r = other.get(logout)
        assert r.status_code == 302, r.text[:500]
        assert r.headers["Location"] == DAKLAK["post_logout_redirect_uri"] + "?state=s"
        hint_nodes.append(lb.nodes_for(other.tags)[0])
    assert set(hint_nodes) == {"a", "b"}
    # ... and by the citizen's own browser, whose session it ends.
    r = agent.get(logout)
    assert r.status_code == 302 and r.headers["Location"].endswith("?state=s")
    sid = verify_jwt(old["id_token"], jwks)["sid"]
    assert pg.scalar("SELECT revoked_at IS NOT NULL FROM sso_sessions WHERE sid = %s", (sid,))
    record("key_rotation", "idp keys rotate --force", numbers)
    print("refreshes around the rotation (s after its commit, node, new kid): "
          + str([(round(at - committed, 2), node, new) for at, node, new in history]))
