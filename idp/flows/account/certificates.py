"""Bound certificates on the account page (issue 15 item 4): the certificates an account
registered with (accounts/cert_bindings.py), one list per carrier through the certificate
methods' `enrolments`, each removable ("Gỡ") under a fresh full authentication like every
other authenticator (access.py), with an SMS notice written in the same transaction
(notify.py).

Removing a binding removes the record from the account; a valid certificate naming the
account's ID number or organisation code still signs in (cert_bindings' docstring says why).
"""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from idp.accounts import counter
from idp.flows.account import bp, flash_message, notify
from idp.flows.account.access import current, fresh_required
from idp.flows.register.choice import METHODS, carrier_label
from idp.methods import registry
from idp.methods.base import Enrolment
from idp.methods.certificate.method import CertificateMethod
from idp.platform import audit
from idp.platform.messages import msg
from idp.platform.models import Citizen


def carriers() -> list[CertificateMethod]:
    """Every certificate method of the registry, configured here or not: a binding made with
    a carrier since switched off is still listed and removable."""
    return [m for m in registry.all_methods() if isinstance(m, CertificateMethod)]


def bound(citizen: Citizen) -> list[tuple[str, Enrolment]]:
    """(carrier label, enrolment) of every bound certificate of the account."""
    return [(carrier_label(m.id), e) for m in carriers() for e in m.enrolments(citizen)]


def verification_label(citizen: Citizen) -> str:
    """How the account's identity was proven at registration, by the name of the method
    ("Thuê bao di động", "USB ký số"…); "" when not recorded."""
    method = citizen.verified_by or ""
    if method == "vnpost":  # activated from a counter's slip: where, and by whom
        place = counter.verified_at(citizen.id)
        if place is not None:
            return str(msg("counter.verified_label", counter=place[0], clerk=place[1]))
    if method == "vneid":  # created from a VNeID login: the "Bộ Công An" option
        return f"{METHODS['bca'].label} (VNeID)"
    if method in METHODS:
        return str(METHODS[method].label)
    return carrier_label(method) if method else ""


@bp.route("/certificates/<int:method_id>/remove", methods=["GET", "POST"])
@fresh_required()
def certificate_remove(method_id: int):
    citizen = current().citizen
    found = next(((m, e) for m in carriers() for e in m.enrolments(citizen)
                  if e.id == method_id), None)
    if found is None:
        return redirect(url_for("account.index"), 303)
    method, enrolment = found
    if request.method == "GET":
        return render_template(
            "account_confirm.html", title=msg("account.certificate_remove_title"),
            message=msg("account.certificate_remove_text", label=enrolment.label),
            button=msg("account.certificate_remove_button"))
    notices = notify.reserve(citizen.id, [citizen.phone], "certificate_removed")
    if not method.remove(citizen, method_id):  # staged; committed below
        return redirect(url_for("account.index"), 303)
    notify.stage(citizen.id, notices, "certificate_removed")
    audit.record("factor.certificate_removed", citizen_id=citizen.id,
                 carrier=method.id)  # commits all three
    flash_message(msg("account.certificate_removed"))
    return redirect(url_for("account.index"), 303)
