"""The SMS second factor inside the authorization: login at LoA2, step-up from LoA1."""
from __future__ import annotations

import json

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import (
    CITIZEN,
    PORTAL_CB,
    auth_params,
    authorize,
    follow_to_login,
    form_action,
    hidden,
    last_code,
    login_and_get_code,
    login_form_submit,
    pkce_pair,
    query,
    token_request,
)


def _id_token_claims(client, id_token):
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    return jwt.decode(id_token, keys, algorithms=["ES256", "RS256"]).claims


def _submit_otp(client, page, code):
    html = page.get_data(as_text=True)
    return client.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                                "otp": code, "action": "verify"})


def test_loa2_login_is_password_then_sms_code(app, client):
    verifier, challenge = pkce_pair()
    params = auth_params(challenge=challenge, acr_values="LoA2")
    page = follow_to_login(client, authorize(client, params))
    r = login_form_submit(client, page.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password)
    assert r.status_code == 303
    otp_page = client.get(r.headers["Location"])
    html = otp_page.get_data(as_text=True)
    assert "0941xxx947" in html and 'autocomplete="one-time-code"' in html
    assert "idp_sso" not in "".join(r.headers.getlist("Set-Cookie"))  # no session yet
    r = _submit_otp(client, otp_page, last_code(app, CITIZEN.phone))
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    r = client.get(r.headers["Location"])
    q = query(r.headers["Location"])
    assert r.headers["Location"].startswith(PORTAL_CB) and q["code"]
    body = token_request(client, q["code"], verifier).get_json()
    claims = _id_token_claims(client, body["id_token"])
    assert claims["acr"] == "LoA2" and {"pwd", "sms"} <= set(claims["amr"])


def test_step_up_runs_only_the_sms_step(database_url):
    # A deployment that lowered login_min_acr to LoA1 (test_login_level.py: a LoA1 client).
    from tests.support.apps import make_app
    app = make_app(database_url, login_min_acr="LoA1")
    client = app.test_client()
    login_and_get_code(client, auth_params(challenge=pkce_pair()[1]))  # LoA1 session
    verifier, challenge = pkce_pair()
    r = authorize(client, auth_params(challenge=challenge, acr_values="LoA2"))
    page = client.get(r.headers["Location"])
    html = page.get_data(as_text=True)
    assert 'name="otp"' in html and 'name="password"' not in html
    assert "Dịch vụ bạn đang truy cập yêu cầu xác thực thêm" in html  # why a code now
    r = _submit_otp(client, page, last_code(app, CITIZEN.phone))
    r = client.get(r.headers["Location"])
    body = token_request(client, query(r.headers["Location"])["code"], verifier).get_json()
    claims = _id_token_claims(client, body["id_token"])
    assert claims["acr"] == "LoA2" and "sms" in claims["amr"]
    # The session is LoA2 now: another LoA2 request passes silently.
    r = authorize(client, auth_params(challenge=challenge, acr_values="LoA2", prompt="none"))
    assert r.status_code == 302 and "code" in query(r.headers["Location"])


def test_sms_text_is_vietnamese_with_only_code_and_service(app, client):
    params = auth_params(challenge=pkce_pair()[1], acr_values="LoA2")
    page = follow_to_login(client, authorize(client, params))
    r = login_form_submit(client, page.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password)
    client.get(r.headers["Location"])
    message = app.extensions["idp.sms"].read()[-1]
    assert message["to"] == CITIZEN.phone and set(message) == {"message_id", "to", "text"}
    assert "Ma xac thuc" in message["text"] and CITIZEN.id_number not in message["text"]
    assert "0941" not in message["text"] and "Nguyen" not in message["text"]
    json.dumps(message)


def test_dev_outbox_page_lists_messages_outside_production(app, client):
    params = auth_params(challenge=pkce_pair()[1], acr_values="LoA2")
    page = follow_to_login(client, authorize(client, params))
    r = login_form_submit(client, page.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password)
    client.get(r.headers["Location"])
    html = client.get("/_dev/sms").get_data(as_text=True)
    assert last_code(app, CITIZEN.phone) in html
