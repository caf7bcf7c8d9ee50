"""One authorization request driven end to end, in the spirit of node-oidc-provider's test
helper `AuthorizationRequest`: it makes the PKCE pair, state and nonce, sends the browser to
`/authorize`, follows the login (captcha through the test hook, the SMS code from the gateway
fake), checks the redirect back to the portal (state, iss) and exchanges the code.

    request = AuthorizationRequest(client, scope="openid profile phone", acr_values="LoA2")
    tokens = request.run(CITIZEN)            # login and token exchange
    claims = request.id_token_claims(tokens) # (unverified) claims, nonce checked

or step by step: `request.start()`, `request.login(person)` (returns the redirect's query),
`request.exchange(code)`.
"""
from __future__ import annotations

import base64
import json
from typing import Any

from tests.support.oidc import (
    auth_params,
    authorize,
    follow_to_login,
    login_form_submit,
    pkce_pair,
    token_request,
)
from tests.support.pages import query
from tests.support.people import CITIZEN, ISSUER, PORTAL_CB, SECRET, Person


class AuthorizationRequest:
    """An authorization code request with PKCE for `client_id`, through a Flask test client
    (the browser and the portal's back end at once)."""

    def __init__(self, client, client_id: str = "portal", redirect_uri: str = PORTAL_CB,
                 scope: str = "openid profile", secret: str | None = SECRET,
                 issuer: str = ISSUER, **extra: str):
        self.client = client
        self.client_id, self.redirect_uri, self.secret, self.issuer = (
            client_id, redirect_uri, secret, issuer)
        self.verifier, challenge = pkce_pair()
        self.params = auth_params(client_id, redirect_uri, scope, challenge, **extra)
        self.state, self.nonce = self.params.get("state"), self.params.get("nonce")

    # -- the browser ------------------------------------------------------------------------

    def start(self, method: str = "GET"):
        """Send the browser to /authorize; the IdP's answer (303 to a flow, 302 to the portal)."""
        return authorize(self.client, self.params, method)

    def login(self, person: Person = CITIZEN) -> dict[str, str]:
        """From /authorize through the login (password, then the SMS code every login asks at
        login_min_acr LoA2) and the resume, to the redirect to the portal; its query."""
        page = follow_to_login(self.client, self.start())
        r = login_form_submit(self.client, page.get_data(as_text=True), person.id_number,
                              person.password, second_factor=True)
        assert r.status_code == 303, r.get_data(as_text=True)[:800]
        r = self.client.get(r.headers["Location"])  # /authorize/resume/<uid>
        return self.callback(r)

    def callback(self, response) -> dict[str, str]:
        """The redirect to the portal: checks where it goes, the state and the issuer (RFC
        9207); its query (code, or error)."""
        assert response.status_code == 302, response.get_data(as_text=True)[:800]
        location = response.headers["Location"]
        assert location.startswith(self.redirect_uri), location
        answer = query(location)
        assert answer.get("state") == self.state, answer
        assert answer.get("iss") == self.issuer, answer
        return answer

    # -- the portal's back end --------------------------------------------------------------

    def exchange(self, code: str, auth: str = "basic") -> dict[str, Any]:
        """POST /token with the code and the PKCE verifier; the token response (200 asserted)."""
        r = token_request(self.client, code, self.verifier, self.client_id, self.redirect_uri,
                          self.secret or "", auth if self.secret else "none")
        assert r.status_code == 200, r.get_data(as_text=True)[:800]
        return r.get_json()

    def run(self, person: Person = CITIZEN) -> dict[str, Any]:
        """Login and token exchange; the token response."""
        answer = self.login(person)
        assert "code" in answer, answer
        return self.exchange(answer["code"])

    def id_token_claims(self, tokens: dict[str, Any]) -> dict[str, Any]:
        """The ID token's claims, read without verifying the signature (the token tests verify
        it); the nonce is checked."""
        payload = tokens["id_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims.get("nonce") == self.nonce, claims
        return claims
