"""Test data and a small 'browser + portal' driver for the authorization flow."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from idp.platform import keys
from idp.platform.crypto import hash_password, hash_secret
from idp.platform.db import db
from idp.platform.models import Citizen, Client, SigningKey

ISSUER = "http://127.0.0.1:5000"
PORTAL_CB = "http://127.0.0.1:5001/auth/callback"
NATIONAL_CB = "http://127.0.0.1:5002/auth/callback"
SPA_CB = "http://127.0.0.1:5003/callback"
SECRET = "portal-secret-0123456789-abcdefghijklmnop"
ALL_SCOPES = "openid profile phone email offline_access dvcqg"


@dataclass(frozen=True)
class Person:
    id_number: str
    password: str
    full_name: str
    birth_date: str
    gender: str
    phone: str


CITIZEN = Person("066089001234", "cay-ca-phe-buon-ma-thuot-2024", "Nguyễn Văn An", "1989-03-15",
                 "male", "+84941234947")
CITIZEN2 = Person("001195004321", "hoa-sen-ho-tay-mua-thu", "Trần Thị Bình", "1995-11-02",
                  "female", "+84912345678")

_key_rows: list[dict] = []
_password_hashes: dict[str, str] = {}


def _clients() -> list[tuple[str, str | None, dict]]:
    return [
        ("portal", SECRET, {"client_name": "Cổng dịch vụ công tỉnh Đắk Lắk",
                            "redirect_uris": [PORTAL_CB], "scope": ALL_SCOPES,
                            "token_endpoint_auth_method": "client_secret_basic"}),
        ("portal-post", SECRET, {"client_name": "Cổng thử nghiệm (post)",
                                 "redirect_uris": [PORTAL_CB], "scope": ALL_SCOPES,
                                 "token_endpoint_auth_method": "client_secret_post"}),
        ("national", SECRET, {"client_name": "Cổng Dịch vụ công Quốc gia",
                              "redirect_uris": [NATIONAL_CB], "scope": ALL_SCOPES,
                              "id_token_signed_response_alg": "RS256"}),
        ("spa", None, {"client_name": "Ứng dụng bên thứ ba", "redirect_uris": [SPA_CB],
                       "scope": ALL_SCOPES, "token_endpoint_auth_method": "none",
                       "first_party": False}),
        ("stepup", SECRET, {"client_name": "Cổng cần LoA2", "redirect_uris": [PORTAL_CB],
                            "scope": ALL_SCOPES, "default_acr_values": ["LoA2"]}),
    ]


def seed(app) -> None:
    """Keys (generated once per test process, copied afterwards), clients, citizens."""
    if not _key_rows:
        keys.ensure_keys(app.extensions["idp.keyring"]._kek)
        _key_rows.extend({c.name: getattr(k, c.name) for c in SigningKey.__table__.columns}
                         for k in db.session.query(SigningKey).all())
    else:
        for row in _key_rows:
            db.session.add(SigningKey(**row))
    for client_id, secret, meta in _clients():
        c = Client(client_id=client_id, client_secret_hash=hash_secret(secret) if secret else None)
        c.set_metadata(meta)
        db.session.add(c)
    for i, p in enumerate((CITIZEN, CITIZEN2)):
        if p.password not in _password_hashes:
            _password_hashes[p.password] = hash_password(p.password)
        db.session.add(Citizen(sub=f"sub-{i}-{p.id_number[-4:]}", id_number=p.id_number,
                               full_name=p.full_name, birth_date=p.birth_date,
                               gender=p.gender, phone=p.phone,
                               password_hash=_password_hashes[p.password]))
    db.session.commit()
    app.extensions["idp.keyring"].invalidate()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    return verifier, challenge


def auth_params(client_id="portal", redirect_uri=PORTAL_CB, scope="openid profile",
                challenge=None, **extra) -> dict:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": scope, "state": secrets.token_urlsafe(8), "nonce": "n-" + secrets.token_hex(4),
              "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def query(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def hidden(html: str, name: str) -> str | None:
    m = re.search(r'name="%s"[^>]*value="([^"]*)"' % re.escape(name), html) or \
        re.search(r'value="([^"]*)"[^>]*name="%s"' % re.escape(name), html)
    return m.group(1) if m else None


def form_action(html: str) -> str:
    m = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post"', html, re.I) or \
        re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html, re.I)
    assert m, "no POST form on the page"
    return m.group(1).replace("&amp;", "&")


def login_form_submit(client, page_html: str, username: str, password: str,
                      captcha_answer: str | None = None, second_factor: bool = False):
    """Submit the login form on `page_html`, answering the captcha through the test hook.

    Every login reaches `login_min_acr` (LoA2 by default: the SMS code after the password),
    so a correct password is answered with a 303 to the SMS code page. With `second_factor`
    that page is followed too, the code read from the outbox (`finish_sms_step`), and the
    response is the one that ends the login (as `login_and_get_code` does)."""
    action = form_action(page_html)
    captcha_id = hidden(page_html, "captcha_id")
    if captcha_answer is None:
        captcha_answer = client.get(f"/_test/captcha/{captcha_id}").get_data(as_text=True)
    r = client.post(action, data={"csrf_token": hidden(page_html, "csrf_token"),
                                  "captcha_id": captcha_id, "captcha": captcha_answer,
                                  "username": username, "password": password,
                                  "action": "login"})
    return finish_sms_step(client, r, username) if second_factor else r


def finish_sms_step(client, response, id_number: str, **request_kw):
    """`response` answered a correct password with the SMS code page (a 303 to /flows/…):
    show that page (the code is sent), type the code from the outbox and return the answer
    (a 303 ending the login). Any other response, or a page that is not the SMS step (an
    authenticator app after a reset by SMS), is returned as it is. `request_kw` go to both
    requests (e.g. base_url, headers)."""
    location = response.headers.get("Location", "") if response.status_code == 303 else ""
    if not urlsplit(location).path.startswith("/flows/"):
        return response
    page = client.get(location, **request_kw)
    html = page.get_data(as_text=True)
    if page.status_code != 200 or 'name="otp"' not in html or 'value="resend"' not in html:
        return response
    code = last_code(client.application, _sms_phone(client.application, id_number, html))
    return client.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                                "otp": code, "action": "verify"}, **request_kw)


def _sms_phone(app, id_number: str, html: str) -> str:
    """The phone (E.164) of `id_number`'s account whose masked form the code page shows."""
    from idp.platform.audit import mask_phone
    from idp.accounts.factors import phones
    with app.app_context():
        citizen = db.session.query(Citizen).filter_by(id_number=id_number).one()
        numbers = phones(citizen)
    shown = [phone for phone in numbers if mask_phone(phone) in html]
    if len(shown) == 1 or len(numbers) == 1:
        return (shown or numbers)[0]
    raise AssertionError(f"cannot tell which of {numbers} the code page means")


