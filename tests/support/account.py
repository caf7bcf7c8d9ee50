"""The account page's steps ("Thông tin tài khoản", flows/account) with a Flask test client:
the full login it asks for, posting its forms, adding a phone, and reading its rows, events
and messages. Shared by tests/test_account.py and test_sec_notify_tx.py.

`own_outbox` is an autouse fixture: a module that imports it gets an SMS file of each test's
own."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from idp.platform.db import db
from idp.platform.models import AuditEvent, AuthMethod, Citizen
from idp.platform.sms import OutboxSms
from tests.support.oidc import login_form_submit
from tests.support.pages import form_action, hidden
from tests.support.people import CITIZEN
from tests.support.sms import last_code, outbox

NEW_PHONE = "+84912000111"


def submit_code(client, page, code, field="otp"):
    html = page.get_data(as_text=True)
    return client.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                                field: code, "action": "verify"})


def full_login_from(app, client, redirect, person=CITIZEN):
    """From a 303 into the account page's login flow: password, SMS code, back."""
    assert redirect.status_code == 303 and redirect.headers["Location"].startswith("/flows/")
    page = client.get(redirect.headers["Location"])
    html = page.get_data(as_text=True)
    assert 'name="password"' in html
    r = login_form_submit(client, html, person.id_number, person.password)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    r = submit_code(client, client.get(r.headers["Location"]), last_code(app, person.phone))
    assert r.status_code == 303 and "/account/reauth/" in r.headers["Location"]
    return client.get(r.headers["Location"])


def account_login(app, client, path="/account/"):
    r = full_login_from(app, client, client.get(path))
    assert r.status_code == 303 and r.headers["Location"] == path
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return page


def csrf(client) -> str:
    """The session's CSRF token, from an account page that has a form."""
    for path in ("/account/", "/account/password"):
        page = client.get(path)
        token = page.status_code == 200 and hidden(page.get_data(as_text=True), "csrf_token")
        if token:
            return token
    raise AssertionError("no page with a CSRF token")


def post(client, url, **data):
    data.setdefault("csrf_token", csrf(client))
    return client.post(url, data=data)


def rows(app, kind="sms"):
    with app.app_context():
        return [(m.id, m.phone, m.is_default) for m in db.session.scalars(
            select(AuthMethod).where(AuthMethod.kind == kind).order_by(AuthMethod.id))]


def citizen_phone(app):
    with app.app_context():
        return db.session.scalar(select(Citizen.phone).where(
            Citizen.id_number == CITIZEN.id_number))


def events(app, name):
    with app.app_context():
        return [json.loads(e.detail_json) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == name))]


def messages_to(app, phone):
    return [m["text"] for m in outbox(app) if m["to"] == phone]


def add_phone(app, client, phone=NEW_PHONE, replace=None):
    url = "/account/phones/new" + (f"?replace={replace}" if replace else "")
    r = post(client, url, phone="0" + phone[3:])
    assert r.status_code == 303 and r.headers["Location"] == "/account/phones/verify"
    page = client.get("/account/phones/verify")
    r = submit_code(client, page, last_code(app, phone))
    assert r.status_code == 303 and r.headers["Location"] == "/account/"
    return r


@pytest.fixture(autouse=True)
def own_outbox(app, tmp_path):
    """An outbox of this test's own (the default one is shared by every test of the run,
    whichever worker: these tests count and order messages)."""
    app.extensions["idp.sms"] = OutboxSms(tmp_path / "sms-outbox.jsonl")
