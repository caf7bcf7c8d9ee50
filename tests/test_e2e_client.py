"""End to end over real HTTP: Authlib's *client*, as a portal uses it, logs a citizen in via
discovery, code + PKCE (S256), verifies the ID token against the JWKS, calls userinfo, and
refreshes."""
from __future__ import annotations

import re
from urllib.parse import urljoin

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import CITIZEN, PORTAL_CB, SECRET, hidden


def sms_code(app, phone: str) -> str:
    """The code of the newest SMS to `phone` (login codes are sent at once, not queued)."""
    messages = [m for m in app.extensions["idp.sms"].read(limit=10 ** 6) if m["to"] == phone]
    return re.search(r"\b([0-9]{6})\b", messages[-1]["text"]).group(1)


def browser_login(browser: requests.Session, url: str, issuer: str, app) -> str:
    """Play the citizen's browser until the IdP redirects to the portal; return that URL.
    After the password comes the SMS code page (login_min_acr LoA2): the code is read from
    the outbox, as the benchmark reads it."""
    r = browser.get(url, allow_redirects=False)
    for _ in range(10):
        if r.status_code in (302, 303):
            location = urljoin(r.url, r.headers["Location"])
            if location.startswith(PORTAL_CB):
                return location
            r = browser.get(location, allow_redirects=False)
            continue
        assert r.status_code == 200, r.text[:300]
        html = r.text
        action = urljoin(r.url, re.search(r'<form[^>]*action="([^"]+)"', html).group(1)
                         .replace("&amp;", "&"))
        if 'name="otp"' in html:
            r = browser.post(action, data={"csrf_token": hidden(html, "csrf_token"),
                                           "otp": sms_code(app, CITIZEN.phone),
                                           "action": "verify"}, allow_redirects=False)
            continue
        captcha_id = hidden(html, "captcha_id")
        answer = browser.get(f"{issuer}/_test/captcha/{captcha_id}").text
        r = browser.post(action, data={"csrf_token": hidden(html, "csrf_token"),
                                       "captcha_id": captcha_id, "captcha": answer,
                                       "username": CITIZEN.id_number,
                                       "password": CITIZEN.password}, allow_redirects=False)
    raise AssertionError("the IdP never redirected back to the portal")


def test_authlib_client_logs_in_with_discovery_pkce_and_verifies_id_token(live_idp):
    issuer, app = live_idp
    meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == issuer

    portal = OAuth2Session("portal", SECRET, scope="openid profile phone offline_access",
                           redirect_uri=PORTAL_CB, code_challenge_method="S256",
                           token_endpoint_auth_method="client_secret_basic")
    import secrets
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    url, state = portal.create_authorization_url(meta["authorization_endpoint"],
                                                 code_verifier=verifier, nonce=nonce,
                                                 acr_values="LoA1")
    callback = browser_login(requests.Session(), url, issuer, app)
    assert f"state={state}" in callback and f"iss={requests.utils.quote(issuer, safe='')}" in \
        callback

    token = portal.fetch_token(meta["token_endpoint"], authorization_response=callback,
                               code_verifier=verifier)
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
    decoded = jwt.decode(token["id_token"], keys, algorithms=["ES256", "RS256"])
    claims = CodeIDToken(decoded.claims, decoded.header,
                         {"iss": {"essential": True, "value": issuer},
                          "aud": {"essential": True, "value": "portal"}},
                         {"nonce": nonce, "client_id": "portal",
                          "access_token": token["access_token"]})
    claims.validate(leeway=5)
    # The portal asked LoA1; every login reaches login_min_acr (LoA2), and the token says so.
    assert claims["iss"] == issuer and claims["acr"] == "LoA2"
    assert {"pwd", "sms", "mfa"} <= set(claims["amr"])

    info = portal.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"] and info["name"] == CITIZEN.full_name

    refreshed = portal.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert jwt.decode(refreshed["id_token"], keys, algorithms=["ES256"]).claims["sub"] == \
        claims["sub"]
