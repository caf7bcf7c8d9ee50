"""RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 (security-requirements §2.7, §3)."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from idp.platform.db import db
from idp.platform.models import AuditEvent, Client, OutboxMessage
from tests.support import (
    CITIZEN,
    ISSUER,
    NATIONAL_CB,
    PORTAL_CB,
    auth_params,
    authorize,
    basic,
    deliver_outbox,
    hidden,
    pkce_pair,
    query,
    token_request,
)
from tests.support.oidc import get_tokens

PORTAL_HOME = "http://127.0.0.1:5001/"
NATIONAL_HOME = "http://127.0.0.1:5002/"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
CONFIRM_TEXT = "Bạn có muốn đăng xuất khỏi hệ thống?"


# --------------------------------------------------------------------------- helpers

def register(app, client_id, **meta):
    with app.app_context():
        row = db.session.query(Client).filter_by(client_id=client_id).one()
        row.set_metadata({**row.client_metadata, **meta})
        db.session.commit()
        db.session.remove()


@pytest.fixture
def portals(app):
    register(app, "portal", post_logout_redirect_uris=[PORTAL_HOME, PORTAL_HOME + "bye?x=1"])
    register(app, "national", post_logout_redirect_uris=[NATIONAL_HOME])
    return app


@pytest.fixture(autouse=True)
def _fast_retries(app):
    """The outbox worker retries after 0.05 s, 0.1 s, ... instead of 2 s, 4 s, ..."""
    app.config["IDP"]["outbox_backoff"] = 0.05


def deliver(app, timeout: float = 30) -> bool:
    """Run outbox worker passes (as `idp worker` does) until no back-channel logout is
    pending, retries included; False if some still are after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        deliver_outbox(app)
        with app.app_context():
            pending = db.session.query(OutboxMessage).filter_by(
                kind="backchannel", state="pending").count()
            db.session.remove()
        if not pending:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unverified(token: str) -> tuple[dict, dict]:
    h, p, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(h))),
            json.loads(base64.urlsafe_b64decode(pad(p))))


def login(client, client_id="portal", redirect_uri=PORTAL_CB, scope="openid profile"):
    body, _, _ = get_tokens(client, client_id=client_id, redirect_uri=redirect_uri, scope=scope)
    return body


def sso(client, client_id="national", redirect_uri=NATIONAL_CB, scope="openid profile"):
    """A second portal while the SSO session is alive: no login page."""
    verifier, challenge = pkce_pair()
    r = authorize(client, auth_params(client_id=client_id, redirect_uri=redirect_uri,
                                      scope=scope, challenge=challenge))
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    r = token_request(client, query(r.headers["Location"])["code"], verifier,
                      client_id=client_id, redirect_uri=redirect_uri)
    assert r.status_code == 200
    return r.get_json()


def prompt_none(client, client_id="portal", redirect_uri=PORTAL_CB) -> dict:
    r = authorize(client, auth_params(client_id=client_id, redirect_uri=redirect_uri,
                                      challenge=pkce_pair()[1], prompt="none"))
    assert r.status_code == 302
    return query(r.headers["Location"])


def logged_in(client) -> bool:
    return "code" in prompt_none(client)


def logout_get(client, **params):
    return client.get("/logout?" + urlencode({k: v for k, v in params.items() if v is not None}))


def assert_no_redirect(r):
    assert r.status_code < 500
    assert r.status_code != 302 and "Location" not in r.headers


def audits(app, event):
    with app.app_context():
        rows = [json.loads(e.detail_json) | {"client_id": e.client_id}
                for e in db.session.query(AuditEvent).filter_by(event=event)]
        db.session.remove()
    return rows


