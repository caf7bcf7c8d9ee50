"""The authorization request by hand, with a Flask test client as the browser and the portal:
PKCE, the parameters, `/authorize`, the login form (captcha answered through the test hook,
the SMS code read from the gateway fake) and `/token`. `tests.support.driver` strings these
together; tests that probe one step use them directly."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode, urlsplit

from idp.platform.db import db
from idp.platform.masking import mask_phone
from idp.platform.models import Citizen
from tests.support.pages import form_action, hidden, query
from tests.support.people import CITIZEN, PORTAL_CB, SECRET, Person
from tests.support.sms import last_code


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    return verifier, challenge


def auth_params(client_id="portal", redirect_uri=PORTAL_CB, scope="openid profile",
                challenge=None, **extra) -> dict:
    """An authorization request's parameters with a fresh state and nonce (None drops one)."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": scope, "state": secrets.token_urlsafe(8),
              "nonce": "n-" + secrets.token_hex(4),
              "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


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
    from idp.accounts.factors import phones
    with app.app_context():
        citizen = db.session.query(Citizen).filter_by(id_number=id_number).one()
        numbers = phones(citizen)
    shown = [phone for phone in numbers if mask_phone(phone) in html]
    if len(shown) == 1 or len(numbers) == 1:
        return (shown or numbers)[0]
    raise AssertionError(f"cannot tell which of {numbers} the code page means")


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


def basic(client_id="portal", secret=SECRET) -> dict:
    """The portal's HTTP Basic client authentication header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def token_request(client, code: str, verifier: str | None, client_id="portal",
                  redirect_uri=PORTAL_CB, secret=SECRET, auth="basic"):
    """POST /token for `code` (auth: "basic", "post" or anything else for a public client)."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    headers = {}
    if auth == "basic":
        headers.update(basic(client_id, secret))
    elif auth == "post":
        data.update(client_id=client_id, client_secret=secret)
    else:
        data["client_id"] = client_id
    return client.post("/token", data=data, headers=headers)


def get_tokens(client, client_id="portal", redirect_uri=PORTAL_CB,
               scope="openid profile offline_access", auth="basic", **extra):
    """A full login and code exchange; (token response, authorization params, callback query)."""
    verifier, challenge = pkce_pair()
    params = auth_params(client_id=client_id, redirect_uri=redirect_uri, scope=scope,
                         challenge=challenge, **extra)
    q = login_and_get_code(client, params)
    r = token_request(client, q["code"], verifier, client_id=client_id,
                      redirect_uri=redirect_uri, auth=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json(), params, q
