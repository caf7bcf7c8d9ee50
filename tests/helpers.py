"""Kept for older imports only: everything here lives in tests/support (issue 13 item 7).
New code imports from `tests.support` (or one of its modules); nothing in tests/ imports this."""
from tests.support.apps import ephemeral_keys
from tests.support.clock import FrozenClock
from tests.support.oidc import (
    auth_params,
    authorize,
    basic,
    finish_sms_step,
    follow_to_login,
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
from tests.support.sms import deliver_outbox, last_code, outbox

__all__ = [
    "ALL_SCOPES", "CITIZEN", "CITIZEN2", "ISSUER", "NATIONAL_CB", "PORTAL_CB", "SECRET", "SPA_CB",
    "FrozenClock", "Person", "auth_params", "authorize", "basic", "deliver_outbox",
    "ephemeral_keys", "finish_sms_step", "follow_to_login", "form_action", "hidden",
    "last_code", "login_and_get_code", "login_form_submit", "outbox", "pkce_pair", "query",
    "seed", "token_request",
]
