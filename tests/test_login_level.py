"""Issue 12 item 1, the login level policy: every interactive citizen login reaches the
deployment's `login_min_acr` (LoA2: the SMS code after the password, as in the seed), whatever
the portal asks. A client whose logins stop at the password (`login_acr_floor: "LoA1"`) is
registered only where the deployment allows it (`allow_loa1_clients`), and the LoA1 session it
leaves never satisfies another client: step-up, or an error with prompt=none. The ID token
says what really happened (acr, amr)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.accounts.validation import ValidationError
from idp.cli import main
from idp.platform.config import ConfigError, load_settings
from idp.platform.crypto import hash_secret
from idp.platform.db import db
from idp.platform.models import Client
from idp.protocol import client_metadata
from tests.support import (
    CITIZEN,
    ISSUER,
    PORTAL_CB,
    SECRET,
    auth_params,
    authorize,
    follow_to_login,
    form_action,
    hidden,
    last_code,
    login_form_submit,
    outbox,
    pkce_pair,
    query,
    token_request,
)
from tests.support.apps import make_app

LOGIN_REASON = 'data-msg="second_factor.reason_login_sms"'
STEP_UP_REASON = 'data-msg="second_factor.reason_service_sms"'
LOA1_CLIENT = {"client_name": "Cổng tra cứu (chỉ mật khẩu)", "redirect_uris": [PORTAL_CB],
               "scope": "openid profile phone", "login_acr_floor": "LoA1"}


# --------------------------------------------------------------------------- helpers

def add_client(app, client_id: str, meta: dict) -> None:
    """Store a client as registration left it (bypassing the CLI: see the CLI tests below)."""
    with app.app_context():
        c = Client(client_id=client_id, client_secret_hash=hash_secret(SECRET))
        c.set_metadata(meta)
        db.session.add(c)
        db.session.commit()


@pytest.fixture
def loa1_app(database_url):
    """A deployment that allows LoA1 clients, with one registered ("tra-cuu")."""
    app = make_app(database_url, allow_loa1_clients=True)
    add_client(app, "tra-cuu", LOA1_CLIENT)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def claims_of(client, q: dict, verifier: str, client_id: str = "portal") -> dict:
    r = token_request(client, q["code"], verifier, client_id=client_id)
    assert r.status_code == 200, r.get_data(as_text=True)
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    claims = jwt.decode(r.get_json()["id_token"], keys, algorithms=["ES256", "RS256"]).claims
    assert claims["iss"] == ISSUER and claims["aud"] == client_id
    return claims


def password_step(client, client_id: str = "portal", **extra):
    """Authorization + login page + password; returns (answer to the password, verifier)."""
    verifier, challenge = pkce_pair()
    params = auth_params(client_id=client_id, challenge=challenge, **extra)
    page = follow_to_login(client, authorize(client, params))
    r = login_form_submit(client, page.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    return r, verifier


def type_code(app, client, page):
    html = page.get_data(as_text=True)
    return client.post(form_action(html), data={"csrf_token": hidden(html, "csrf_token"),
                                                "otp": last_code(app, CITIZEN.phone),
                                                "action": "verify"})


def resume_to_portal(client, r) -> dict:
    assert r.status_code == 303 and "/authorize/resume/" in r.headers["Location"], \
        r.get_data(as_text=True)[:500]
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and r.headers["Location"].startswith(PORTAL_CB)
    return query(r.headers["Location"])


def sms_count(app) -> int:
    return len([m for m in outbox(app) if m["to"] == CITIZEN.phone])


def portal_error(r, params: dict) -> str:
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    assert r.headers["Location"].startswith(PORTAL_CB + "?")
    q = query(r.headers["Location"])
    assert "code" not in q and q["state"] == params["state"] and q["iss"] == ISSUER
    return q["error"]


# --------------------------------------------------------------------------- the default

@pytest.mark.parametrize("acr_values", [None, "LoA1"])
def test_without_acr_values_the_login_asks_the_sms_code_and_the_id_token_says_loa2(
        app, client, acr_values):
    r, verifier = password_step(client, acr_values=acr_values)
    assert "/flows/" in r.headers["Location"]  # not the resume: no session after the password
    assert "idp_sso" not in "".join(r.headers.getlist("Set-Cookie"))
    page = client.get(r.headers["Location"])
    html = page.get_data(as_text=True)
    assert 'name="otp"' in html and "0941xxx947" in html
    assert LOGIN_REASON in html and STEP_UP_REASON not in html  # why a code, in one sentence
    claims = claims_of(client, resume_to_portal(client, type_code(app, client, page)), verifier)
    assert claims["acr"] == "LoA2" and claims["amr"] == ["pwd", "sms", "mfa"]


def test_the_reason_is_in_english_too(app, client):
    r, _ = password_step(client)
    html = client.get(r.headers["Location"] + "?lang=en").get_data(as_text=True)  # the switch
    assert "every sign-in also needs a one-time code" in html


def test_a_loa1_floor_stored_without_the_setting_gets_the_deployment_minimum(app, client):
    """A client registered with login_acr_floor LoA1 while it was allowed, after the operator
    turned allow_loa1_clients off: its logins ask the SMS code again."""
    add_client(app, "tra-cuu", LOA1_CLIENT)
    r, _ = password_step(client, client_id="tra-cuu")
    assert "/flows/" in r.headers["Location"]
    assert 'name="otp"' in client.get(r.headers["Location"]).get_data(as_text=True)


def test_prompt_none_without_a_session_is_login_required(client):
    params = auth_params(challenge=pkce_pair()[1], prompt="none")
    assert portal_error(authorize(client, params), params) == "login_required"


# --------------------------------------------------------------------------- LoA1 clients

def test_an_allowed_loa1_client_logs_in_with_the_password_alone(loa1_app):
    app, client = loa1_app, loa1_app.test_client()
    before = sms_count(app)
    r, verifier = password_step(client, client_id="tra-cuu")
    claims = claims_of(client, resume_to_portal(client, r), verifier, client_id="tra-cuu")
    assert claims["acr"] == "LoA1" and claims["amr"] == ["pwd"]
    assert sms_count(app) == before  # no code was sent


def test_a_loa1_client_asking_loa2_still_gets_the_second_factor(loa1_app):
    """The floor only lowers the minimum: what the RP asks (acr_values) still counts."""
    client = loa1_app.test_client()
    r, _ = password_step(client, client_id="tra-cuu", acr_values="LoA2")
    assert "/flows/" in r.headers["Location"]
    assert 'name="otp"' in client.get(r.headers["Location"]).get_data(as_text=True)


def test_a_loa1_session_is_stepped_up_not_accepted_by_a_normal_client(loa1_app):
    app, client = loa1_app, loa1_app.test_client()
    r, _ = password_step(client, client_id="tra-cuu")
    resume_to_portal(client, r)  # a LoA1 session now
    # prompt=none: the RP hears that an interaction is needed, never gets a LoA1 code.
    params = auth_params(challenge=pkce_pair()[1], prompt="none")
    assert portal_error(authorize(client, params), params) == "interaction_required"
    # Interactive: only the second factor, with the step-up's own sentence.
    verifier, challenge = pkce_pair()
    r = authorize(client, auth_params(challenge=challenge))
    assert r.status_code == 303 and "/flows/" in r.headers["Location"]
    page = client.get(r.headers["Location"])
    html = page.get_data(as_text=True)
    assert 'name="otp"' in html and 'name="password"' not in html
    assert STEP_UP_REASON in html and LOGIN_REASON not in html
    claims = claims_of(client, resume_to_portal(client, type_code(app, client, page)), verifier)
    assert claims["acr"] == "LoA2" and claims["amr"] == ["pwd", "sms", "mfa"]
    # The session is LoA2 now: the normal client passes silently.
    params = auth_params(challenge=pkce_pair()[1], prompt="none")
    r = authorize(client, params)
    assert r.status_code == 302 and query(r.headers["Location"]).get("code")


def test_a_deployment_can_lower_every_login_to_loa1(database_url):
    """login_min_acr = LoA1: the deliberate, deployment-wide choice (no client setting)."""
    client = make_app(database_url, login_min_acr="LoA1").test_client()
    r, verifier = password_step(client)
    claims = claims_of(client, resume_to_portal(client, r), verifier)
    assert claims["acr"] == "LoA1" and claims["amr"] == ["pwd"]


def test_a_client_floor_can_raise_a_lowered_deployment(database_url):
    app = make_app(database_url, login_min_acr="LoA1")
    add_client(app, "ho-so", {**LOA1_CLIENT, "login_acr_floor": "LoA2"})
    client = app.test_client()
    r, _ = password_step(client, client_id="ho-so")
    assert "/flows/" in r.headers["Location"]


# --------------------------------------------------------------------------- configuration

def test_login_min_acr_is_loa2_by_default_and_validated():
    assert load_settings({}, environ={})["login_min_acr"] == "LoA2"
    assert load_settings({}, environ={})["allow_loa1_clients"] is False
    assert load_settings({}, environ={"IDP_LOGIN_MIN_ACR": "LoA1"})["login_min_acr"] == "LoA1"
    for bad in ("LoA3", "loa2", "2", ""):
        with pytest.raises(ConfigError, match="login_min_acr"):
            load_settings({"login_min_acr": bad}, environ={})


def test_client_metadata_refuses_a_loa1_floor_below_the_deployment_minimum():
    base = {"client_id": "tra-cuu", "client_name": "Tra cứu", "redirect_uris": [PORTAL_CB],
            "token_endpoint_auth_method": "none"}
    with pytest.raises(ValidationError) as refused:
        client_metadata.validate_client_metadata({**base, "login_acr_floor": "LoA1"})
    assert refused.value.field == "login_acr_floor"
    assert refused.value.code == "client.acr_floor_refused"
    assert "allow_loa1_clients" in refused.value.message
    meta = client_metadata.validate_client_metadata({**base, "login_acr_floor": "LoA1"},
                                               lowest_acr_floor="LoA1")
    assert meta["login_acr_floor"] == "LoA1"
    assert client_metadata.validate_client_metadata(
        {**base, "login_acr_floor": "LoA2"})["login_acr_floor"] == "LoA2"
    for bad in ("LoA0", ["LoA1"], 1, None):
        with pytest.raises(ValidationError):
            client_metadata.validate_client_metadata({**base, "login_acr_floor": bad},
                                                lowest_acr_floor="LoA1")
    # default_acr_values LoA1 is only what the RP asks by default: accepted, and raised to
    # login_min_acr at login (test above).
    assert client_metadata.validate_client_metadata(
        {**base, "default_acr_values": ["LoA1"]})["default_acr_values"] == ["LoA1"]


class Cli:
    """`idp ...` in-process on a database of its own (as tests/test_cli.py runs it)."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.env = {"IDP_INSTANCE_DIR": str(tmp_path / "instance"),
                    "IDP_KEK_FILE": str(tmp_path / "kek.key"),
                    "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}",
                    "IDP_ENV": "development"}

    def __call__(self, *args: str, **env: str):
        return CliRunner().invoke(main, list(args), env={**self.env, **env},
                                  catch_exceptions=False)


