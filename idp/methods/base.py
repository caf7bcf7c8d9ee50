"""The interface every sign-in method implements (Keycloak's authenticator vocabulary, kept
small): what it proves, what this account can use, how a challenge starts, how a response is
verified, and what the account page lists and removes.

Why an interface: the login page, the "Chọn phương thức xác thực khác" page, the account
page and the policy used to name every method in their own `if` chains; the next issues add
certificate carriers and federated providers. Each method is now one module implementing
`Method`, registered by one line in idp/methods/registry.py.

Conventions:
- `amr` values are RFC 8176's. A second factor lists only its own (`sms`, `otp`); the step
  that combines it with the password adds `pwd` and `mfa` (registry.login_amr).
- `level` is the highest level of assurance (`LoA1`…`LoA3`) a login using this method can
  reach: a second factor on top of the password reaches LoA2; a certificate carrier reaches
  LoA3 where it is `available()` (registry.highest_level, read by the policy).
- `challenge_id` is the flow's id (or any id the caller owns): methods that keep a challenge
  (the SMS code) keep it under that id, so a flow's resends and tries count together.
- A refusal is raised as `idp.methods.refusal.Refusal` (message id, status, wait).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from idp.platform.models import Citizen

# Levels of assurance in order; the policy (idp/interaction/policy.py) compares with these.
LEVELS: dict[str, int] = {"LoA1": 1, "LoA2": 2, "LoA3": 3}


class Factor(Enum):
    """Where a method stands in a login: the first step (identifies and proves) or the
    second (proves again, with something else, for an account already identified)."""

    FIRST = "first"
    SECOND = "second"


@dataclass(frozen=True)
class Option:
    """One way this account can use a method right now (one per phone for SMS). `value` is
    what the choice page posts (`sms:0`, `totp`); `target` is what the method needs to start
    (the phone number, E.164), never shown as is."""

    method: str
    value: str
    label: str
    target: str = ""


@dataclass(frozen=True)
class Enrolment:
    """One enrolled authenticator as the account page lists it. `id` is what `remove` takes
    (an AuthMethod row id; None when the method has no removable row). `count`: how many
    are left where that is what matters (recovery codes)."""

    method: str
    id: int | None
    label: str
    is_default: bool = False
    created_at: float | None = None
    count: int = 0
    removable: bool = True


class Method(ABC):
    """A sign-in method. A subclass states what it proves in its class line,
    `class Totp(Method, id="totp", amr=("otp",), factor=Factor.SECOND, level="LoA2")`,
    and implements the methods below."""

    id: ClassVar[str]
    amr: ClassVar[tuple[str, ...]]
    factor: ClassVar[Factor]
    level: ClassVar[str]

    def __init_subclass__(cls, *, id: str, amr: tuple[str, ...], factor: Factor,  # noqa: A002
                          level: str, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if level not in LEVELS:
            raise ValueError(f"sign-in method {id}: unknown level {level}")
        cls.id, cls.amr, cls.factor, cls.level = id, amr, factor, level

    def available(self) -> bool:
        """Whether this deployment can use the method at all (a carrier that needs
        configuration says False without it). The registry's levels count only these."""
        return True

    @abstractmethod
    def options(self, citizen: Citizen) -> list[Option]:
        """What this account can use now; empty = not enrolled."""

    def start(self, challenge_id: str, citizen: Citizen, option: Option, *,
              requested: bool = False) -> None:
        """Begin a challenge (send a code…); most methods need nothing. Raises Refusal.
        `requested`: the citizen asked for it ("Gửi lại OTP", another phone), as opposed to
        the step's first page (see sms.py for what differs)."""
        return None

    @abstractmethod
    def verify(self, challenge_id: str, citizen: Citizen, response: str) -> None:
        """Return when `response` proves the method; raise Refusal otherwise (a wrong code is
        `refusal.wrong_code()`). Counting failures and single use are the method's job."""

    def enrolments(self, citizen: Citizen) -> list[Enrolment]:
        """What the account page lists for this method (default: nothing to list)."""
        return []

    def remove(self, citizen: Citizen, enrolment_id: int) -> bool:
        """Stage the removal of one enrolment in the session (the caller commits, together
        with the notice it sends: flows/account/notify.py). False when it is not this
        account's or may not be removed. Default: nothing is removable."""
        return False

    @property
    def second_factor(self) -> bool:
        return self.factor is Factor.SECOND
