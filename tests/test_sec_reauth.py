"""Issue 11, item 1: the account page's re-authentication is bound to the exact login flow it
started (account/access.py), a hand-over to recovery/registration cancels it
(flows/views.py), and every login and logout renews the browser binding, the Flask session
and the CSRF token (session.py) so nothing from before a login authorises anything after
it — except the authorization that very login completes."""
from __future__ import annotations

import re
import time

import pytest

from idp.flows.account import access
from idp.platform.sms import OutboxSms
from tests.support import (
    CITIZEN,
    CITIZEN2,
    PORTAL_CB,
    auth_params,
    authorize,
    ephemeral_keys,
    follow_to_login,
    form_action,
    hidden,
    last_code,
    login_and_get_code,
    login_form_submit,
    outbox,
    pkce_pair,
    query,
)

NEW_PASSWORD = "mua-xuan-tren-cao-nguyen-2025"
REPLACEMENT = "+84912000111"


@pytest.fixture(autouse=True)
def own_outbox(app, tmp_path):
    """This test's own SMS outbox (the default one is shared by the whole run)."""
    app.extensions["idp.sms"] = OutboxSms(tmp_path / "sms-outbox.jsonl")


# --------------------------------------------------------------------------- driving

def text(response) -> str:
    return response.get_data(as_text=True)


def post_page(client, page, **data):
    html = text(page)
    return client.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                                **data})


def submit_code(app, client, page, phone):
    return post_page(client, page, otp=last_code(app, phone), action="verify")


def full_login(app, client, login_page, person):
    """Password + SMS code on a login flow page; returns the 303 ending the flow."""
    r = login_form_submit(client, text(login_page), person.id_number, person.password)
    assert r.status_code == 303, text(r)[:500]
    r = submit_code(app, client, client.get(r.headers["Location"]), person.phone)
    assert r.status_code == 303, text(r)[:500]
    return r


def portal_loa2_login(app, client, person):
    """A portal asks for LoA2 and `person` logs in on this browser; returns the code query."""
    page = follow_to_login(client, authorize(client, auth_params(
        challenge=pkce_pair()[1], acr_values="LoA2")))
    r = full_login(app, client, page, person)
    assert "/authorize/resume/" in r.headers["Location"]
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and r.headers["Location"].startswith(PORTAL_CB)
    return query(r.headers["Location"])


def account_login(app, client, path="/account/"):
    r = client.get(path)
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    r = full_login(app, client, client.get(r.headers["Location"]), CITIZEN)
    assert "/account/reauth/" in r.headers["Location"]
    r = client.get(r.headers["Location"])
    assert r.status_code == 303 and r.headers["Location"] == path
    return r


def reauth_nonce(app) -> str:
    [key] = ephemeral_keys(app, "acct-reauth:")
    return key.split(":", 1)[1]


def recover_own_password(app, client, recover_page, person):
    """The recovery flow to the end for `person`; returns the 303 that ends it."""
    html = text(recover_page)
    answer = text(client.get(f"/_test/captcha/{hidden(html, 'captcha_id')}"))
    r = post_page(client, recover_page, id_number=person.id_number,
                  captcha_id=hidden(html, "captcha_id"), captcha=answer, action="send")
    assert r.status_code == 303, text(r)[:500]
    r = submit_code(app, client, client.get(r.headers["Location"]), person.phone)
    assert r.status_code == 303, text(r)[:500]
    page = client.get(r.headers["Location"])
    r = post_page(client, page, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD,
                  action="save")
    assert r.status_code == 303, text(r)[:500]
    return r


def flask_session(client) -> dict:
    with client.session_transaction() as sess:
        return dict(sess)


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("idp_s")
    return cookie.value if cookie is not None else None


def needs_reauth(client, path="/account/phones/new") -> bool:
    r = client.get(path)
    return r.status_code == 303 and r.headers["Location"].startswith("/flows/") and \
        'name="password"' in text(client.get(r.headers["Location"]))


# --------------------------------------------------------------------------- (a) the replay