def test_cli_refuses_a_loa1_client_unless_the_deployment_allows_it(tmp_path):
    cli = Cli(tmp_path)
    assert cli("init").exit_code == 0
    add = ("clients", "add", "--client-id", "tra-cuu", "--name", "Tra cứu",
           "--redirect-uri", PORTAL_CB, "--login-acr-floor", "LoA1")
    refused = cli(*add)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert refused.stderr.startswith("error: login_acr_floor: ")
    assert "allow_loa1_clients" in refused.stderr
    path = tmp_path / "clients.json"
    path.write_text(json.dumps([{"client_id": "tra-cuu-2", "client_name": "Tra cứu 2",
                                 "redirect_uris": [PORTAL_CB], "login_acr_floor": "LoA1",
                                 "token_endpoint_auth_method": "none"}]), encoding="utf-8")
    refused = cli("clients", "import", str(path))
    assert refused.exit_code == 1 and "login_acr_floor" in refused.stderr
    assert "tra-cuu" not in cli("clients", "list").stdout  # nothing was stored
    # The operator allows LoA1 clients deliberately: both are registered.
    assert cli(*add, IDP_ALLOW_LOA1_CLIENTS="true").exit_code == 0
    assert cli("clients", "import", str(path), IDP_ALLOW_LOA1_CLIENTS="1").exit_code == 0
    listing = cli("clients", "list").stdout
    assert "tra-cuu " in listing and "tra-cuu-2" in listing
    # A deployment whose minimum is LoA1 anyway has nothing to refuse.
    path.write_text(path.read_text().replace("tra-cuu-2", "tra-cuu-3"), encoding="utf-8")
    assert cli("clients", "import", str(path), IDP_LOGIN_MIN_ACR="LoA1").exit_code == 0
