"""Driving the IdP over HTTP through the load balancer, as a citizen's browser and as a portal's
back end: every request carries an `X-Test-Step` tag that nginx logs next to the node that
served it, so a test can show which node answered each step.

The page-level helpers (`hidden`, `form_action`, `query`, `pkce_pair`) are the unit tests'
(tests/support); the SMS codes come from the fake carrier instead of the outbox file.
"""
from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import random
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.oidc import pkce_pair
from tests.support.pages import form_action, hidden, query

DAKLAK = {"client_id": "dvc-daklak", "secret": "daklak-portal-demo-secret-2f6c9e81b4a7d035",
          "redirect_uri": "http://127.0.0.1:5001/auth/callback",
          "post_logout_redirect_uri": "http://127.0.0.1:5001/"}
QUOCGIA = {"client_id": "dvc-quocgia", "secret": "quocgia-portal-demo-secret-8d1e47b2c9f05a63",
           "redirect_uri": "http://127.0.0.1:5002/auth/callback",
           "post_logout_redirect_uri": "http://127.0.0.1:5002/"}


@dataclass(frozen=True)
class Citizen:
    id_number: str
    password: str
    phone: str  # E.164
    full_name: str = ""
    birth_date: str = ""
    gender: str = ""


# The demo citizens (idp/data/demo_citizens.jsonl), one per test module so that sessions,
# cooldowns and counters of one test never meet another's.
AN = Citizen("066085004217", "voi-rung-mua-xuan-42", "+84941234947")
NGOC = Citizen("066192018305", "hoa-ca-phe-no-trang-17", "+84352718406")
MINH = Citizen("054078102556", "ghenh-da-dia-song-ba-9", "+84905613728")
HA = Citizen("001303044189", "ho-guom-thap-rua-sang-3", "+84867245190")
LINH = Citizen("066300517342", "bon-don-cong-chieng-58", "+84583902114")
DEMO_IDS = [c.id_number for c in (AN, NGOC, MINH, HA, LINH)]

_tags = itertools.count(1)


class Agent(requests.Session):
    """A requests.Session whose every request is tagged for the load balancer's log."""

    def __init__(self, base: str, name: str):
        super().__init__()
        self.base, self.name = base, name
        self.tags: list[str] = []

    def request(self, method, url, *args, **kwargs):
        tag = f"{self.name}-{next(_tags)}"
        self.tags.append(tag)
        headers = dict(kwargs.pop("headers", None) or {}, **{"X-Test-Step": tag})
        kwargs["allow_redirects"] = False  # redirects are followed explicitly (follow)
        kwargs.setdefault("timeout", 30)
        return super().request(method, urljoin(self.base + "/", url), *args, headers=headers,
                               **kwargs)

    def follow(self, response, limit: int = 5):
        """Follow redirects that stay on the IdP."""
        for _ in range(limit):
            if response.status_code not in (301, 302, 303):
                return response
            location = urljoin(response.url, response.headers["Location"])
            if not location.startswith(self.base + "/"):
                return response
            response = self.get(location)
        return response

    def post_form(self, page, **data):
        """Submit the POST form of `page` with its CSRF token and `data`."""
        html = page.text
        return self.post(urljoin(page.url, form_action(html)),
                         data={"csrf_token": hidden(html, "csrf_token"), **data})

    def captcha(self, page) -> dict:
        captcha_id = hidden(page.text, "captcha_id")
        answer = self.get(f"/_test/captcha/{captcha_id}")
        assert answer.status_code == 200, answer.text[:300]
        return {"captcha_id": captcha_id, "captcha": answer.text}


@dataclass
class Authorization:
    params: dict
    verifier: str
    code: str | None = None
    response: dict = field(default_factory=dict)


def authorization_params(client=DAKLAK, scope="openid profile phone offline_access",
                         acr="LoA2", **extra) -> tuple[dict, str]:
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client["client_id"],
              "redirect_uri": client["redirect_uri"], "scope": scope,
              "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
              "code_challenge": challenge, "code_challenge_method": "S256"}
    if acr:
        params["acr_values"] = acr
    params.update(extra)
    return params, verifier


def start_login(browser: Agent, client=DAKLAK, **kw) -> tuple[Authorization, requests.Response]:
    """GET /authorize and follow to the login page."""
    params, verifier = authorization_params(client, **kw)
    page = browser.follow(browser.get("/authorize?" + urlencode(params)))
    return Authorization(params, verifier), page


def submit_password(browser: Agent, page, citizen: Citizen):
    assert 'name="password"' in page.text, (page.status_code, page.text[:500])
    return browser.post_form(page, username=citizen.id_number, password=citizen.password,
                             action="login", **browser.captcha(page))


def to_otp_page(browser: Agent, citizen: Citizen, client=DAKLAK, **kw):
    """Login up to the SMS code page (the SMS is sent when that page is first shown)."""
    auth, page = start_login(browser, client, **kw)
    r = submit_password(browser, page, citizen)
    assert r.status_code == 303, r.text[:800]
    return auth, browser.get(r.headers["Location"])


