"""What every certificate carrier (USB ký số, SIM ký số, VNPT SmartCA) shares as a sign-in
method: it is a first factor that *identifies* — the certificate names the account — and a
login with it reaches LoA3 (base.Method's `level`).

`identify(flow_id, response)` is the first login: the proof (proof.py) and the account the
certificate names. `verify(flow_id, citizen, response)` is the interface's check for an
account already known (the step-up of a LoA2 session to LoA3): the certificate must name
that same account. `response` is the carrier's answer as the flow received it, a JSON object
whose fields each carrier defines (`proof_of`).

Which account a certificate signs in is the accounts layer's rule
(accounts/cert_accounts.py: a person's by ID number; organisations by their codes).
"""
from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any

from flask import has_app_context

from idp.accounts import cert_accounts, cert_bindings
from idp.methods.base import Enrolment, Factor, Method, Option
from idp.methods.certificate.proof import Proven
from idp.methods.refusal import Refusal
from idp.platform.messages import msg
from idp.platform.models import Citizen
from idp.platform.pki import validation


class CertificateMethod(Method, id="certificate", amr=(), factor=Factor.FIRST, level="LoA3"):
    """A carrier: subclasses declare their own id and amr and implement `proof_of`."""

    def options(self, citizen: Citizen) -> list[Option]:
        """Any account can sign in with a certificate naming its ID number: nothing to
        enrol first (the certificate proves the identity, IAL3)."""
        return [Option(self.id, self.id, "")]

    @abstractmethod
    def proof_of(self, flow_id: str, answer: dict[str, Any]) -> Proven:
        """Verify this carrier's answer for the flow's challenge. Raises Refusal."""

    def available(self) -> bool:
        """Only where trust anchors are configured (pki_trust_anchors): without them no
        certificate can pass, and LoA3 must be refused before the citizen tries."""
        return has_app_context() and bool(validation.current_policy().anchors)

    def identify(self, flow_id: str, response: str) -> tuple[Citizen, Proven]:
        """The active account the certificate names, with the proof. Raises Refusal."""
        proven = self.proof_of(flow_id, parse(response))
        try:
            account = cert_accounts.account_for(proven.identity)
            checked = proven.certificate
            cert_bindings.admit(account, checked.sha256, cert_bindings.facts(
                self.id, checked.sha256, checked.issuer, checked.serial, proven.identity.uids))
        except cert_accounts.AccountRefused as exc:
            raise Refusal(msg(exc.message_id), exc.status) from None
        except cert_bindings.CertificateRemoved:
            raise Refusal(msg("certificate.removed"), 403) from None
        return account, proven

    def verify(self, challenge_id: str, citizen: Citizen, response: str) -> None:
        found, _ = self.identify(challenge_id, response)
        if found.id != citizen.id:
            raise Refusal(msg("certificate.other_account"), 403)

    def enrolments(self, citizen: Citizen) -> list[Enrolment]:
        """The certificates bound to the account with this carrier when it registered
        (accounts/cert_bindings.py), for the account page."""
        return [Enrolment(self.id, row.id, cert_bindings.label(row), created_at=row.created_at)
                for row in cert_bindings.rows(citizen, self.id)]

    def remove(self, citizen: Citizen, enrolment_id: int) -> bool:
        """Any time (staged; the caller commits with its notice): a binding is a record of
        the certificate, and the account keeps every other way in."""
        return cert_bindings.remove(citizen, enrolment_id, self.id)


def parse(response: str) -> dict[str, Any]:
    """The carrier's answer: a JSON object of strings, else a Refusal."""
    try:
        answer = json.loads(response)
    except ValueError:
        raise Refusal(msg("certificate.signature_invalid")) from None
    if not isinstance(answer, dict) or not all(isinstance(v, str) for v in answer.values()):
        raise Refusal(msg("certificate.signature_invalid"))
    return answer
