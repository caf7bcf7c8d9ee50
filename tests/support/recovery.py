"""The forgot-password flow's steps ("Quên mật khẩu?", flows/recover.py) over HTTP with a
Flask test client: start (standalone or from the login page), identify, code, new password.
Shared by tests/test_recover.py, test_complaints.py and test_logout.py."""
from __future__ import annotations

import re

from tests.support.oidc import auth_params, authorize, follow_to_login, pkce_pair
from tests.support.pages import form_action, hidden
from tests.support.people import CITIZEN
from tests.support.sms import deliver_outbox, last_code

NEW_PASSWORD = "mua-xuan-tren-cao-nguyen-2025"


def html(response) -> str:
    return response.get_data(as_text=True)


def start_standalone(client):
    r = client.get("/recover")
    assert r.status_code == 303 and "/flows/" in r.headers["Location"]
    page = client.get(r.headers["Location"])
    assert page.status_code == 200 and 'name="id_number"' in html(page)
    return page


def start_from_login(client, params=None):
    page = follow_to_login(client, authorize(client, params or auth_params(
        challenge=pkce_pair()[1])))
    link = re.search(r'href="(/recover/from/[^"]+)"', html(page))
    assert link, "no “Quên mật khẩu?” link on the login page"
    assert "Quên mật khẩu?" in html(page)
    r = client.get(link.group(1))
    assert r.status_code == 303
    return client.get(r.headers["Location"])


def captcha_answer(client, page) -> str:
    return html(client.get(f"/_test/captcha/{hidden(html(page), 'captcha_id')}"))


def submit_identify(client, page, id_number, answer=None, captcha_id=None):
    text = html(page)
    return client.post(form_action(text), data={
        "csrf_token": hidden(text, "csrf_token"), "id_number": id_number,
        "captcha_id": captcha_id or hidden(text, "captcha_id"),
        "captcha": captcha_answer(client, page) if answer is None else answer,
        "action": "send"})


def post_flow(client, page, **data):
    text = html(page)
    return client.post(form_action(text), data={"csrf_token": hidden(text, "csrf_token"),
                                                **data})


def to_code_page(client, id_number, page=None):
    page = page or start_standalone(client)
    r = submit_identify(client, page, id_number)
    assert r.status_code == 303, html(r)[:500]
    code_page = client.get(r.headers["Location"])
    assert 'name="otp"' in html(code_page)
    return code_page


def to_password_page(app, client, person=CITIZEN, page=None):
    code_page = to_code_page(client, person.id_number, page)
    r = post_flow(client, code_page, otp=last_code(app, person.phone), action="verify")
    assert r.status_code == 303, html(r)[:500]
    page = client.get(r.headers["Location"])
    assert 'name="password_confirm"' in html(page)
    return page


def set_password(client, page, password=NEW_PASSWORD, confirm=None):
    return post_flow(client, page, password=password,
                     password_confirm=password if confirm is None else confirm, action="save")


def reset(app, client, person=CITIZEN, password=NEW_PASSWORD):
    r = set_password(client, to_password_page(app, client, person), password)
    assert r.status_code == 303 and r.headers["Location"] == "/recover/done", html(r)[:500]
    deliver_outbox(app)  # the notice and logout tokens, as a worker sends them
    return r
