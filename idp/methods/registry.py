"""The one list of sign-in methods. The login flow, the second-factor step ("Chọn phương
thức xác thực khác"), the account page and the policy read it; none of them names a method
in an `if` chain.

Adding a method: one module implementing idp.methods.base.Method (plus its templates) and
one line in METHODS below. Order matters: it is the order of the choice page and of the
account page, and the first usable second factor is the one a login starts with.
"""
from __future__ import annotations

from idp.methods.base import LEVELS, Method
from idp.methods.certificate.method import CertificateMethod
from idp.methods.certificate.sim import SimSignature
from idp.methods.certificate.smartca import SmartCa
from idp.methods.certificate.usb import UsbToken
from idp.methods.federated import Federated
from idp.methods.password import Password
from idp.methods.recovery_code import RecoveryCode
from idp.methods.sms import Sms
from idp.methods.totp import Totp

METHODS: tuple[Method, ...] = (
    Password(),
    Sms(),
    Totp(),
    RecoveryCode(),
    UsbToken(),
    SimSignature(),
    SmartCa(),
    Federated(),
)

_BY_ID: dict[str, Method] = {m.id: m for m in METHODS}
if len(_BY_ID) != len(METHODS):
    raise RuntimeError("two sign-in methods share an id")


def all_methods() -> tuple[Method, ...]:
    return METHODS


def by_id(method_id: str) -> Method:
    """The method `method_id`; KeyError for an unknown one (a programming error, or a flow
    record from a release that had a method since removed: the caller treats it as gone)."""
    return _BY_ID[method_id]


def second_factors() -> list[Method]:
    return [m for m in METHODS if m.second_factor]


def first_factors() -> list[Method]:
    return [m for m in METHODS if not m.second_factor]


def certificate_methods() -> list[CertificateMethod]:
    """The certificate carriers this deployment can use (the login page's tabs, LoA3)."""
    return [m for m in METHODS if isinstance(m, CertificateMethod) and m.available()]


def highest_level() -> str:
    """The highest level a login can reach with the methods available here: LoA2 (a second
    factor after the password), LoA3 where a certificate carrier is configured."""
    return max((m.level for m in METHODS if m.available()), key=LEVELS.__getitem__)


def level_reachable(level: str) -> bool:
    """Whether some login can reach `level` (the policy refuses a request early if not)."""
    return LEVELS[level] <= LEVELS[highest_level()]


def amr_of(method_id: str) -> tuple[str, ...]:
    return by_id(method_id).amr


def level_of(method_id: str) -> str:
    return by_id(method_id).level


def login_amr(second: Method | None, first: Method | None = None) -> list[str]:
    """The `amr` of a login (RFC 8176): the first factor's (the password unless said), then
    the second factor's and `mfa` when there was one: pwd; pwd sms mfa; pwd otp mfa; a
    certificate alone: its own (hwk sc pin mfa for a USB token)."""
    amr = list((first or _BY_ID["password"]).amr)
    if second is None:
        return amr
    return amr + [a for a in second.amr if a not in amr] + ["mfa"]
