"""End to end over real HTTP at LoA2 (issue 4 "Show"): Authlib's client asks
acr_values=LoA2; the citizen's browser logs in with password + captcha (test hook) and then
the SMS code, read from the outbox the way the benchmark reads it; the ID token, verified
against the JWKS, says acr=LoA2 and amr contains pwd and sms."""
from __future__ import annotations

import re
import secrets
from urllib.parse import urljoin

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import CITIZEN, PORTAL_CB, SECRET, hidden


def outbox_code(app, phone: str, already: int) -> str:
    """The code of the one SMS sent to `phone` since the outbox held `already` of them."""
    messages = [m for m in app.extensions["idp.sms"].read(limit=10 ** 6) if m["to"] == phone]
    assert len(messages) == already + 1, messages[already:]
    return re.search(r"\b([0-9]{6})\b", messages[-1]["text"]).group(1)


def browser_login(browser: requests.Session, url: str, issuer: str, app) -> tuple[str, list]:
    """Play the citizen's browser until the IdP redirects to the portal. Returns that URL and
    the pages passed ("login", "otp")."""
    already = len([m for m in app.extensions["idp.sms"].read(limit=10 ** 6)
                   if m["to"] == CITIZEN.phone])
    pages = []
    r = browser.get(url, allow_redirects=False)
    for _ in range(12):
        if r.status_code in (302, 303):
            location = urljoin(r.url, r.headers["Location"])
            if location.startswith(PORTAL_CB):
                return location, pages
            r = browser.get(location, allow_redirects=False)
            continue
        assert r.status_code == 200, r.text[:500]
        html = r.text
        action = urljoin(r.url, re.search(r'<form[^>]*action="([^"]+)"', html).group(1)
                         .replace("&amp;", "&"))
        data = {"csrf_token": hidden(html, "csrf_token")}
        if 'name="password"' in html:
            pages.append("login")
            captcha_id = hidden(html, "captcha_id")
            data.update(captcha_id=captcha_id,
                        captcha=browser.get(f"{issuer}/_test/captcha/{captcha_id}").text,
                        username=CITIZEN.id_number, password=CITIZEN.password)
        elif 'name="otp"' in html:
            pages.append("otp")
            assert "0941xxx947" in html
            data.update(otp=outbox_code(app, CITIZEN.phone, already), action="verify")
        else:
            raise AssertionError("unexpected page: " + html[:500])
        r = browser.post(action, data=data, allow_redirects=False)
    raise AssertionError("the IdP never redirected back to the portal")


def test_authlib_client_gets_loa2_with_password_and_sms_code(live_idp):
    issuer, app = live_idp
    meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=5).json()
    assert "LoA2" in meta["acr_values_supported"]
    portal = OAuth2Session("portal", SECRET, scope="openid profile phone",
                           redirect_uri=PORTAL_CB, code_challenge_method="S256",
                           token_endpoint_auth_method="client_secret_basic")
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    url, state = portal.create_authorization_url(meta["authorization_endpoint"],
                                                 code_verifier=verifier, nonce=nonce,
                                                 acr_values="LoA2")
    callback, pages = browser_login(requests.Session(), url, issuer, app)
    assert pages == ["login", "otp"]
    assert f"state={state}" in callback

    token = portal.fetch_token(meta["token_endpoint"], authorization_response=callback,
                               code_verifier=verifier)
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
    decoded = jwt.decode(token["id_token"], keys, algorithms=["ES256", "RS256"])
    claims = CodeIDToken(decoded.claims, decoded.header,
                         {"iss": {"essential": True, "value": issuer},
                          "aud": {"essential": True, "value": "portal"},
                          "acr": {"essential": True, "values": ["LoA2"]}},
                         {"nonce": nonce, "client_id": "portal",
                          "access_token": token["access_token"]})
    claims.validate(leeway=5)
    assert claims["acr"] == "LoA2"
    assert {"pwd", "sms"} <= set(claims["amr"])
    info = portal.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"] and info["phone_number"] == CITIZEN.phone


def test_the_code_from_the_outbox_is_the_only_way_past_the_otp_page(live_idp):
    """The same browser without the code: a wrong one is refused, and no redirect to the
    portal happens."""
    issuer, app = live_idp
    portal = OAuth2Session("portal", SECRET, scope="openid", redirect_uri=PORTAL_CB,
                           code_challenge_method="S256")
    url, _ = portal.create_authorization_url(issuer + "/authorize",
                                             code_verifier=secrets.token_urlsafe(48),
                                             nonce="n", acr_values="LoA2")
    browser = requests.Session()
    r = browser.get(url)  # follows to the login page
    html = r.text
    captcha_id = hidden(html, "captcha_id")
    r = browser.post(urljoin(r.url, re.search(r'action="([^"]+)"', html).group(1)),
                     data={"csrf_token": hidden(html, "csrf_token"), "captcha_id": captcha_id,
                           "captcha": browser.get(f"{issuer}/_test/captcha/{captcha_id}").text,
                           "username": CITIZEN.id_number, "password": CITIZEN.password})
    assert r.status_code == 200 and 'name="otp"' in r.text
    code = app.extensions["idp.sms"].read()[-1]["text"]
    right = re.search(r"\b([0-9]{6})\b", code).group(1)
    r = browser.post(r.url, data={"csrf_token": hidden(r.text, "csrf_token"),
                                  "otp": f"{(int(right) + 1) % 10 ** 6:06d}",
                                  "action": "verify"}, allow_redirects=False)
    assert r.status_code == 400 and 'data-msg="otp.wrong"' in r.text
