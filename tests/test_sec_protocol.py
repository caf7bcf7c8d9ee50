"""Issue 11 item 5: protocol defects found by the acceptance suite, one regression test each.

- one client authentication method per request (RFC 6749 §2.3) at /token, /revoke, /introspect;
- one bearer token transmission method per request at /userinfo (RFC 6750 §2);
- `state` carried back exactly (percent-encoded) by every error redirect, or an error page;
- a captcha is bound to the browser, the flow and the purpose that fetched it;
- `id_token_hint` naming A while B logs in interactively: login_required, never a code for B
  (OIDC Core §3.1.2.1).
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.support import (
    CITIZEN,
    CITIZEN2,
    ISSUER,
    PORTAL_CB,
    SECRET,
    auth_params,
    authorize,
    basic,
    follow_to_login,
    hidden,
    login_and_get_code,
    login_form_submit,
    pkce_pair,
    query,
    token_request,
)
from tests.support.messages import assert_message


def challenge() -> str:
    return pkce_pair()[1]


def _tokens(client) -> dict:
    verifier, chal = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=chal, scope="openid profile"))
    r = token_request(client, q["code"], verifier)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


# ---------------------------------------------------------------- one client auth method

def test_basic_and_client_secret_in_the_body_is_invalid_request_everywhere(client):
    verifier, chal = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=chal))
    data = {"grant_type": "authorization_code", "code": q["code"], "redirect_uri": PORTAL_CB,
            "code_verifier": verifier, "client_id": "portal", "client_secret": SECRET}
    r = client.post("/token", data=data, headers=basic())
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["error"] == "invalid_request"
    assert r.headers["Cache-Control"] == "no-store"
    # Refused before anything was checked or consumed: the same code still works, sent right.
    r = token_request(client, q["code"], verifier)
    assert r.status_code == 200 and r.get_json()["access_token"]
    access = r.get_json()["access_token"]

    both = {"token": access, "client_id": "portal", "client_secret": SECRET}
    for endpoint in ("/introspect", "/revoke"):
        r = client.post(endpoint, data=both, headers=basic())
        assert r.status_code == 400, (endpoint, r.status_code, r.get_data(as_text=True))
        assert r.get_json()["error"] == "invalid_request"
    # The refused revocation revoked nothing.
    r = client.post("/introspect", data={"token": access}, headers=basic())
    assert r.status_code == 200 and r.get_json()["active"] is True
    # A client_id alone in the body next to Basic is not a second method.
    r = client.post("/introspect", data={"token": access, "client_id": "portal"},
                    headers=basic())
    assert r.status_code == 200 and r.get_json()["active"] is True


# ---------------------------------------------------------------- one bearer method

def test_userinfo_refuses_a_token_sent_both_in_the_header_and_the_body_or_query(client):
    access = _tokens(client)["access_token"]
    bearer = {"Authorization": "Bearer " + access}
    sent_twice = [
        client.post("/userinfo", headers=bearer, data={"access_token": access}),
        client.get("/userinfo?" + urlencode({"access_token": access}), headers=bearer),
        client.post("/userinfo?" + urlencode({"access_token": access}),
                    data={"access_token": access}),
    ]
    for r in sent_twice:
        assert r.status_code == 400, r.get_data(as_text=True)
        assert r.get_json()["error"] == "invalid_request"
        challenge_header = r.headers["WWW-Authenticate"]
        assert challenge_header.startswith("Bearer ")
        assert 'error="invalid_request"' in challenge_header
        assert r.headers["Cache-Control"] == "no-store"
    # Each method alone still works.
    assert client.get("/userinfo", headers=bearer).status_code == 200
    assert client.post("/userinfo", data={"access_token": access}).status_code == 200


# ---------------------------------------------------------------- state round trip

STATES = ["a\x00b", "\x00", "x\x01\x1f\x7f\t\r\n y+z&w=v#u%t;s", "é\u2028\x00z"]
ERROR_CASES = [
    {"response_type": "token"},          # checked by us
    {"code_challenge_method": "plain"},  # checked with Authlib
    {"scope": "profile"},
    {"prompt": "none"},                  # the policy (no session)
    {"request_uri": "https://rp.example/r"},
]


def _exact_state(location: str) -> list[str]:
    return parse_qs(urlsplit(location).query, keep_blank_values=True).get("state", [])


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("state", STATES, ids=["nul", "only-nul", "controls", "unicode-nul"])
def test_every_error_redirect_carries_the_state_exactly(client, method, state):
    # A NUL byte alone makes the request an error (it cannot be stored).
    for change in ERROR_CASES + ([{}] if "\x00" in state else []):
        params = auth_params(challenge=challenge(), state=state, **change)
        r = authorize(client, params, method=method)
        if r.status_code != 302:
            # The only alternative to an exact echo is an error page (no redirect at all).
            assert r.status_code == 400 and "Location" not in r.headers, (change, r.status_code)
            continue
        location = r.headers["Location"]
        assert location.startswith(PORTAL_CB + "?")
        assert "\x00" not in location and "\n" not in location and "\r" not in location
        assert _exact_state(location) == [state], (change, location)
        q = query(location)
        assert q["error"] and "code" not in q and q["iss"] == ISSUER


def test_a_state_too_long_to_echo_gets_a_page_not_a_redirect_without_it(client):
    for state in ("A" * 3000, "ệ" * 2100):
        r = authorize(client, auth_params(challenge=challenge(), state=state))
        assert r.status_code == 400 and "Location" not in r.headers
        assert r.mimetype == "text/html"


def test_control_characters_in_state_survive_a_whole_login(client):
    state = "x\x01\x1f\x7f\t\r\n y+z&w=v#u%t;é"
    params = auth_params(challenge=challenge(), state=state)
    r = authorize(client, params)
    page = follow_to_login(client, r)
    r = login_form_submit(client, page.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password, second_factor=True)
    r = client.get(r.headers["Location"])
    assert r.status_code == 302
    assert _exact_state(r.headers["Location"]) == [state]
    assert query(r.headers["Location"])["code"]


# ---------------------------------------------------------------- captcha binding

def _login_page(c) -> tuple[str, str]:
    r = authorize(c, auth_params(challenge=challenge()))
    return r.headers["Location"], follow_to_login(c, r).get_data(as_text=True)


def _solve(c, html: str) -> tuple[str, str]:
    captcha_id = hidden(html, "captcha_id")
    return captcha_id, c.get(f"/_test/captcha/{captcha_id}").get_data(as_text=True)


def _submit_login(c, url: str, html: str, captcha_id: str, answer: str):
    return c.post(url, data={"csrf_token": hidden(html, "csrf_token"), "captcha_id": captcha_id,
                             "captcha": answer, "username": CITIZEN.id_number,
                             "password": CITIZEN.password})


def _refused(r) -> None:
    assert r.status_code == 400, r.status_code
    assert_message(r, "captcha.invalid")
    assert not any("idp_sso=" in v and "idp_sso=;" not in v
                   for v in r.headers.getlist("Set-Cookie"))


def test_a_captcha_is_bound_to_the_browser_the_flow_and_the_purpose(app):
    solver, attacker = app.test_client(), app.test_client()
    # Solved in another browser (relayed to a solving service): refused.
    _, solver_html = _login_page(solver)
    relayed = _solve(solver, solver_html)
    url, html = _login_page(attacker)
    _refused(_submit_login(attacker, url, html, *relayed))
    # Same browser, another flow's challenge: refused.
    _, html1 = _login_page(attacker)
    url2, html2 = _login_page(attacker)
    _refused(_submit_login(attacker, url2, html2, *_solve(attacker, html1)))
    # Same browser, a challenge fetched for another purpose (the lost-phone page): refused.
    lost_phone = attacker.get("/lost-phone").get_data(as_text=True)
    url3, html3 = _login_page(attacker)
    _refused(_submit_login(attacker, url3, html3, *_solve(attacker, lost_phone)))
    # The refresh button keeps a challenge's binding, and only in its own browser.
    _, html4 = _login_page(attacker)
    token = hidden(html4, "csrf_token")
    r = solver.post("/captcha/refresh", json={"captcha_id": hidden(html4, "captcha_id")},
                    headers={"X-CSRFToken": hidden(solver_html, "csrf_token")})
    assert r.status_code == 404  # somebody else's challenge
    url5, html5 = _login_page(attacker)
    r = attacker.post("/captcha/refresh", json={"captcha_id": hidden(html5, "captcha_id")},
                      headers={"X-CSRFToken": token})
    assert r.status_code == 200
    fresh = r.get_json()["captcha_id"]
    answer = attacker.get(f"/_test/captcha/{fresh}").get_data(as_text=True)
    # The challenge of this browser, flow and purpose passes.
    r = _submit_login(attacker, url5, html5, fresh, answer)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]


# ---------------------------------------------------------------- id_token_hint

def test_id_token_hint_of_a_and_b_logging_in_gives_login_required_not_a_code(app):
    a_browser, shared_pc = app.test_client(), app.test_client()
    id_token_of_a = _tokens(a_browser)["id_token"]  # CITIZEN
    params = auth_params(challenge=challenge(), id_token_hint=id_token_of_a)
    q = login_and_get_code(shared_pc, params, person=CITIZEN2)
    assert "code" not in q
    assert q["error"] == "login_required" and q["state"] == params["state"]
    assert q["iss"] == ISSUER
    # The hinted citizen logging in gets the code.
    params = auth_params(challenge=challenge(), id_token_hint=id_token_of_a)
    q = login_and_get_code(app.test_client(), params, person=CITIZEN)
    assert q["code"] and q["state"] == params["state"]