class RP:
    """A portal's back-channel logout endpoint on 127.0.0.1: records POSTs and answers
    `status`, or (hang=True) holds each request until `release` is set (at most 10 s)."""

    def __init__(self, status=200, hang=False):
        self.status, self.hang = status, hang
        self.requests: list[dict] = []
        self.answered = 0
        self.received = threading.Event()
        self.release = threading.Event()
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                rp.requests.append({"path": self.path, "type": self.headers["Content-Type"],
                                    "form": parse_qs(body)})
                rp.received.set()
                if rp.hang:
                    rp.release.wait(10)
                try:
                    self.send_response(rp.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the IdP gave up waiting
                rp.answered += 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_port}/auth/backchannel-logout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tokens(self) -> list[str]:
        return [r["form"]["logout_token"][0] for r in self.requests]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rps():
    made = []

    def make(**kwargs):
        made.append(RP(**kwargs))
        return made[-1]
    yield make
    for rp in made:
        rp.close()


# --------------------------------------------------------------------------- discovery

def test_discovery_advertises_logout(client):
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["end_session_endpoint"] == ISSUER + "/logout"
    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True


# --------------------------------------------------------------------------- RP-initiated

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_valid_hint_and_registered_uri_redirect_with_state(portals, client, method):
    body = login(client)
    params = {"id_token_hint": body["id_token"], "post_logout_redirect_uri": PORTAL_HOME,
              "state": "s-123"}
    r = logout_get(client, **params) if method == "GET" else client.post("/logout", data=params)
    assert r.status_code == 302
    assert r.headers["Location"] == PORTAL_HOME + "?state=s-123"
    assert prompt_none(client)["error"] == "login_required"


def test_registered_uri_with_a_query_keeps_it_and_no_state_means_none(portals, client):
    body = login(client)
    r = logout_get(client, id_token_hint=body["id_token"],
                   post_logout_redirect_uri=PORTAL_HOME + "bye?x=1")
    assert r.status_code == 302 and r.headers["Location"] == PORTAL_HOME + "bye?x=1"
    assert prompt_none(client)["error"] == "login_required"


def test_valid_hint_without_uri_logs_out_on_an_information_page(portals, client):
    body = login(client)
    r = logout_get(client, id_token_hint=body["id_token"], state="only")
    assert r.status_code == 200 and "Bạn đã đăng xuất" in r.get_data(as_text=True)
    assert not logged_in(client)


@pytest.mark.parametrize("uri", [
    "http://127.0.0.1:5001/other",           # not registered
    PORTAL_HOME + "?foo=bar",                  # query added to a registered URI
    PORTAL_HOME.rstrip("/"),                   # not an exact match
    NATIONAL_HOME,                             # registered, but for another client
    "https://evil.example/",
])
def test_unregistered_uri_never_redirects(portals, client, uri):
    body = login(client)
    r = logout_get(client, id_token_hint=body["id_token"], post_logout_redirect_uri=uri,
                   state="s")
    assert_no_redirect(r)
    assert CONFIRM_TEXT in r.get_data(as_text=True)
    assert logged_in(client)  # not logged out silently either


def test_client_id_must_be_the_hints_audience(portals, client):
    body = login(client)
    r = logout_get(client, id_token_hint=body["id_token"], client_id="national",
                   post_logout_redirect_uri=NATIONAL_HOME)
    assert_no_redirect(r)
    assert logged_in(client)
    r = logout_get(client, id_token_hint=body["id_token"], client_id="portal",
                   post_logout_redirect_uri=PORTAL_HOME)
    assert r.status_code == 302 and r.headers["Location"] == PORTAL_HOME


def test_no_hint_asks_for_confirmation_and_the_post_needs_csrf(portals, client):
    login(client)
    r = logout_get(client, post_logout_redirect_uri=PORTAL_HOME, state="s")
    html = r.get_data(as_text=True)
    assert_no_redirect(r)
    assert r.status_code == 200 and CONFIRM_TEXT in html
    assert logged_in(client)
    # A cross-site POST (no CSRF token of ours) does not log out either.
    r = client.post("/logout", data={"confirm": "1", "post_logout_redirect_uri": PORTAL_HOME})
    assert r.status_code == 400 and logged_in(client)
    r = client.post("/logout", data={})
    assert CONFIRM_TEXT in r.get_data(as_text=True) and logged_in(client)
    # The citizen confirms: logged out, and still no redirect (no valid hint).
    html = logout_get(client).get_data(as_text=True)
    r = client.post("/logout", data={"csrf_token": hidden(html, "csrf_token"), "confirm": "1",
                                     "post_logout_redirect_uri": PORTAL_HOME})
    assert_no_redirect(r)
    assert r.status_code == 200 and "Bạn đã đăng xuất" in r.get_data(as_text=True)
    assert prompt_none(client)["error"] == "login_required"


