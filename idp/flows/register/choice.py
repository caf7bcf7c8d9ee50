"""Registration, step 1: the account type and the verification method (seed §1 Bước 3).
Options that do not work yet are shown disabled; a hand-made POST choosing one gets a field
error that names only what is really possible (`choice_errors`). Later issues add their
methods with `register_method` (the same key replaces).

The IAL3 options (issue 15 item 4) are the certificate carriers: an option with a `carrier`
(a sign-in method id of idp/methods/registry.py) works where that carrier is available here
(`certificate_step.carriers()`: trust anchors configured), and starts in the flow state
"sign" (register/certificate.py). A carrier the registry has and the seed's list does not
name gets an option of its own. The organisation account types work where some carrier does:
an organisation registers only by signing with its certificate (issue 15 item 5).
"Bộ Công An" (the Ministry of Public Security's identification) works where an upstream
provider (VNeID, issue 16) is configured: its step sends the citizen to VNeID.
`current()` resolves all this for the request; ACCOUNT_TYPES and METHODS stay the static
declarations."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from flask_babel import lazy_gettext as _l

from idp.flows import certificate_step
from idp.platform import upstream
from idp.platform.messages import Message, msg


@dataclass(frozen=True)
class AccountType:
    """`by_certificate`: registered only by signing with a certificate (available where a
    certificate carrier is)."""
    key: str
    label: str
    available: bool = False
    by_certificate: bool = False


@dataclass(frozen=True)
class VerificationMethod:
    """One way of proving identity at registration. `first_state` is the flow state the
    method starts in; a method that is not `available` is shown as such and cannot be
    chosen."""
    key: str
    label: str
    level: str  # IAL2 | IAL3
    available: bool = False
    first_state: str | None = None
    account_types: tuple[str, ...] = ("citizen",)
    note: str | None = None
    carrier: str | None = None


ACCOUNT_TYPES: dict[str, AccountType] = {a.key: a for a in (
    AccountType("citizen", _l("Công dân"), True),
    AccountType("business", _l("Doanh nghiệp"), by_certificate=True),
    AccountType("agency", _l("Cơ quan nhà nước"), by_certificate=True),
)}
# Who may register by signing with a certificate (a citizen's own, or an organisation's).
CERTIFICATE_TYPES = ("citizen", "business", "agency")

METHODS: dict[str, VerificationMethod] = {}


def register_method(method: VerificationMethod) -> None:
    METHODS[method.key] = method


for _m in (
    VerificationMethod("mobile", _l("Thuê bao di động"), "IAL2", True, "form"),
    VerificationMethod("vssid", _l("Bảo hiểm xã hội"), "IAL2", True, "bhxh"),
    VerificationMethod("bca", _l("Bộ Công An"), "IAL2"),
    # "Bưu điện Việt Nam": registered at a counter (staff/counter.py); this page explains
    # and offers the activation (register/activate.py).
    VerificationMethod("vnpost", _l("Bưu điện Việt Nam"), "IAL2", True, "vnpost",
                       note=_l("Tài khoản cung cấp từ “Bưu điện Việt Nam” không dành cho "
                               "CBCCVC cơ quan nhà nước.")),
    VerificationMethod("usb_token", _l("USB ký số"), "IAL3", account_types=CERTIFICATE_TYPES,
                       carrier="usb"),
    VerificationMethod("sim_pki", _l("SIM ký số"), "IAL3", account_types=CERTIFICATE_TYPES,
                       carrier="sim"),
    VerificationMethod("smartca", _l("VNPT SmartCA"), "IAL3", account_types=CERTIFICATE_TYPES,
                       carrier="smartca"),
):
    register_method(_m)


def carrier_label(carrier: str) -> str:
    """The name of a certificate carrier as the pages show it (its option's label)."""
    found = next((m for m in METHODS.values() if m.carrier == carrier), None)
    return str(found.label) if found is not None else carrier


def current() -> tuple[dict[str, AccountType], dict[str, VerificationMethod]]:
    """The account types and methods as this request can use them (module docstring)."""
    carriers = [c.id for c in certificate_step.carriers()]
    methods = {k: replace(m, available=m.carrier in carriers, first_state="sign")
               if m.carrier else m for k, m in METHODS.items()}
    if upstream.providers():  # "Bộ Công An": through VNeID (flows/federated/)
        methods["bca"] = replace(methods["bca"], available=True, first_state="bca")
    for carrier in carriers:
        if not any(m.carrier == carrier for m in methods.values()):
            methods[carrier] = VerificationMethod(carrier, carrier, "IAL3", True, "sign",
                                                  CERTIFICATE_TYPES, carrier=carrier)
    types = {k: replace(a, available=bool(carriers)) if a.by_certificate else a
             for k, a in ACCOUNT_TYPES.items()}
    return types, methods


def usable_methods(account_type: str, methods: dict[str, VerificationMethod] | None = None
                   ) -> list[VerificationMethod]:
    """The methods that work for `account_type` (`methods`: the request's, `current()`)."""
    return [m for m in (methods if methods is not None else METHODS).values()
            if m.available and account_type in m.account_types]


def _quoted(methods: Iterable[VerificationMethod]) -> str:
    return ", ".join(f"“{m.label}”" for m in methods)


def choice_errors(atype: AccountType | None, method: VerificationMethod | None,
                  methods: dict[str, VerificationMethod] | None = None) -> dict[str, Message]:
    """Field errors for a choice the page does not offer (the radios of unavailable options
    are disabled, so only a hand-made POST gets here). Each message names only what is
    really possible, so no combination reads as a contradiction: an unavailable account type
    is reported on its own (the method is not judged against it), an unavailable method
    names the methods that work for the chosen type, and an available method that does not
    fit the type says so. `methods`: the request's (`current()`), METHODS when not given."""
    errors: dict[str, Message] = {}
    if atype is None:
        errors["account_type"] = msg("register.account_type_required")
    elif not atype.available:
        errors["account_type"] = msg("register.account_type_unsupported", type=atype.label)
    if method is None:
        errors["method"] = msg("register.method_required")
    elif atype is None or not atype.available:
        pass  # the account type is the problem: judge the method once a type works
    elif not method.available:
        usable = usable_methods(atype.key, methods)
        if usable:
            errors["method"] = msg("register.method_unsupported_use", method=method.label,
                                   usable=_quoted(usable))
        else:
            errors["method"] = msg("register.method_unsupported", method=method.label)
    elif atype.key not in method.account_types:
        errors["method"] = msg("register.method_wrong_type", method=method.label,
                               type=atype.label)
    return errors
