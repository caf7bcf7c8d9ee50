"""The authorization endpoint: validation, errors by page vs redirect, prompt, max_age, acr,
consent, SSO, and the login step's rules."""
from __future__ import annotations

import re
import time

import pytest

from tests.support import (
    CITIZEN,
    CITIZEN2,
    ISSUER,
    PORTAL_CB,
    SPA_CB,
    auth_params,
    authorize,
    finish_sms_step,
    follow_to_login,
    form_action,
    hidden,
    login_and_get_code,
    login_form_submit,
    pkce_pair,
    query,
)


def challenge():
    return pkce_pair()[1]


# ---------------------------------------------------------------- errors shown as a page

@pytest.mark.parametrize("change", [
    {"client_id": "nobody"},
    {"client_id": None},
    {"redirect_uri": PORTAL_CB + "x"},
    {"redirect_uri": PORTAL_CB + "?a=b"},
    {"redirect_uri": "http://127.0.0.1:5001/auth/CALLBACK"},
    {"redirect_uri": None},
    {"redirect_uri": "https://evil.example/cb"},
])
def test_unknown_client_or_redirect_uri_shows_page_and_never_redirects(client, change):
    params = auth_params(challenge=challenge())
    params.update(change)
    params = {k: v for k, v in params.items() if v is not None}
    r = authorize(client, params)
    assert r.status_code == 400
    assert "Location" not in r.headers
    assert "text/html" in r.headers["Content-Type"]
    assert 'lang="vi"' in r.get_data(as_text=True)


def test_duplicate_redirect_uri_is_a_page(client):
    r = client.get(f"/authorize?client_id=portal&redirect_uri={PORTAL_CB}&redirect_uri={PORTAL_CB}"
                   "&response_type=code&scope=openid")
    assert r.status_code == 400 and "Location" not in r.headers


# ---------------------------------------------------------------- errors by redirect

def _redirect_error(r, params):
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    loc = r.headers["Location"]
    assert loc.startswith(PORTAL_CB + "?")
    q = query(loc)
    assert q["iss"] == ISSUER  # RFC 9207: also on errors
    assert q.get("state") == params.get("state")
    assert "code" not in q
    assert re.fullmatch(r"[\x20-\x21\x23-\x5B\x5D-\x7E]*", q.get("error_description", ""))
    return q["error"]


@pytest.mark.parametrize("change, error", [
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge": "short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"scope": "profile"}, "invalid_scope"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ({"request_uri": "https://rp.example/r"}, "request_uri_not_supported"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"prompt": "bogus"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"max_age": "abc"}, "invalid_request"),
    ({"response_mode": "fragment"}, "invalid_request"),
])
def test_invalid_requests_redirect_with_error_state_and_iss(client, change, error):
    params = auth_params(challenge=challenge())
    params.update(change)
    params = {k: v for k, v in params.items() if v is not None}
    assert _redirect_error(authorize(client, params), params) == error


def test_missing_response_type_is_refused(client):
    params = auth_params(challenge=challenge())
    del params["response_type"]
    assert _redirect_error(authorize(client, params), params) in (
        "unsupported_response_type", "invalid_request")


def test_prompt_none_without_session_gives_login_required_and_keeps_long_state(client):
    params = auth_params(challenge=challenge(), prompt="none", state="s" * 128)
    assert _redirect_error(authorize(client, params), params) == "login_required"


def test_unknown_parameters_and_display_are_ignored(client):
    params = auth_params(challenge=challenge(), extra="foobar", display="popup",
                         ui_locales="se", claims_locales="se", login_hint="buffy@example")
    r = authorize(client, params)
    assert r.status_code == 303


# ---------------------------------------------------------------- login step

def test_login_page_fields_follow_the_contract(client):
    page = follow_to_login(client, authorize(client, auth_params(challenge=challenge())))
    html = page.get_data(as_text=True)
    assert re.search(r'name="username"[^>]*autocomplete="username"|autocomplete="username"'
                     r'[^>]*name="username"', html)
    assert re.search(r'name="password"[^>]*autocomplete="current-password"|'
                     r'autocomplete="current-password"[^>]*name="password"', html)
    assert 'name="captcha"' in html and hidden(html, "captcha_id")
    assert hidden(html, "csrf_token")
    assert "Mật khẩu" in html and "Mã xác thực" in html
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_happy_login_returns_code_state_and_iss(client):
    params = auth_params(challenge=challenge())
    q = login_and_get_code(client, params)
    assert q["code"] and q["state"] == params["state"] and q["iss"] == ISSUER