def finish(browser: Agent, auth: Authorization, response) -> Authorization:
    """From the flow's last redirect to the code at the portal's redirect URI."""
    r = browser.follow(response)
    assert r.status_code == 302, r.text[:800]
    location = r.headers["Location"]
    assert location.startswith(auth.params["redirect_uri"]), location
    auth.response = query(location)
    assert auth.response.get("state") == auth.params["state"], auth.response
    auth.code = auth.response.get("code")
    assert auth.code, auth.response
    return auth


def submit_otp(browser: Agent, page, code: str):
    return browser.post_form(page, otp=code, action="verify")


def login(browser: Agent, carrier, citizen: Citizen, client=DAKLAK, **kw) -> Authorization:
    """Complete LoA2 login: ID number + password + captcha, then the SMS code."""
    before = carrier.count()
    auth, page = to_otp_page(browser, citizen, client, **kw)
    assert page.status_code == 200 and 'name="otp"' in page.text, page.text[:800]
    r = submit_otp(browser, page, carrier.code_for(citizen.phone, before))
    assert r.status_code == 303, r.text[:800]
    return finish(browser, auth, r)


# --------------------------------------------------------------------------- portal back end

def basic(client) -> dict:
    raw = f"{client['client_id']}:{client['secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def redeem(portal: Agent, auth: Authorization, client=DAKLAK):
    return portal.post("/token", headers=basic(client), data={
        "grant_type": "authorization_code", "code": auth.code,
        "redirect_uri": auth.params["redirect_uri"], "code_verifier": auth.verifier})


def refresh(portal: Agent, refresh_token: str, client=DAKLAK):
    return portal.post("/token", headers=basic(client),
                       data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def userinfo(portal: Agent, access_token: str):
    return portal.get("/userinfo", headers={"Authorization": "Bearer " + access_token})


def jwt_header(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def verify_jwt(token: str, jwks: dict) -> dict:
    """Claims of a JWT verified against a JWK set (raises when no key verifies it)."""
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256", "RS256"]).claims


# --------------------------------------------------------------------------- registration

REGISTRATION_PASSWORD = "doi-thong-xanh-ngat-tren-nui-2025"


def new_subscriber(carrier, known: bool = True) -> Citizen:
    """A person without an account whose mobile subscription the carrier has on record (a
    valid CCCD for a woman born in 1990-1999 and a VinaPhone number, both random)."""
    rnd = random.SystemRandom()
    birth = dt.date(1990, 1, 1) + dt.timedelta(days=rnd.randrange(3650))
    id_number = f"0661{birth.year % 100:02d}{rnd.randrange(10 ** 6):06d}"
    phone = f"+8491{rnd.randrange(10 ** 7):07d}"
    person = Citizen(id_number, REGISTRATION_PASSWORD, phone, "Vũ Thị Thu Hà",
                     birth.isoformat(), "female")
    if known:
        carrier.add_subscriber(phone, id_number, person.full_name, person.birth_date)
    return person


def start_registration(browser: Agent, client=DAKLAK):
    """prompt=create up to the registration form."""
    auth, page = start_login(browser, client, prompt="create")
    assert 'name="account_type"' in page.text, page.text[:500]
    r = browser.post_form(page, account_type="citizen", method="mobile", action="choose")
    assert r.status_code == 303, r.text[:500]
    page = browser.get(r.headers["Location"])
    assert 'name="full_name"' in page.text, page.text[:500]
    return auth, page


def submit_registration(browser: Agent, page, person: Citizen):
    national = "0" + person.phone[3:]
    return browser.post_form(page, full_name=person.full_name, id_number=person.id_number,
                             birth_date=person.birth_date, gender=person.gender, phone=national,
                             email="", consent="yes", action="register",
                             **browser.captcha(page))


def register_to_code(browser: Agent, carrier, person: Citizen):
    """Registration up to the code page; returns (authorization, code page, SMS code)."""
    auth, page = start_registration(browser)
    before = carrier.count()
    r = submit_registration(browser, page, person)
    assert r.status_code == 303, r.text[:800]
    page = browser.get(r.headers["Location"])
    assert 'name="otp"' in page.text, page.text[:500]
    return auth, page, carrier.code_for(person.phone, before)


def set_password(browser: Agent, page, password: str = REGISTRATION_PASSWORD):
    """The password, then "Tiếp tục" on "Đăng ký thành công" when that is where it leads
    (issue 12 item 3); returns the last answer."""
    assert 'name="password_confirm"' in page.text, page.text[:800]
    r = browser.post_form(page, password=password, password_confirm=password, action="save")
    if r.status_code != 303:
        return r
    done = browser.get(r.headers["Location"])
    if 'value="continue"' not in done.text:
        return r
    return browser.post_form(done, action="continue")