def test_no_params_without_a_session_is_the_logged_out_page(client):
    r = client.get("/logout")
    assert r.status_code == 200 and "Bạn đã đăng xuất" in r.get_data(as_text=True)


def _foreign_key_token(claims: dict) -> str:
    key = ECKey.generate_key("P-256", parameters={"kid": "attacker"})
    return jwt.encode({"alg": "ES256", "kid": "attacker"}, claims, key)


@pytest.mark.parametrize("kind", ["alg_none", "modified", "foreign_key", "foreign_key_our_kid",
                                  "garbage", "wrong_issuer"])
def test_bad_hints_never_redirect_and_never_500(portals, client, app, kind):
    body = login(client)
    header, claims = unverified(body["id_token"])
    h, p, s = body["id_token"].split(".")
    if kind == "alg_none":
        hint = b64({"alg": "none", "typ": "JWT"}) + "." + p + "."
    elif kind == "modified":
        hint = h + "." + b64({**claims, "sid": "other"}) + "." + s
    elif kind == "foreign_key":
        hint = _foreign_key_token(claims)
    elif kind == "foreign_key_our_kid":
        key = ECKey.generate_key("P-256")
        hint = jwt.encode({"alg": "ES256", "kid": header["kid"]}, claims, key)
    elif kind == "garbage":
        hint = "x" * 3000
    else:
        with app.app_context():
            hint = app.extensions["idp.keyring"].sign({**claims, "iss": "https://evil.example"})
    r = logout_get(client, id_token_hint=hint, post_logout_redirect_uri=PORTAL_HOME, state="s")
    assert_no_redirect(r)
    assert r.status_code == 200 and CONFIRM_TEXT in r.get_data(as_text=True)
    assert logged_in(client)


def test_hint_of_another_session_asks_then_redirects(portals, app, client):
    other = app.test_client()
    other_hint = login(other)["id_token"]  # same citizen, another browser
    login(client)
    r = logout_get(client, id_token_hint=other_hint, post_logout_redirect_uri=PORTAL_HOME,
                   state="s")
    html = r.get_data(as_text=True)
    assert_no_redirect(r) and CONFIRM_TEXT in html
    assert logged_in(client) and logged_in(other)
    r = client.post("/logout", data={
        "csrf_token": hidden(html, "csrf_token"), "confirm": "1", "id_token_hint": other_hint,
        "post_logout_redirect_uri": PORTAL_HOME, "state": "s"})
    assert r.status_code == 302 and r.headers["Location"] == PORTAL_HOME + "?state=s"
    assert not logged_in(client)
    assert logged_in(other)  # the other browser's session is not this browser's to end


def test_expired_hint_is_accepted(portals, app, client):
    body = login(client)
    _, claims = unverified(body["id_token"])
    with app.app_context():
        hint = app.extensions["idp.keyring"].sign(
            {**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600})
    r = logout_get(client, id_token_hint=hint, post_logout_redirect_uri=PORTAL_HOME)
    assert r.status_code == 302 and r.headers["Location"] == PORTAL_HOME


def test_hint_signed_by_the_previous_key_after_rotation_is_accepted(portals, app, client):
    """Hydra#3719: a rotation must not turn logout into a 500 or a confirmation."""
    from idp.platform import keys as keymod
    body = login(client)
    with app.app_context():
        keymod.rotate(app.extensions["idp.keyring"]._kek)
        app.extensions["idp.keyring"].invalidate()
        db.session.remove()
    r = logout_get(client, id_token_hint=body["id_token"],
                   post_logout_redirect_uri=PORTAL_HOME, state="after-rotation")
    assert r.status_code == 302
    assert r.headers["Location"] == PORTAL_HOME + "?state=after-rotation"
    assert not logged_in(client)