def test_authorize_by_post_works(client):
    params = auth_params(challenge=challenge())
    r = authorize(client, params, method="POST")
    assert r.status_code == 303


def _login_page(client):
    return follow_to_login(client, authorize(client, auth_params(challenge=challenge())))


def test_wrong_password_and_unknown_id_number_get_the_same_answer(client):
    html = _login_page(client).get_data(as_text=True)
    wrong_pw = login_form_submit(client, html, CITIZEN.id_number, "not-the-password-123")
    html = _login_page(client).get_data(as_text=True)
    unknown = login_form_submit(client, html, "066089999999", "not-the-password-123")
    assert wrong_pw.status_code == unknown.status_code == 400

    def alert(r):  # the error summary's text, tags removed
        box = re.search(r'role="alert"[^>]*>(.*?)</div>', r.get_data(as_text=True), re.S).group(1)
        return " ".join(re.sub(r"<[^>]*>", " ", box).split())
    assert alert(wrong_pw).strip() == alert(unknown).strip()
    assert "không đúng" in alert(wrong_pw)


def test_wrong_captcha_is_refused_before_the_password_and_captcha_is_single_use(client):
    html = _login_page(client).get_data(as_text=True)
    captcha_id = hidden(html, "captcha_id")
    answer = client.get(f"/_test/captcha/{captcha_id}").get_data(as_text=True)
    r = login_form_submit(client, html, CITIZEN.id_number, CITIZEN.password,
                          captcha_answer="zzzzzz" if answer != "zzzzzz" else "yyyyyy")
    assert r.status_code == 400
    assert "Mã xác thực không đúng" in r.get_data(as_text=True)
    # The right answer now fails too: the first (wrong) attempt consumed the challenge.
    r = login_form_submit(client, html, CITIZEN.id_number, CITIZEN.password, answer)
    assert r.status_code == 400
    assert "Mã xác thực không đúng" in r.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client):
    html = _login_page(client).get_data(as_text=True)
    captcha_id = hidden(html, "captcha_id")
    answer = client.get(f"/_test/captcha/{captcha_id}").get_data(as_text=True)
    r = client.post(form_action(html), data={"captcha_id": captcha_id, "captcha": answer,
                                             "username": CITIZEN.id_number,
                                             "password": CITIZEN.password})
    assert r.status_code == 400
    assert "idp_sso" not in r.headers.get("Set-Cookie", "")


def test_malformed_id_number_gets_a_field_error_and_keeps_the_value(client):
    html = _login_page(client).get_data(as_text=True)
    r = login_form_submit(client, html, "12ab", "whatever-password")
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    assert 'value="12ab"' in body and 'aria-invalid="true"' in body
    assert "whatever-password" not in body


def test_throttle_after_repeated_failures_applies_to_unknown_ids_too(app, client):
    limit = app.config["IDP"]["login_max_failures"]
    for who in (CITIZEN.id_number, "066089999999"):
        for _ in range(limit):
            html = _login_page(client).get_data(as_text=True)
            assert login_form_submit(client, html, who, "wrong-password-xyz").status_code == 400
        html = _login_page(client).get_data(as_text=True)
        r = login_form_submit(client, html, who, CITIZEN.password)
        assert r.status_code == 429
        assert "thử lại sau" in r.get_data(as_text=True)


def test_flow_is_bound_to_the_browser(app, client):
    r = authorize(client, auth_params(challenge=challenge()))
    other = app.test_client()
    assert other.get(r.headers["Location"]).status_code == 410


def test_flow_url_of_a_finished_login_is_gone(client):
    params = auth_params(challenge=challenge())
    r = authorize(client, params)
    flow_url = r.headers["Location"]
    html = client.get(flow_url).get_data(as_text=True)
    r = login_form_submit(client, html, CITIZEN.id_number, CITIZEN.password, second_factor=True)
    assert r.status_code == 303
    assert client.get(flow_url).status_code == 410
    resume = r.headers["Location"]
    assert client.get(resume).status_code == 302
    assert client.get(resume).status_code == 400  # the pending request is used up


