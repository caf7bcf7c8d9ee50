"""Shared test support: what more than one test module uses, in one place (issue 13 item 7).

No test imports another test module or a conftest: what they share lives here.

    tests.support.people        test data: the issuer, portals (clients) and citizens; `seed`
    tests.support.pages         reading HTML: `hidden`, `form_action`, `query`
    tests.support.oidc          the authorization request by hand: PKCE, `/authorize`, `/token`
    tests.support.driver        `AuthorizationRequest`: one login from /authorize to the tokens
    tests.support.sms           the one SMS gateway fake: messages and codes sent (outbox provider)
    tests.support.clock         `FrozenClock`: time that stands still until the test advances it
    tests.support.messages      `assert_message(page, "otp.wrong")`: message ids on a page
    tests.support.apps          apps on fresh tables, PostgreSQL / Redis availability, free ports
    tests.support.registration  the registration flow's steps (flows/register.py)
    tests.support.captcha       a captcha-only app and reading a challenge's answer
    tests.support.account       the account page's steps (login to /account/, add a phone)

The most used names are re-exported here: `from tests.support import CITIZEN, authorize`.
"""
from tests.support.apps import ephemeral_keys
from tests.support.clock import FrozenClock
from tests.support.driver import AuthorizationRequest
from tests.support.messages import assert_message, message_ids
from tests.support.oidc import (
    auth_params,
    authorize,
    basic,
    finish_sms_step,
    follow_to_login,
    get_tokens,
    login_and_get_code,
    login_form_submit,
    pkce_pair,
    token_request,
)
from tests.support.pages import form_action, hidden, query
from tests.support.people import (
    ALL_SCOPES,
    CITIZEN,
    CITIZEN2,
    ISSUER,
    NATIONAL_CB,
    PORTAL_CB,
    SECRET,
    SPA_CB,
    Person,
    seed,
)
from tests.support.sms import SmsGateway, deliver_outbox, last_code, outbox, sms_count

__all__ = [
    "ALL_SCOPES", "CITIZEN", "CITIZEN2", "ISSUER", "NATIONAL_CB", "PORTAL_CB", "SECRET", "SPA_CB",
    "AuthorizationRequest", "FrozenClock", "Person", "SmsGateway", "assert_message",
    "auth_params", "authorize", "basic", "deliver_outbox", "ephemeral_keys", "finish_sms_step",
    "follow_to_login", "form_action", "get_tokens", "hidden", "last_code", "login_and_get_code",
    "login_form_submit", "message_ids", "outbox", "pkce_pair", "query", "seed", "sms_count",
    "token_request",
]