def test_hint_signed_by_a_retired_key_is_no_valid_hint(portals, app, client):
    from idp.platform import keys as keymod
    body = login(client)
    kid = unverified(body["id_token"])[0]["kid"]
    with app.app_context():
        keymod.rotate(app.extensions["idp.keyring"]._kek)
        keymod.retire(kid)
        app.extensions["idp.keyring"].invalidate()
        db.session.remove()
    r = logout_get(client, id_token_hint=body["id_token"], post_logout_redirect_uri=PORTAL_HOME)
    assert_no_redirect(r)
    assert r.status_code == 200 and CONFIRM_TEXT in r.get_data(as_text=True)


def test_ui_locales(portals, client):
    login(client)
    assert '<html lang="en">' in logout_get(client, ui_locales="en-US vi").get_data(as_text=True)
    assert '<html lang="vi">' in logout_get(client, ui_locales="fr").get_data(as_text=True)


def test_logout_revokes_the_sessions_tokens_but_not_offline_grants(portals, client):
    online = login(client)  # openid profile
    offline = sso(client, scope="openid profile offline_access")
    r = logout_get(client, id_token_hint=online["id_token"])
    assert r.status_code == 200
    assert client.get("/userinfo", headers={
        "Authorization": "Bearer " + online["access_token"]}).status_code == 401
    r = client.post("/token", data={"grant_type": "refresh_token",
                                    "refresh_token": offline["refresh_token"]},
                    headers=basic("national"))
    assert r.status_code == 200, r.get_data(as_text=True)


# --------------------------------------------------------------------------- back-channel

def check_logout_token(client, token: str, client_id: str, alg: str, id_token: str):
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keyset, algorithms=[alg])
    header, claims = decoded.header, decoded.claims
    _, id_claims = unverified(id_token)
    assert header["typ"] == "logout+jwt" and header["alg"] == alg
    assert claims["iss"] == ISSUER and claims["aud"] == client_id
    t = time.time()
    assert t - 60 <= claims["iat"] <= t + 1 and claims["exp"] == claims["iat"] + 120
    assert len(claims["jti"]) >= 16
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims
    assert claims["sid"] == id_claims["sid"] and claims["sub"] == id_claims["sub"]
    return claims


def test_backchannel_logout_tokens_to_every_portal_of_the_session(portals, app, client, rps):
    portal_rp, national_rp = rps(status=204), rps(status=200)
    register(app, "portal", backchannel_logout_uri=portal_rp.uri,
             backchannel_logout_session_required=True)
    register(app, "national", backchannel_logout_uri=national_rp.uri,
             backchannel_logout_session_required=True)
    portal_tokens = login(client)
    national_tokens = sso(client)
    r = logout_get(client, id_token_hint=portal_tokens["id_token"],
                   post_logout_redirect_uri=PORTAL_HOME, state="s")
    assert r.status_code == 302 and r.headers["Location"] == PORTAL_HOME + "?state=s"
    assert deliver(app, 20)
    assert len(portal_rp.requests) == 1 and len(national_rp.requests) == 1  # 204 is success
    for rp in (portal_rp, national_rp):
        assert rp.requests[0]["type"] == "application/x-www-form-urlencoded"
        assert rp.requests[0]["path"] == "/auth/backchannel-logout"
        assert list(rp.requests[0]["form"]) == ["logout_token"]
    a = check_logout_token(client, portal_rp.tokens()[0], "portal", "ES256",
                           portal_tokens["id_token"])
    b = check_logout_token(client, national_rp.tokens()[0], "national", "RS256",
                           national_tokens["id_token"])
    assert a["jti"] != b["jti"]
    delivered = audits(app, "backchannel.delivered")
    assert sorted(d["client_id"] for d in delivered) == ["national", "portal"]
    assert all(d["attempts"] == 1 for d in delivered)
    assert prompt_none(client, "national", NATIONAL_CB)["error"] == "login_required"


