"""What an authorization request still needs before a code can be issued.

Pure functions over (request parameters, pending state, SSO session, client, now): the
authorization endpoint runs `decide` on arrival and again each time a flow finishes, until it
says "issue". prompt=none turns every needed interaction into the matching OIDC error
(OIDC Core §3.1.2.6).
"""
from __future__ import annotations

from dataclasses import dataclass

LEVELS = {"LoA1": 1, "LoA2": 2, "LoA3": 3}


@dataclass(frozen=True)
class Decision:
    action: str  # "issue" | "flow" | "error"
    flow: str | None = None  # login | stepup | consent | register
    error: str | None = None
    description: str | None = None


ISSUE = Decision("issue")


def prompts(params: dict) -> set[str]:
    return set((params.get("prompt") or "").split())


def required_acr(params: dict, client_default: list[str]) -> str:
    """The level the RP asked for. acr_values lists acceptable levels in order of preference
    (OIDC Core §3.1.2.1): any of them satisfies the request, so the lowest known one is what we
    must reach. Unknown values are ignored; without any, the client's default_acr_values apply,
    else LoA1. The deployment's floor comes on top (`login_floor`, `wanted_acr`)."""
    requested = [v for v in (params.get("acr_values") or "").split() if v in LEVELS]
    if not requested:
        requested = [v for v in client_default if v in LEVELS]
    if not requested:
        return "LoA1"
    return min(requested, key=LEVELS.__getitem__)


def login_floor(client, settings: dict) -> str:
    """The lowest level a login for `client` ends at (DESIGN.md §2): the deployment's
    `login_min_acr` (LoA2: the SMS code after the password, as in the seed), raised by the
    client's `login_acr_floor`, lowered by it only while the deployment allows it
    (`allow_loa1_clients`). Registration refuses a lower floor without that setting
    (validation.validate_client_metadata); one registered before the setting was turned off
    gets the minimum again here. `client` None: the IdP's own pages (the account page)."""
    minimum = settings["login_min_acr"]
    own = (getattr(client, "client_metadata", None) or {}).get("login_acr_floor")
    if own in LEVELS and (LEVELS[own] >= LEVELS[minimum] or settings["allow_loa1_clients"]):
        return own
    return minimum


def lowest_client_floor(settings: dict) -> str:
    """The lowest `login_acr_floor` a client may be registered with in this deployment."""
    return "LoA1" if settings["allow_loa1_clients"] else settings["login_min_acr"]


def wanted_acr(params: dict, client_default: list[str], floor: str) -> str:
    """What this request must reach: what the RP asked, never below the floor. The ID token
    says what was reached (the session's acr), which may be more than the RP asked."""
    return max(required_acr(params, client_default), floor, key=LEVELS.__getitem__)


def login_level(params: dict, client, settings: dict) -> str:
    """`wanted_acr` for a request of `client` (None: the IdP's own pages)."""
    return wanted_acr(params, client.default_acr_values if client is not None else [],
                      login_floor(client, settings))


def decide(params: dict, pending: dict, session, citizen_sub: str | None, client,
           has_consent: bool, hint_sub: str | None, now: float,
           available_flows: set[str], *, floor: str) -> Decision:
    """`floor`: `login_floor(client, settings)`. A session below what the request wants,
    e.g. a LoA1 session from a client allowed LoA1, never satisfies it: step-up (the second
    factor only), or interaction_required with prompt=none."""
    p = prompts(params)
    silent = "none" in p
    logged_in_here = bool(pending.get("login_done"))

    def need(flow: str, error: str, description: str) -> Decision:
        if silent:
            return Decision("error", error=error, description=description)
        if flow not in available_flows:
            return Decision("error", error="access_denied",
                            description="The requested authentication is not available")
        return Decision("flow", flow=flow)

    if pending.get("consent_denied"):
        return Decision("error", error="access_denied", description="The end-user denied access")
    wanted = wanted_acr(params, client.default_acr_values, floor)
    if wanted == "LoA3" and "pki" not in available_flows:
        # Say so before asking for any credential rather than after a useless login.
        return Decision("error", error="access_denied",
                        description="Authentication level LoA3 is not available")
    if "create" in p and not pending.get("register_done") and "register" in available_flows:
        return need("register", "login_required", "Registration requires interaction")
    if session is None:
        return need("login", "login_required", "The end-user is not logged in")
    if not logged_in_here:
        if "login" in p:
            return need("login", "login_required", "Re-authentication was requested")
        max_age = params.get("max_age")
        if max_age is not None and now - session.auth_time > int(max_age):
            return need("login", "login_required", "The authentication is older than max_age")
        if hint_sub is not None and hint_sub != citizen_sub:
            return need("login", "login_required", "The end-user is not the one hinted")
    elif hint_sub is not None and hint_sub != citizen_sub:
        # OIDC Core §3.1.2.1: the login this request asked for was not the hinted citizen's
        # (or the hint is not ours): tell the RP, never issue a code for somebody else.
        return Decision("error", error="login_required",
                        description="The end-user is not the one hinted")
    if LEVELS.get(session.acr, 0) < LEVELS[wanted]:
        # LoA2: the second-factor step; LoA3 needs a PKI authenticator (USB token, SIM PKI,
        # remote signing), a flow that does not exist yet, so it ends in access_denied.
        return need("stepup" if wanted == "LoA2" else "pki", "interaction_required",
                    f"Authentication level {wanted} is required")
    if ("consent" in p and not pending.get("consent_done")) or (
            not client.is_first_party and not has_consent and not pending.get("consent_done")):
        return need("consent", "consent_required", "The end-user has not consented")
    return ISSUE
