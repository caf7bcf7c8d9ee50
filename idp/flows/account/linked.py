"""Linked identities on the account page (issue 16 item 3): the VNeID identities linked to
the account (accounts/federation.py), listed through the federated method's `enrolments`
and removable ("Gỡ liên kết") under a fresh full authentication like every authenticator
(access.py), with an SMS notice written in the same transaction.

Removing a link removes the record; a later VNeID login with the same personal
identification number links the account again (the number is the key): removing is for a
link the citizen does not recognise, and it is told to the account's phones."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from idp.accounts import federation, notices
from idp.accounts.factors import phones
from idp.flows.account import bp, flash_message
from idp.flows.account.access import current, fresh_required
from idp.methods import registry
from idp.methods.base import Enrolment
from idp.platform import audit
from idp.platform.messages import msg
from idp.platform.models import Citizen


def listed(citizen: Citizen) -> list[Enrolment]:
    return registry.by_id("federated").enrolments(citizen)


@bp.route("/linked/<int:link_id>/remove", methods=["GET", "POST"])
@fresh_required()
def linked_remove(link_id: int):
    citizen = current().citizen
    found = next((e for e in listed(citizen) if e.id == link_id), None)
    if found is None:
        return redirect(url_for("account.index"), 303)
    if request.method == "GET":
        return render_template(
            "account_confirm.html", title=msg("federation.unlink_title"),
            message=msg("federation.unlink_text", label=found.label),
            button=msg("federation.unlink_button"))
    reserved = notices.reserve(phones(citizen), citizen.id, "vneid_unlinked")
    if not registry.by_id("federated").remove(citizen, link_id):  # staged; committed below
        return redirect(url_for("account.index"), 303)
    notices.stage(reserved, federation.notice_text("vneid_unlinked"), "vneid_unlinked",
                  citizen.id)
    audit.record("federation.unlinked", citizen_id=citizen.id)  # commits all three
    flash_message(msg("federation.unlinked"))
    return redirect(url_for("account.index"), 303)
