"""Hourly SMS budgets, one set per purpose (security-requirements §6.1; issue 11 item 2).

Every SMS the service sends is first counted here with `take(purpose, phone, ...)`; a send
that fails is given back with `refund(keys)`. The counters live in the ephemeral store and are
fixed one-hour windows taken with `incr`, one atomic statement on SQL and one Lua script on
Redis, so N nodes share one budget (never N budgets). A refusal gives back at once what the
call took: a refused send costs nothing.

Purposes, and who can make the service send them:
  login     the code after a right password / for a step-up             authenticated
  phone     the code to a number added on the logged-in account page   authenticated
  register  registration codes           } to a number an anonymous caller typed (or
  reset     password-reset codes         } chose through an ID number) behind a captcha:
  recover   account-recovery codes       } the SMS-pumping surface
  (a reset or recovery code asked from the owner's own browser — `owner=True`, the known-
  device cookie of idp/device.py names the account — counts on `sms-phone-owner` /
  `sms-account-owner` instead, with the login allowance: strangers who spend a number's
  anonymous allowance cannot keep its owner from resetting their password)
  notify    notifications (lost-phone notices, account-change notices, "someone tried to
            register with your ID"): only to numbers on file, but often set off anonymously

Counters (limits in config/default.toml, where each value is justified):
  per phone, one counter per purpose class, so no other purpose can spend the login
  allowance of a number:
      login                      sms-phone:<h>          sms_budget_per_phone
      phone                      sms-phone-add:<h>      sms_budget_per_phone
      register, reset, recover   sms-phone-anon:<h>     sms_budget_per_phone_unauthenticated
      notify                     sms-phone-notify:<h>   sms_budget_per_phone_notify
    (adding a phone has its own counter too: the number is typed by someone else's account,
    and must not spend its owner's login allowance either);
  per account (when the caller names one): sms-account:<id> for login and phone (both the
    holder's own doing), sms-account-anon:<id> for anonymous purposes; notifications go only
    to the account's own numbers and are bounded per phone;
  per client address (only inside a request, or when the caller passes one): one counter per
    class (sms-ip, sms-ip-anon, sms-ip-notify), each sms_budget_per_ip, so registrations from
    a carrier's shared address cannot use up the logins behind it;
  global: one counter `sms-global` of every SMS of the hour. Login and phone codes may use all
    of sms_budget_global; notifications stop at sms_budget_global_notify_share of it and
    anonymous codes at sms_budget_global_unauthenticated_share: when the budget runs low,
    anonymous purposes are shed first, then notifications, and logins go on to the end.

`take` returns the keys it took, to be passed to `refund` if the message is not sent (and to
metrics.sms_budget_used once it is). Refusals are counted in metrics here; auditing them is
the caller's job (it knows the flow and the account).
"""
from __future__ import annotations

from flask import current_app, has_request_context

from idp.platform import metrics
from idp.platform.crypto import sha256_hex

HOUR = 3600

# Purpose id -> whether the caller has authenticated (proved the account's password).
PURPOSES: dict[str, bool] = {"login": True, "phone": True, "register": False, "reset": False,
                             "recover": False, "notify": False}

# Purpose -> (per-phone key prefix, per-account key prefix or None, per-address key prefix).
_KEYS = {
    "login": ("sms-phone", "sms-account", "sms-ip"),
    "phone": ("sms-phone-add", "sms-account", "sms-ip"),
    "register": ("sms-phone-anon", "sms-account-anon", "sms-ip-anon"),
    "reset": ("sms-phone-anon", "sms-account-anon", "sms-ip-anon"),
    "recover": ("sms-phone-anon", "sms-account-anon", "sms-ip-anon"),
    "notify": ("sms-phone-notify", None, "sms-ip-notify"),
}
GLOBAL = "sms-global"
# Anonymous purposes that the account's owner may ask from a known device (module docstring).
OWNER_PURPOSES = ("reset", "recover")
# Label of a refusal by the global counter below the full budget (shedding), per purpose.
_SHED_SCOPE = {"register": "global_unauthenticated", "reset": "global_unauthenticated",
               "recover": "global_unauthenticated", "notify": "global_notify"}


class BudgetRefused(Exception):
    """An hourly budget is spent. `budget` names the counter that refused (a metrics scope:
    "phone", "phone_unauthenticated", "ip", "global", "global_unauthenticated", ...);
    `retry_after` is in seconds."""

    def __init__(self, budget: str, retry_after: int = HOUR):
        super().__init__(budget)
        self.budget, self.retry_after = budget, retry_after


def _settings() -> dict:
    return current_app.config["IDP"]


def _store():
    return current_app.extensions["idp.store"]


def _per_phone_limit(purpose: str, s: dict) -> int:
    if PURPOSES[purpose]:
        return s["sms_budget_per_phone"]
    if purpose == "notify":
        return s["sms_budget_per_phone_notify"]
    return s["sms_budget_per_phone_unauthenticated"]


def global_limit(purpose: str, s: dict | None = None) -> int:
    """How far the global counter may go for this purpose (its share of sms_budget_global)."""
    s = s or _settings()
    if PURPOSES[purpose]:
        return s["sms_budget_global"]
    share = s["sms_budget_global_notify_share" if purpose == "notify"
              else "sms_budget_global_unauthenticated_share"]
    return int(s["sms_budget_global"] * share)


def counters(purpose: str, phone: str, citizen_id: int | None = None,
             client_address: str | None = None,
             owner: bool = False) -> list[tuple[str, int, str]]:
    """(key, limit, scope) of every counter a send for `purpose` takes, in the order taken."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown SMS purpose {purpose!r}")
    s = _settings()
    phone_prefix, account_prefix, ip_prefix = _KEYS[purpose]
    per_phone = _per_phone_limit(purpose, s)
    if owner and purpose in OWNER_PURPOSES and citizen_id is not None:
        phone_prefix, account_prefix = "sms-phone-owner", "sms-account-owner"
        per_phone = s["sms_budget_per_phone"]
    found = [(f"{phone_prefix}:{sha256_hex(phone)}", per_phone, metrics.budget_scope(phone_prefix))]
    if citizen_id is not None and account_prefix is not None:
        found.append((f"{account_prefix}:{citizen_id}", per_phone,
                      metrics.budget_scope(account_prefix)))
    if client_address is None and has_request_context():
        from idp.platform.web import client_ip
        client_address = client_ip() or "-"
    if client_address is not None:
        found.append((f"{ip_prefix}:{sha256_hex(client_address)}", s["sms_budget_per_ip"],
                      metrics.budget_scope(ip_prefix)))
    found.append((GLOBAL, global_limit(purpose, s), _SHED_SCOPE.get(purpose, "global")))
    return found


def take(purpose: str, phone: str, citizen_id: int | None = None,
         client_address: str | None = None, owner: bool = False) -> list[str]:
    """Take one unit of every budget that applies to an SMS for `purpose` to `phone` (E.164).
    All or nothing: on the first counter over its limit, everything taken is given back and
    BudgetRefused is raised. `client_address` defaults to the request's client address;
    outside a request (worker, CLI) there is no per-address counter unless one is given."""
    taken: list[str] = []
    for key, limit, scope in counters(purpose, phone, citizen_id, client_address, owner):
        count = _store().incr(key, HOUR)
        taken.append(key)
        if count > limit:
            refund(taken)
            metrics.sms_budget_refused(scope)
            raise BudgetRefused(scope, HOUR)
    return taken


def refund(keys: list[str]) -> None:
    """Give back one unit of each budget in `keys` (the message was not sent)."""
    for key in keys:
        _store().incr(key, HOUR, -1)