# ---------------------------------------------------------------- SSO and prompts

def test_sso_second_request_issues_code_without_interaction(client):
    login_and_get_code(client, auth_params(challenge=challenge()))
    params = auth_params(challenge=challenge(), prompt="none")
    r = authorize(client, params)
    assert r.status_code == 302
    assert query(r.headers["Location"])["code"]


def test_sso_cookie_attributes_and_rotation_on_login(client):
    params = auth_params(challenge=challenge())
    r = authorize(client, params)
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    r = login_form_submit(client, html, CITIZEN.id_number, CITIZEN.password, second_factor=True)
    cookie = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("idp_sso=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    first = cookie.split(";")[0]
    client.get(r.headers["Location"])
    r = authorize(client, auth_params(challenge=challenge(), prompt="login"))
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    r = login_form_submit(client, html, CITIZEN.id_number, CITIZEN.password, second_factor=True)
    second = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("idp_sso=")][0]
    assert second.split(";")[0] != first


def test_https_issuer_uses_host_prefixed_secure_cookies(database_url):
    from tests.support.apps import make_app
    app = make_app(database_url, issuer="https://idp.example.gov.vn")
    c = app.test_client()
    params = auth_params(challenge=challenge())
    r = c.get("/authorize", query_string=params, base_url="https://idp.example.gov.vn")
    html = c.get(r.headers["Location"], base_url="https://idp.example.gov.vn").get_data(
        as_text=True)
    captcha_id = hidden(html, "captcha_id")
    answer = c.get(f"/_test/captcha/{captcha_id}",
                   base_url="https://idp.example.gov.vn").get_data(as_text=True)
    r = c.post(form_action(html), base_url="https://idp.example.gov.vn",
               data={"csrf_token": hidden(html, "csrf_token"), "captcha_id": captcha_id,
                     "captcha": answer, "username": CITIZEN.id_number,
                     "password": CITIZEN.password},
               headers={"Referer": "https://idp.example.gov.vn/"})
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    r = finish_sms_step(c, r, CITIZEN.id_number, base_url="https://idp.example.gov.vn",
                        headers={"Referer": "https://idp.example.gov.vn/"})
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    cookie = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("__Host-idp_sso=")]
    assert cookie and "Secure" in cookie[0] and "HttpOnly" in cookie[0]
    assert "Domain" not in cookie[0]


def test_prompt_login_forces_the_login_page_again(client):
    login_and_get_code(client, auth_params(challenge=challenge()))
    r = authorize(client, auth_params(challenge=challenge(), prompt="login"))
    assert r.status_code == 303 and "/flows/" in r.headers["Location"]


def test_max_age_exceeded_forces_login_and_prompt_none_fails(client, monkeypatch):
    login_and_get_code(client, auth_params(challenge=challenge()))
    import idp.protocol.authorize
    later = time.time() + 120
    monkeypatch.setattr(idp.protocol.authorize, "now", lambda: later)
    r = authorize(client, auth_params(challenge=challenge(), max_age="60"))
    assert r.status_code == 303 and "/flows/" in r.headers["Location"]
    params = auth_params(challenge=challenge(), max_age="60", prompt="none")
    assert _redirect_error(authorize(client, params), params) == "login_required"
    # A generous max_age is satisfied by the existing session.
    r = authorize(client, auth_params(challenge=challenge(), max_age="100000"))
    assert r.status_code == 302 and "code" in query(r.headers["Location"])


def test_id_token_hint_for_another_user_needs_login(client):
    from tests.support import token_request
    verifier, chal = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=chal), person=CITIZEN2)
    id_token = token_request(client, q["code"], verifier).get_json()["id_token"]
    client2 = client.application.test_client()
    login_and_get_code(client2, auth_params(challenge=challenge()), person=CITIZEN)
    params = auth_params(challenge=challenge(), prompt="none", id_token_hint=id_token)
    assert _redirect_error(authorize(client2, params), params) == "login_required"
    # The matching user's hint passes silently.
    r = authorize(client, auth_params(challenge=challenge(), prompt="none",
                                      id_token_hint=id_token))
    assert r.status_code == 302 and "code" in query(r.headers["Location"])