def authorize(client, params: dict, method="GET"):
    if method == "GET":
        return client.get("/authorize?" + urlencode(params))
    return client.post("/authorize", data=params)


def follow_to_login(client, response):
    """From an /authorize response that starts the login flow, GET the login page."""
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return page


def login_and_get_code(client, params: dict, person: Person = CITIZEN) -> dict:
    """Full interactive login; returns the query of the final redirect to the portal."""
    r = authorize(client, params)
    page = follow_to_login(client, r)
    r = login_form_submit(client, page.get_data(as_text=True), person.id_number,
                          person.password, second_factor=True)  # login_min_acr: LoA2
    assert r.status_code == 303, r.get_data(as_text=True)[:800]
    r = client.get(r.headers["Location"])  # /authorize/resume/<uid>
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    assert r.headers["Location"].startswith(params["redirect_uri"])
    return query(r.headers["Location"])


def token_request(client, code: str, verifier: str | None, client_id="portal",
                  redirect_uri=PORTAL_CB, secret=SECRET, auth="basic"):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    headers = {}
    if auth == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(
            f"{client_id}:{secret}".encode()).decode()
    elif auth == "post":
        data.update(client_id=client_id, client_secret=secret)
    else:
        data["client_id"] = client_id
    return client.post("/token", data=data, headers=headers)


def deliver_outbox(app) -> int:
    """One worker's pass over everything due in the outbox table (idp/outbox.py), as `idp
    worker --once` does: reset codes, notices and back-channel logouts are delivered."""
    from idp.platform.outbox import Worker
    return Worker(app, name="test-worker").drain()


def outbox(app) -> list[dict]:
    """The SMS file of the `outbox` provider, after delivering the outbox table."""
    deliver_outbox(app)
    return app.extensions["idp.sms"].read(limit=1000)


def last_code(app, phone: str) -> str:
    """The 6-digit code of the newest SMS with a code to `phone` (E.164) in the outbox (a
    notice delivered from the outbox table after the code was sent may be newer)."""
    for message in reversed(outbox(app)):
        found = re.search(r"\b(\d{6})\b", message["text"]) if message["to"] == phone else None
        if found:
            return found.group(1)
    raise AssertionError(f"no SMS with a code to {phone}")


def basic(client_id="portal", secret=SECRET) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


class FrozenClock:
    """A stand-in for a module's `now`: stands still until the test advances it."""

    def __init__(self):
        self.t = time.time()

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def __call__(self) -> float:
        return self.t


def ephemeral_keys(app, prefix: str) -> list[str]:
    """Keys of the app's ephemeral store that start with `prefix` (either implementation)."""
    from sqlalchemy import select

    from idp.platform.models import Ephemeral
    from idp.platform.store import RedisStore
    store = app.extensions["idp.store"]
    with app.app_context():
        if isinstance(store, RedisStore):
            return [k[len(store.prefix):] for k in store.client.scan_iter(store.prefix + prefix + "*")]
        return list(db.session.scalars(select(Ephemeral.key).where(Ephemeral.key.like(prefix + "%"))))
