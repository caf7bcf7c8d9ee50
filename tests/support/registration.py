"""The registration flow's steps (flows/register.py) over HTTP with a Flask test client: the
KYC registry file, an app that uses it, and start → choose → form → code → password → done.
Shared by tests/test_register.py, test_register_choice.py and test_complaints.py."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from idp.platform.db import db
from idp.platform.models import Citizen
from tests.support.apps import make_app
from tests.support.oidc import auth_params, authorize, pkce_pair
from tests.support.pages import form_action, hidden
from tests.support.sms import deliver_outbox, last_code

REGISTRY = """msisdn,id_number,full_name,birth_date
0352718406,066192018305,Trần Thị Bích Ngọc,1992-11-02
+84867245190,001303044189,Phạm Thu Hà,2003-05-09
0905613728,066089001234,Nguyễn Văn An,1989-03-15
0912000111,123456789,,
0912345678,079195004444,Đỗ Thị Mai,1995-06-01
"""
NGOC = {"full_name": "Trần Thị Bích Ngọc", "id_number": "066192018305",
        "birth_date": "1992-11-02", "gender": "female", "phone": "0352718406",
        "email": "ngoc@example.vn", "consent": "yes"}
PASSWORD = "doi-thong-xanh-ngat-tren-nui-2025"


@pytest.fixture
def registry(tmp_path):
    path = tmp_path / "kyc.csv"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


@pytest.fixture
def app(database_url, registry):
    app = make_app(database_url, kyc_registry=str(registry))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def html(r) -> str:
    return r.get_data(as_text=True)


def sent(app) -> list[dict]:
    deliver_outbox(app)  # the alert to an existing account's phone goes through the outbox
    path = app.extensions["idp.sms"].path
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def citizens(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Citizen))


def post(client, page, **data):
    text = html(page)
    return client.post(form_action(text), data={"csrf_token": hidden(text, "csrf_token"),
                                                **data})


def start_create(client, params=None):
    params = params or auth_params(challenge=pkce_pair()[1], prompt="create")
    r = authorize(client, params)
    assert r.status_code == 303 and "/flows/" in r.headers["Location"], html(r)[:300]
    page = client.get(r.headers["Location"])
    assert 'name="account_type"' in html(page)
    return page


def choose(client, page, account_type="citizen", method="mobile"):
    r = post(client, page, account_type=account_type, method=method, action="choose")
    assert r.status_code == 303, html(r)[:500]
    page = client.get(r.headers["Location"])
    assert 'name="full_name"' in html(page)
    return page


def submit_form(client, page, answer=None, **fields):
    data = dict(NGOC, **fields)
    data = {k: v for k, v in data.items() if v is not None}
    text = html(page)
    if 'name="captcha_id"' not in text:  # the solved captcha still covers this submission
        return post(client, page, action="register", **data)
    if answer is None:
        answer = html(client.get(f"/_test/captcha/{hidden(text, 'captcha_id')}"))
    return post(client, page, captcha_id=hidden(text, "captcha_id"), captcha=answer,
                action="register", **data)


def to_form(client, params=None):
    return choose(client, start_create(client, params))


def to_code(client, **fields):
    r = submit_form(client, to_form(client), **fields)
    assert r.status_code == 303, html(r)[:800]
    page = client.get(r.headers["Location"])
    assert 'name="otp"' in html(page)
    return page


def verify(app, client, page, phone="+84352718406"):
    r = post(client, page, otp=last_code(app, phone), action="verify")
    assert r.status_code == 303, html(r)[:800]
    return client.get(r.headers["Location"])


def to_password(app, client, **fields):
    page = verify(app, client, to_code(client, **fields),
                  "+84" + (fields.get("phone") or NGOC["phone"])[1:])
    assert 'name="password_confirm"' in html(page), html(page)[:800]
    return page


def finish(client, page, password=PASSWORD):
    """The password, then "Tiếp tục" on "Đăng ký thành công" (issue 12 item 3); returns the
    last answer (the redirect to the authorization's resume, or the page that stayed)."""
    r = post(client, page, password=password, password_confirm=password, action="save")
    if r.status_code != 303:
        return r
    done = client.get(r.headers["Location"])
    if "Đăng ký thành công" not in html(done):
        return r
    return post(client, done, action="continue")


def error_of(r, field) -> str:
    m = re.search(r'id="%s-error"[^>]*>([^<]*)<' % field, html(r))
    return m.group(1) if m else ""
