"""Registration and sign-in by certificate over HTTP (issue 15 items 4 and 5,
flows/register/certificate.py): an app trusting a test PKI served on loopback (CRL/OCSP:
tests/support/pki.py), USB tokens of the stand-in (standins/usb_token.Token) signing the
page's challenge as the plugin's signCms does, and the registration's steps choose → sign →
details → code → password → done. Shared by tests/test_register_certificate.py and
tests/test_organisation_accounts.py (which import the `served` and `app` fixtures)."""
from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from idp.platform.db import db
from idp.platform.models import AuthMethod, Citizen
from standins.usb_token import Token
from tests.support.apps import make_app
from tests.support.oidc import auth_params, authorize, pkce_pair, token_request
from tests.support.pages import form_action, hidden, query
from tests.support.pki import serve_pki
from tests.support.sms import last_code

PASSWORD = "doi-thong-xanh-ngat-tren-nui-2025"
AMR_USB = ["hwk", "sc", "pin", "mfa"]
SCOPE = "openid profile phone email dvcqg"


@pytest.fixture
def served():
    with serve_pki() as server:
        yield server


@pytest.fixture
def app(database_url, served, tmp_path):
    app = make_app(database_url, **served.settings(tmp_path / "anchors"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def html(r) -> str:
    return r.get_data(as_text=True)


def message_of(r) -> str:
    found = re.findall(r'data-msg="([a-z0-9_.]+)"', html(r))
    return found[0] if found else ""


def token_for(served, uids: tuple[str, ...], cn: str, **issue) -> Token:
    leaf = served.pki.issue(uids=uids, cn=cn, **issue)
    return Token(leaf.cert, leaf.key, list(leaf.chain))


def der_sha256(token: Token) -> str:
    from cryptography.hazmat.primitives import hashes
    return token.cert.fingerprint(hashes.SHA256()).hex()


def post(client, page, **data):
    text = html(page)
    return client.post(form_action(text), data={"csrf_token": hidden(text, "csrf_token"),
                                                **data})


def follow(client, r):
    assert r.status_code == 303, html(r)[:1500]
    return client.get(r.headers["Location"])


def start(client, account_type="citizen", method="usb_token", params=None):
    """From prompt=create to the signing page of `method` for `account_type`."""
    params = params or auth_params(challenge=pkce_pair()[1], prompt="create", scope=SCOPE)
    page = client.get(authorize(client, params).headers["Location"])
    page = follow(client, post(client, page, account_type=account_type, method=method,
                               action="choose"))
    assert method != "usb_token" or "data-usb-signer" in html(page), html(page)[:1500]
    return page


def sign(client, page, token: Token, *, tx_id: str | None = None, content: bytes | None = None):
    """What usb-signer.js does: sign the page's challenge with the token, post the fields."""
    text = html(page)
    challenge = base64.b64decode(re.search(r'data-challenge="([^"]+)"', text).group(1))
    cms = token.sign_cms(content if content is not None else challenge)
    return client.post(form_action(text), data={
        "csrf_token": hidden(text, "csrf_token"), "method": "usb",
        "tx_id": tx_id or hidden(text, "tx_id"),
        "certificate": base64.b64encode(token.cert.public_bytes(Encoding.DER)).decode(),
        "signature": base64.b64encode(cms).decode()})


def details(client, page, **fields):
    data = {"phone": "0912000333", "email": "", "consent": "yes", "action": "register",
            **fields}
    return post(client, page, **{k: v for k, v in data.items() if v is not None})


def verify(app, client, page, phone: str):
    return follow(client, post(client, page, otp=last_code(app, phone), action="verify"))


def set_password(client, page, password=PASSWORD):
    return follow(client, post(client, page, password=password, password_confirm=password,
                               action="save"))


def resume(client, done_page) -> dict:
    """"Tiếp tục" on "Đăng ký thành công", then the authorization's resume: the query of the
    redirect to the portal (code, state)."""
    r = post(client, done_page, action="continue")
    assert r.status_code == 303 and "/authorize/resume/" in r.headers["Location"], html(r)[:500]
    r = client.get(r.headers["Location"])
    assert r.status_code == 302, html(r)[:500]
    return query(r.headers["Location"])


def tokens_of(client, code: str, verifier: str) -> tuple[dict, dict]:
    """(ID token claims, userinfo) for an authorization code."""
    r = token_request(client, code, verifier)
    assert r.status_code == 200, html(r)
    body = r.get_json()
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    claims = jwt.decode(body["id_token"], keys).claims
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert info.status_code == 200, html(info)
    return claims, info.get_json()


def loa3_login(client, token: Token) -> tuple[dict, dict]:
    """A portal asking LoA3 (dvcqg scope): the USB tab signs in whoever `token` names."""
    verifier, challenge = pkce_pair()
    r = authorize(client, auth_params(challenge=challenge, acr_values="LoA3", scope=SCOPE))
    page = client.get(r.headers["Location"])
    r = sign(client, page, token)
    assert r.status_code == 303, html(r)[:1500]
    r = client.get(r.headers["Location"])
    assert r.status_code == 302, html(r)[:800]
    return tokens_of(client, query(r.headers["Location"])["code"], verifier)


def account_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Citizen))


def account(app, id_number: str) -> Citizen | None:
    with app.app_context():
        found = db.session.scalar(select(Citizen).where(Citizen.id_number == id_number))
        if found is not None:
            db.session.expunge(found)
        return found


def bindings(app, citizen_id: int | None = None) -> list[AuthMethod]:
    """The certificate bindings in use (a removed one stays as a row, marked removed)."""
    with app.app_context():
        query_ = select(AuthMethod).where(AuthMethod.kind == "cert",
                                          AuthMethod.cert_removed_at.is_(None))
        if citizen_id is not None:
            query_ = query_.where(AuthMethod.citizen_id == citizen_id)
        rows = list(db.session.scalars(query_.order_by(AuthMethod.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def certificate_reauth(client, redirect, token: Token):
    """From a 303 into the account page's login flow, by the USB tab: sign, back fresh."""
    assert redirect.status_code == 303 and redirect.headers["Location"].startswith("/flows/")
    page = client.get(redirect.headers["Location"] + "?tab=usb")
    assert "data-usb-signer" in html(page), html(page)[:1500]
    r = sign(client, page, token)
    assert r.status_code == 303 and "/account/reauth/" in r.headers["Location"], html(r)[:800]
    return client.get(r.headers["Location"])