def test_shared_browser_replay_of_a_recovery_handed_over_reauth_marks_nothing(app, client):
    # The attacker, nobody logged in: "add phone" -> the account page's login flow.
    r = client.get("/account/phones/new")
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    login_page = client.get(r.headers["Location"])
    nonce = reauth_nonce(app)  # the strongest attacker: knows the address from the start
    # "Quên mật khẩu?" for the attacker's own ID number, to the end.
    link = re.search(r'href="(/recover/from/[^"]+)"', text(login_page)).group(1)
    r = client.get(link)
    assert r.status_code == 303
    r = recover_own_password(app, client, client.get(r.headers["Location"]), CITIZEN2)
    end_of_recovery = r.headers["Location"]  # not followed

    # The victim logs in at LoA2 on the same browser, for a portal.
    portal_loa2_login(app, client, CITIZEN)
    # The attacker presents the kept address: the victim's session is not marked fresh.
    r = client.get(f"/account/reauth/{nonce}")
    assert r.status_code == 303 and r.headers["Location"] == "/account/"
    assert needs_reauth(client, "/account/phones/new")
    # Replacing the default phone (the link on the account page) still asks for the login,
    # by GET and by POST, and no code goes to the attacker's number.
    overview = client.get("/account/")
    assert overview.status_code == 200  # the victim's LoA2 session, viewing only
    change = re.search(r'href="(/account/phones/new\?replace=\d+)"', text(overview)).group(1)
    assert needs_reauth(client, change)
    html = text(client.get("/logout"))  # any page of ours with the session's CSRF token
    r = client.post(change, data={"csrf_token": hidden(html, "csrf_token"),
                                  "phone": "0" + REPLACEMENT[3:]})
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    assert [m for m in outbox(app) if m["to"] == REPLACEMENT] == []
    # Nor is the address handed out by the recovery: it ends on the account page.
    assert end_of_recovery == "/account/"
    assert needs_reauth(client, "/account/password")


def test_a_login_flow_left_open_is_not_credited_with_a_later_portal_login(app, client):
    r = client.get("/account/password")
    client.get(r.headers["Location"])  # the login page, left unfinished
    nonce = reauth_nonce(app)
    portal_loa2_login(app, client, CITIZEN)
    r = client.get(f"/account/reauth/{nonce}")
    assert r.headers["Location"] == "/account/"
    assert needs_reauth(client, "/account/password")


def test_the_flow_must_log_in_the_expected_citizen(app, client, monkeypatch):
    """A re-authentication asked of citizen A's session and finished by B marks nothing."""
    account_login(app, client)
    monkeypatch.setattr(access, "now", lambda: time.time() + access.FRESH_AUTH_SECONDS + 1)
    r = client.get("/account/password")  # stale: the login flow, hinted for CITIZEN
    assert r.status_code == 303
    monkeypatch.undo()
    r = full_login(app, client, client.get(r.headers["Location"]), CITIZEN2)
    r = client.get(r.headers["Location"])
    assert r.headers["Location"] == "/account/"
    assert needs_reauth(client, "/account/password")


# --------------------------------------------------------------------------- (b) once

def test_the_reauth_record_and_the_completion_are_consumed_once(app, client):
    r = client.get("/account/password")
    r = full_login(app, client, client.get(r.headers["Location"]), CITIZEN)
    reauth = r.headers["Location"]
    assert len(ephemeral_keys(app, "flow-done:")) == 1
    assert client.get(reauth).headers["Location"] == "/account/password"
    assert client.get("/account/password").status_code == 200
    assert ephemeral_keys(app, "acct-reauth:") == [] and ephemeral_keys(app, "flow-done:") == []
    assert client.get(reauth).headers["Location"] == "/account/"  # used up
    assert client.get("/account/reauth/" + "A" * 32).headers["Location"] == "/account/"


def test_portal_logins_leave_no_completion_record(app, client):
    portal_loa2_login(app, client, CITIZEN)
    assert ephemeral_keys(app, "flow-done:") == []


# --------------------------------------------------------------------------- (c) hand-over

@pytest.mark.parametrize("way", ["/recover/from/", "/register/from/"])
def test_handing_the_login_over_cancels_the_reauth(app, client, way):
    r = client.get("/account/phones/new")
    flow_id = r.headers["Location"].rsplit("/", 1)[1]
    assert len(ephemeral_keys(app, "acct-reauth:")) == 1
    r = client.get(way + flow_id)
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    assert ephemeral_keys(app, "acct-reauth:") == []
    store = app.extensions["idp.store"]
    with app.app_context():
        new_flow = store.get("flow:" + r.headers["Location"].rsplit("/", 1)[1])
        pending = store.get("pending:" + new_flow["pending"])
    assert pending["return_to"] == "/account/"
    assert "handover" not in pending and "record_completion" not in pending


