"""A new set of recovery codes on the account page: the flow kind `account_recovery_codes`
(enrolment.py): confirm → issued.

A new set replaces the old one. The codes are rendered in the answer to the POST that made
them (`Finish(show=…)`, sent no-store) and kept nowhere in clear: shown once. "issued" is
claimed before the codes are made, so two parallel submits make one set.
"""
from __future__ import annotations

from typing import ClassVar

from flask import render_template, request
from werkzeug.datastructures import MultiDict

from idp.accounts import factors
from idp.flows.account import bp, enrolment, notify
from idp.flows.account.access import current, fresh_required
from idp.flows.account.enrolment import AccountFlow
from idp.flows.claim import claim
from idp.interaction.engine import Fields, Finish, Flow, Outcome, ViewResult, table
from idp.platform.db import db

KIND = "account_recovery_codes"


class RecoveryCodesIssue(AccountFlow):
    name = KIND
    transitions = table(confirm="issued", issued="")
    endpoints: ClassVar[dict[str, str]] = {"confirm": "account.recovery_codes"}

    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        return render_template("account_recovery.html",
                               left=factors.recovery_codes_left(current().citizen))

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        citizen = current().citizen
        claim(self, flow, "issued")
        notices = notify.reserve(citizen.id, [citizen.phone], "recovery_codes")
        codes = factors.new_recovery_codes(citizen, commit=False)
        notify.stage(citizen.id, notices, "recovery_codes")
        db.session.commit()
        return Finish(show=render_template("account_recovery_codes.html", codes=codes))


@bp.route("/recovery-codes", methods=["GET", "POST"])
@fresh_required()
def recovery_codes() -> ViewResult:
    """GET starts the confirmation; POST issues (a POST without the page first is taken as
    confirmed: the fresh authentication is what guards it)."""
    account = current()
    flow = enrolment.find(KIND, account, "confirm") if request.method == "POST" else None
    if flow is None:
        flow = enrolment.start(KIND, account, {})
    return enrolment.answer(flow, request.form if request.method == "POST" else None)
