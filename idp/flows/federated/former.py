"""The CMND path of the "federated" flow (issue 16 item 3): a citizen whose VNeID number has no
account, but who registered here years ago with a 9-digit CMND, proves that old account —
its ID number, password and captcha here, then its second factor (flows/second_factor.py) —
and the account moves to the 12-digit number (accounts/federation.move_former), so one
person ends with one account.

The password check is the login's (flows/login.Throttle: the same counters, per ID number
and browser, as the login page — this page is no cheaper a guessing oracle than that one),
and a wrong number, a wrong password or an account that is not an active citizen's all get
the login's one message. VNeID's verified birth date must match the old account's when both
are known: proving an account that is not one's own (a relative's password) must not move it
under one's own number.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from werkzeug.datastructures import MultiDict

from idp.accounts import federation
from idp.accounts.federation import Asserted
from idp.flows import second_factor
from idp.flows.login import Throttle, wait_message
from idp.interaction.engine import Flow, ViewResult
from idp.interaction.outcomes import Goto, Outcome, Stay
from idp.methods import password as password_method
from idp.platform import audit, captcha
from idp.platform.messages import msg


def _store() -> Any:
    return current_app.extensions["idp.store"]


def render(flow: Flow, context: dict[str, Any], values: dict[str, Any]) -> ViewResult:
    return render_template(
        "federated_former.html", cmnd=values.get("cmnd", ""),
        captcha_id=captcha.issue(_store(), current_app.config["IDP"]["captcha_ttl"],
                                 bound_to=flow.id, purpose="login"),
        refresh_captcha_url=flow.url, **context)


def handle(flow: Flow, form: MultiDict[str, str]) -> Outcome:
    if form.get("action") == "back":
        return Goto("no_account")
    cmnd = (form.get("cmnd") or "").strip()[:12]
    password = form.get("password") or ""
    keep = {"cmnd": cmnd}
    if not captcha.verify(_store(), form.get("captcha_id") or "", form.get("captcha") or "",
                          bound_to=flow.id, purpose="login"):
        return Stay({"captcha": msg("captcha.invalid")}, keep, 400)
    if len(cmnd) != federation.CMND_LENGTH or not cmnd.isdigit():
        return Stay({"cmnd": msg("federation.cmnd_format")}, keep, 400)
    if not password or len(password) > password_method.MAX_LENGTH:
        return Stay({"password": msg("login.password_required")}, keep, 400)
    throttle = Throttle(cmnd)
    wait = throttle.wait()
    if wait:
        return Stay({"form": wait_message(wait)}, keep, 429, retry_after=wait)
    citizen = federation.former_account(cmnd)
    if not password_method.check(citizen, password):
        failures, _wait = throttle.failed()
        audit.record("federation.cmnd_failure", citizen_id=citizen.id if citizen else None,
                     client_id=flow.client_id or None, failures=failures)
        return Stay({"form": msg("method.password_wrong")}, keep, 400)
    assert citizen is not None  # check() is False for an unknown account
    throttle.succeeded()
    asserted = Asserted.from_record(flow.data["asserted"])
    if asserted.birth_date and citizen.birth_date and asserted.birth_date != citizen.birth_date:
        audit.record("federation.cmnd_mismatch", citizen_id=citizen.id,
                     client_id=flow.client_id or None)
        return Stay({"form": msg("federation.cmnd_mismatch")}, keep, 403)
    flow.data.update(former=True, first="password")
    return Goto(second_factor.start(flow, citizen))