# ---------------------------------------------------------------- acr

def test_acr_values_loa1_is_satisfied_by_password(client):
    q = login_and_get_code(client, auth_params(challenge=challenge(), acr_values="LoA1"))
    assert q["code"]


def test_acr_above_the_session_level_is_not_faked(database_url):
    """A LoA1 session asked for LoA2 steps up (an interaction, never a silent pass), and LoA3
    — no PKI authenticator exists yet — ends in an error, never a LoA1 session passed off.
    (A deployment that lowered login_min_acr to LoA1: test_login_level.py has the default.)"""
    from tests.support.apps import make_app
    client = make_app(database_url, login_min_acr="LoA1").test_client()
    login_and_get_code(client, auth_params(challenge=challenge()))
    r = authorize(client, auth_params(challenge=challenge(), acr_values="LoA2"))
    assert r.status_code == 303 and "/flows/" in r.headers["Location"]
    params = auth_params(challenge=challenge(), acr_values="LoA2", prompt="none")
    assert _redirect_error(authorize(client, params), params) == "interaction_required"
    r = authorize(client, auth_params(client_id="stepup", challenge=challenge()))
    assert r.status_code == 303 and "/flows/" in r.headers["Location"]
    params = auth_params(challenge=challenge(), acr_values="LoA3")
    assert _redirect_error(authorize(client, params), params) == "access_denied"


# ---------------------------------------------------------------- consent

def _spa_params(**extra):
    return auth_params(client_id="spa", redirect_uri=SPA_CB, challenge=challenge(),
                       scope="openid profile phone", **extra)


def _login_then_consent_page(client, params):
    r = authorize(client, params)
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    r = login_form_submit(client, html, CITIZEN.id_number, CITIZEN.password, second_factor=True)
    r = client.get(r.headers["Location"])  # resume -> consent flow
    assert r.status_code == 303
    return client.get(r.headers["Location"])


def test_third_party_client_gets_a_consent_page_listing_claims(client):
    params = _spa_params()
    page = _login_then_consent_page(client, params)
    html = page.get_data(as_text=True)
    assert "Ứng dụng bên thứ ba" in html
    assert "Số điện thoại di động" in html and "Họ và tên" in html
    r = client.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                             "action": "allow"})
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and "code" in query(r.headers["Location"])
    # Consent remembered: no page the second time.
    r = authorize(client, _spa_params())
    assert r.status_code == 302 and "code" in query(r.headers["Location"])
    # prompt=consent forces it again.
    r = authorize(client, _spa_params(prompt="consent"))
    assert r.status_code == 303


def test_denied_consent_returns_access_denied(client):
    params = _spa_params()
    html = _login_then_consent_page(client, params).get_data(as_text=True)
    r = client.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                             "action": "deny"})
    r = client.get(r.headers["Location"])
    assert query(r.headers["Location"])["error"] == "access_denied"


def test_prompt_none_for_third_party_without_consent_is_consent_required(client):
    login_and_get_code(client, auth_params(challenge=challenge()))
    params = _spa_params(prompt="none")
    r = authorize(client, params)
    assert query(r.headers["Location"])["error"] == "consent_required"


def test_login_hint_with_an_id_number_prefills_the_username(client):
    r = authorize(client, auth_params(challenge=challenge(), login_hint=CITIZEN.id_number))
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert f'value="{CITIZEN.id_number}"' in html


def test_a_node_without_keys_answers_503_not_500(app, client):
    from idp.platform.db import db
    from idp.platform.models import SigningKey
    with app.app_context():
        db.session.query(SigningKey).delete()
        db.session.commit()
        app.extensions["idp.keyring"].invalidate()
    assert client.get("/jwks.json").get_json() == {"keys": []}
    from tests.support import pkce_pair, token_request
    verifier, chal = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=chal))
    r = token_request(client, q["code"], verifier)
    assert r.status_code == 503 and r.get_json()["error"] == "temporarily_unavailable"