# --------------------------------------------------------------------------- (d) renewal

def test_login_and_logout_renew_the_binding_the_flask_session_and_the_csrf_token(app, client):
    page = follow_to_login(client, authorize(client, auth_params(challenge=pkce_pair()[1])))
    before, cookie_before = flask_session(client), session_cookie(client)
    assert before.get("bid") and before.get("csrf_token") and cookie_before
    r = login_form_submit(client, text(page), CITIZEN.id_number, CITIZEN.password,
                          second_factor=True)
    assert r.status_code == 303
    r = client.get(r.headers["Location"])  # the resume of the login's own authorization
    assert r.status_code == 302 and "code" in query(r.headers["Location"])
    client.get("/logout")  # the confirmation page: a CSRF token of the new session
    after_login = flask_session(client)
    assert after_login["bid"] != before["bid"]
    assert after_login["csrf_token"] != before["csrf_token"]
    assert session_cookie(client) != cookie_before

    html = text(client.get("/logout"))
    r = client.post("/logout", data={"csrf_token": hidden(html, "csrf_token"), "confirm": "1"})
    assert r.status_code == 200 and "Bạn đã đăng xuất" in text(r)
    after_logout = flask_session(client)
    assert after_logout.get("bid") and after_logout["bid"] != after_login["bid"]
    assert after_logout.get("csrf_token") != after_login["csrf_token"]
    # The old token no longer passes the CSRF check.
    r = client.post("/logout", data={"csrf_token": hidden(html, "csrf_token"), "confirm": "1"})
    assert r.status_code == 400


def test_flows_and_pending_authorizations_from_before_a_login_are_gone(app, client):
    first = follow_to_login(client, authorize(client, auth_params(challenge=pkce_pair()[1])))
    first_flow = form_action(text(first))
    store = app.extensions["idp.store"]
    with app.app_context():
        first_uid = store.get("flow:" + first_flow.rsplit("/", 1)[1])["pending"]
    second = follow_to_login(client, authorize(client, auth_params(challenge=pkce_pair()[1])))
    r = login_form_submit(client, text(second), CITIZEN.id_number, CITIZEN.password,
                          second_factor=True)
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and "code" in query(r.headers["Location"])  # resume works
    assert client.get(first_flow).status_code == 410
    r = login_form_submit(client, text(first), CITIZEN.id_number, CITIZEN.password)
    assert r.status_code in (400, 410)
    r = client.get(f"/authorize/resume/{first_uid}")
    assert r.status_code == 400 and "code=" not in r.headers.get("Location", "")


def loa1_deployment(database_url):
    """A browser of a deployment that lowered login_min_acr to LoA1 (a password-only session
    to step up from; test_login_level.py has the default, LoA2)."""
    from tests.support.apps import make_app
    return make_app(database_url, login_min_acr="LoA1")


def test_a_flow_from_before_a_logout_is_gone(database_url):
    client = loa1_deployment(database_url).test_client()
    login_and_get_code(client, auth_params(challenge=pkce_pair()[1]))  # LoA1
    r = client.get("/account/")  # step-up flow
    flow_url = r.headers["Location"]
    assert client.get(flow_url).status_code == 200
    html = text(client.get("/logout"))
    client.post("/logout", data={"csrf_token": hidden(html, "csrf_token"), "confirm": "1"})
    assert client.get(flow_url).status_code == 410


def test_second_factor_login_and_account_reauth_still_work(app, client):
    code = portal_loa2_login(app, client, CITIZEN)
    assert code.get("code")
    account_login(app, client, "/account/password")
    assert client.get("/account/password").status_code == 200
    assert not needs_reauth(client, "/account/phones/new")


def test_a_step_up_resumes_its_own_authorization(database_url):
    app = loa1_deployment(database_url)
    client = app.test_client()
    login_and_get_code(client, auth_params(challenge=pkce_pair()[1]))  # LoA1
    r = authorize(client, auth_params(challenge=pkce_pair()[1], acr_values="LoA2"))
    assert r.status_code == 303
    page = client.get(r.headers["Location"])
    assert 'name="otp"' in text(page)
    r = submit_code(app, client, page, CITIZEN.phone)
    assert r.status_code == 303 and "/authorize/resume/" in r.headers["Location"]
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and "code" in query(r.headers["Location"])

