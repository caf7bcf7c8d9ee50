"""What an authorization request still needs before a code can be issued (node-oidc-provider's
interaction policy: prompts made of named checks). Reading order of one login:
protocol/authorize.py → **this module** → interaction/pending.py → interaction/engine.py →
flows/login.py → flows/second_factor.py → protocol/authorize.resume (this module again).

`decide(facts)` runs the PROMPTS in their declared order; each prompt is a list of small named
checks, each returning a reason (a sentence for the RP's error_description) or None. The first
prompt with a firing check decides:
- a prompt with a flow → `Needed(kind, level, reasons, floor)`: the flow to run, the level of
  assurance the login must reach (`level`: what the RP asked in `acr_values` or the client's
  default, never below the `floor`), the names of the checks that fired. It is stored on the
  pending authorization and handed to the flow: no flow re-derives the level.
- a prompt without a flow (no interaction can help) → `Refuse(error, description)`;
- prompt=none turns every needed interaction into its OIDC error (OIDC Core §3.1.2.6), and a
  flow that is not registered into access_denied;
- nothing fires → `Issue()`.
Pure functions over `Facts`: the authorization endpoint gathers them on arrival and again
each time a flow finishes, until the answer is Issue.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

LEVELS: dict[str, int] = {"LoA1": 1, "LoA2": 2, "LoA3": 3}


@dataclass(frozen=True)
class Needed:
    """An interaction is needed: run flow `kind` until the login reaches `level`. `floor` is
    the level every login of this client ends at (the second-factor page's "why" sentence),
    `reasons` the names of the checks that asked for it."""
    kind: str
    level: str
    reasons: tuple[str, ...] = ()
    floor: str = "LoA1"

    def to_record(self) -> dict[str, Any]:
        return {"kind": self.kind, "level": self.level, "reasons": list(self.reasons),
                "floor": self.floor}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Needed:
        return cls(str(record["kind"]), str(record["level"]),
                   tuple(record.get("reasons") or ()), str(record.get("floor", "LoA1")))


@dataclass(frozen=True)
class Refuse:
    """End the request with this OAuth error (by redirect to the RP)."""
    error: str
    description: str


@dataclass(frozen=True)
class Issue:
    """Nothing is missing: issue the code."""


Decision = Issue | Needed | Refuse


class SessionLike(Protocol):
    acr: str
    auth_time: int


@dataclass(frozen=True)
class Facts:
    """Everything the checks read. `results`: what the flows of this pending authorization
    established (`login_done`, `consent_done`, `consent_denied`, `register_done`);
    `highest`: the highest level a login can reach (idp.methods.registry.highest_level)."""
    params: Mapping[str, str]
    session: SessionLike | None
    floor: str
    highest: str
    available_flows: frozenset[str]
    results: Mapping[str, bool] = field(default_factory=dict)
    citizen_sub: str | None = None
    hint_sub: str | None = None
    first_party: bool = True
    has_consent: bool = False
    default_acr: Sequence[str] = ()
    now: float = 0.0

    @property
    def prompts(self) -> set[str]:
        return prompts(self.params)

    @property
    def wanted(self) -> str:
        return wanted_acr(self.params, self.default_acr, self.floor)

    @property
    def logged_in_here(self) -> bool:
        return bool(self.results.get("login_done"))


def prompts(params: Mapping[str, str]) -> set[str]:
    return set((params.get("prompt") or "").split())


def required_acr(params: Mapping[str, str], client_default: Sequence[str]) -> str:
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


def login_floor(client: Any, settings: Mapping[str, Any]) -> str:
    """The lowest level a login for `client` ends at (DESIGN.md §2): the deployment's
    `login_min_acr` (LoA2: the SMS code after the password, as in the seed), raised by the
    client's `login_acr_floor`, lowered by it only while the deployment allows it
    (`allow_loa1_clients`). Registration refuses a lower floor without that setting
    (validation.validate_client_metadata); one registered before the setting was turned off
    gets the minimum again here. `client` None: the IdP's own pages (the account page)."""
    minimum = str(settings["login_min_acr"])
    own = (getattr(client, "client_metadata", None) or {}).get("login_acr_floor")
    if own in LEVELS and (LEVELS[own] >= LEVELS[minimum] or settings["allow_loa1_clients"]):
        return str(own)
    return minimum


def lowest_client_floor(settings: Mapping[str, Any]) -> str:
    """The lowest `login_acr_floor` a client may be registered with in this deployment."""
    return "LoA1" if settings["allow_loa1_clients"] else str(settings["login_min_acr"])


def wanted_acr(params: Mapping[str, str], client_default: Sequence[str], floor: str) -> str:
    """What this request must reach: what the RP asked, never below the floor. The ID token
    says what was reached (the session's acr), which may be more than the RP asked."""
    return max(required_acr(params, client_default), floor, key=LEVELS.__getitem__)


def internal_needed(kind: str, level: str, reason: str, settings: Mapping[str, Any]) -> Needed:
    """The `Needed` of an internal pending request (the account page asks `level` LoA2): its
    creator decides, never below the deployment's floor for the IdP's own pages."""
    floor = login_floor(None, settings)
    return Needed(kind, max(level, floor, key=LEVELS.__getitem__), (reason,), floor)


# --------------------------------------------------------------------------- the checks

Check = Callable[[Facts], str | None]


def consent_denied(f: Facts) -> str | None:
    return "The end-user denied access" if f.results.get("consent_denied") else None


def level_unavailable(f: Facts) -> str | None:
    # Said before asking for any credential rather than after a useless login.
    if LEVELS[f.wanted] > LEVELS[f.highest]:
        return f"Authentication level {f.wanted} is not available"
    return None


def prompt_create(f: Facts) -> str | None:
    if ("create" in f.prompts and not f.results.get("register_done")
            and "register" in f.available_flows):
        return "Registration requires interaction"
    return None


def no_session(f: Facts) -> str | None:
    return "The end-user is not logged in" if f.session is None else None


def prompt_login(f: Facts) -> str | None:
    if "login" in f.prompts and not f.logged_in_here:
        return "Re-authentication was requested"
    return None


def max_age(f: Facts) -> str | None:
    value = f.params.get("max_age")
    if (value is not None and f.session is not None and not f.logged_in_here
            and f.now - f.session.auth_time > int(value)):
        return "The authentication is older than max_age"
    return None


def hint_mismatch(f: Facts) -> str | None:
    """Before a login of this request: the browser's citizen is not the hinted one."""
    if not f.logged_in_here and f.hint_sub is not None and f.hint_sub != f.citizen_sub:
        return "The end-user is not the one hinted"
    return None


def hint_not_logged_in(f: Facts) -> str | None:
    """OIDC Core §3.1.2.1: the login this request asked for was not the hinted citizen's (or
    the hint is not ours): tell the RP, never issue a code for somebody else."""
    if f.logged_in_here and f.hint_sub is not None and f.hint_sub != f.citizen_sub:
        return "The end-user is not the one hinted"
    return None


def level_below(f: Facts) -> str | None:
    """A session below what the request wants (e.g. LoA1 from a client allowed LoA1) never
    satisfies it: the second factor only (step-up)."""
    if f.session is not None and LEVELS.get(f.session.acr, 0) < LEVELS[f.wanted]:
        return f"Authentication level {f.wanted} is required"
    return None


def prompt_consent(f: Facts) -> str | None:
    if "consent" in f.prompts and not f.results.get("consent_done"):
        return "The end-user has not consented"
    return None


def consent_missing(f: Facts) -> str | None:
    if not f.first_party and not f.has_consent and not f.results.get("consent_done"):
        return "The end-user has not consented"
    return None


@dataclass(frozen=True)
class Prompt:
    """A named group of checks. `flow` None: no interaction helps, the request is refused
    with `error`; else the flow to run (`error` is the answer to prompt=none)."""
    name: str
    flow: str | None
    error: str
    checks: tuple[Check, ...]


PROMPTS: tuple[Prompt, ...] = (
    Prompt("refused", None, "access_denied", (consent_denied, level_unavailable)),
    Prompt("create", "register", "login_required", (prompt_create,)),
    Prompt("login", "login", "login_required",
           (no_session, prompt_login, max_age, hint_mismatch)),
    Prompt("hint", None, "login_required", (hint_not_logged_in,)),
    Prompt("level", "stepup", "interaction_required", (level_below,)),
    Prompt("consent", "consent", "consent_required", (prompt_consent, consent_missing)),
)


def decide(facts: Facts, prompts_: Sequence[Prompt] = PROMPTS) -> Decision:
    """The first prompt with a firing check decides (module docstring)."""
    for prompt in prompts_:
        fired = [(check.__name__, reason) for check in prompt.checks
                 if (reason := check(facts)) is not None]
        if not fired:
            continue
        description = fired[0][1]
        if prompt.flow is None:
            return Refuse(prompt.error, description)
        if "none" in facts.prompts:
            return Refuse(prompt.error, description)
        if prompt.flow not in facts.available_flows:
            return Refuse("access_denied", "The requested authentication is not available")
        return Needed(prompt.flow, facts.wanted, tuple(name for name, _ in fired), facts.floor)
    return Issue()