def test_a_hanging_portal_does_not_delay_the_logout(portals, app, client, rps):
    hanging = rps(hang=True)  # holds each request up to 10 s, until released
    register(app, "portal", backchannel_logout_uri=hanging.uri)
    body = login(client)
    r = logout_get(client, id_token_hint=body["id_token"], post_logout_redirect_uri=PORTAL_HOME)
    # The response never waits for the portal: the logout token is an outbox row, and the
    # worker (here a thread of the test) delivers it.
    assert r.status_code == 302 and hanging.requests == []
    worker = threading.Thread(target=deliver, args=(app, 30))
    worker.start()
    assert hanging.received.wait(10)  # the delivery did start
    hanging.release.set()
    worker.join(30)
    assert audits(app, "backchannel.delivered")


def test_failing_and_hanging_portals_are_retried_a_bounded_number_of_times(portals, app,
                                                                           client, rps):
    app.config["IDP"].update(backchannel_timeout=0.3, outbox_max_attempts=3)
    failing, hanging = rps(status=500), rps(hang=True)
    register(app, "portal", backchannel_logout_uri=failing.uri)
    register(app, "national", backchannel_logout_uri=hanging.uri)
    body = login(client)
    sso(client)
    r = logout_get(client, id_token_hint=body["id_token"])
    assert r.status_code == 200 and "Bạn đã đăng xuất" in r.get_data(as_text=True)
    assert deliver(app, 30)
    assert len(failing.requests) == 3
    assert len(hanging.requests) == 3
    failed = {d["client_id"]: d for d in audits(app, "backchannel.failed")}
    assert failed["portal"]["attempts"] == 3 and failed["portal"]["result"] == "500"
    assert failed["national"]["attempts"] == 3
    assert failed["national"]["result"] in ("TimeoutError", "timeout", "socket.timeout")
    # Each attempt carries the same jti (the outbox row's message id), so the portal can tell
    # a retransmission (BCL §2.5); each is signed afresh, so a late retry is not expired.
    assert len({unverified(t)[1]["jti"] for t in failing.tokens()}) == 1
    dead = {d["client_id"]: d for d in audits(app, "outbox.dead")}
    assert set(dead) == {"portal", "national"} and dead["portal"]["error"] == "500"
    assert not logged_in(client)


def test_password_reset_sends_backchannel_logout(portals, app, client, rps):
    from tests.support.recovery import reset
    rp = rps()
    register(app, "portal", backchannel_logout_uri=rp.uri)
    body = login(client)
    reset(app, app.test_client())  # "Quên mật khẩu" in another browser
    assert deliver(app, 20)
    assert len(rp.requests) == 1
    check_logout_token(client, rp.tokens()[0], "portal", "ES256", body["id_token"])
    assert not logged_in(client)


def test_sign_out_other_sessions_sends_backchannel_logout(portals, app, client, rps):
    from idp.flows.account import overview
    from idp.flows.account.access import Account
    from idp.platform.models import Citizen, SsoSession
    rp = rps()
    register(app, "national", backchannel_logout_uri=rp.uri)
    other = app.test_client()
    other_body = login(other, "national", NATIONAL_CB)
    this_sid = unverified(get_tokens(client, prompt="login")[0]["id_token"])[1]["sid"]
    with app.app_context():
        session = db.session.get(SsoSession, this_sid)
        citizen = db.session.query(Citizen).filter_by(id_number=CITIZEN.id_number).one()
        overview.revoke_other_sessions(Account(session, citizen))
        db.session.remove()
    assert deliver(app, 20)
    assert len(rp.requests) == 1
    check_logout_token(client, rp.tokens()[0], "national", "RS256", other_body["id_token"])
    assert not logged_in(other) and logged_in(client)
