"""Registration's data about the person: the form's checks (`validate_form`), whether the
ID number or the phone already has an account, and the creation of the account in one
transaction (package docstring, "Atomicity") — a citizen's, or an organisation's registered
by certificate (register/certificate.py), with its certificate binding, or a citizen's
created from a VNeID login (flows/federated/flow.py), with its link."""
from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.datastructures import MultiDict

from idp.accounts import cert_bindings, counter_activation, federation, organisations
from idp.accounts.validation import parse_person_form
from idp.flows.register.limits import store
from idp.interaction.engine import Flow
from idp.platform import audit
from idp.platform.crypto import sha256_hex
from idp.platform.db import db, now
from idp.platform.messages import msg
from idp.platform.models import AuthMethod, Citizen

FORM_FIELDS = ("full_name", "id_number", "birth_date", "gender", "phone", "email")
CONSENT_VALUES = ("yes", "on", "1", "true")


def validate_form(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(normalised person, field errors): the person's fields (validation.parse_person_form)
    and the consent."""
    person, errors = parse_person_form(form)
    if form.get("consent") not in CONSENT_VALUES:
        errors["consent"] = msg("register.consent_required")
    return person, errors


COMPLAINT_FIELDS = ("id_number", "full_name", "birth_date", "phone")


def complaint_data(flow_data: dict[str, Any]) -> dict[str, Any] | None:
    """The complaint flow's data (flows/complaint.py), from a registration flow's data; None
    unless that flow proved possession and ownership and ended on an existing account of its
    ID number. The only builder of that data, so the complaint form says nothing about
    accounts that the caller was not already told."""
    person = flow_data.get("person") or {}
    if not (flow_data.get("possession") and flow_data.get("ownership")
            and flow_data.get("reason") == "id_number"
            and all(person.get(f) for f in COMPLAINT_FIELDS)):
        return None
    return {"person": {f: person[f] for f in COMPLAINT_FIELDS}, "proven": True}


def national(phone: str) -> str:
    """'+84941234947' -> '0941234947': the phone as the citizen typed it (no spaces)."""
    return "0" + phone[3:] if phone.startswith("+84") else phone


def phone_in_use(phone: str) -> bool:
    """Whether `phone` is a citizen's (registered number or a phone row). An organisation's
    contact number does not count: it receives notices, never codes that sign in."""
    return db.session.scalar(
        select(Citizen.id).outerjoin(AuthMethod, AuthMethod.citizen_id == Citizen.id)
        .where(Citizen.status != "deleted",
               or_(and_(Citizen.phone == phone, Citizen.account_type == "citizen"),
                   AuthMethod.phone == phone)).limit(1)) is not None


def existing(person: dict[str, Any]) -> str | None:
    """Why this person cannot register: "id_number" or "phone" already has an account."""
    if db.session.scalar(select(Citizen.id).where(
            Citizen.id_number == person["id_number"])) is not None:
        return "id_number"
    if phone_in_use(person["phone"]):
        return "phone"
    return None


def owner_of(id_number: str) -> Citizen | None:
    return db.session.scalar(select(Citizen).where(Citizen.id_number == id_number))


def _account_fields(flow: Flow, person: dict[str, Any]) -> dict[str, Any]:
    """The account's type, organisation fields and verification (account_columns.py)."""
    cert = flow.data.get("cert")
    asserted = flow.data.get("asserted")
    if flow.data.get("counter"):  # activated from a counter's slip (register/activate.py)
        return {"ial": "IAL2", "verified_by": "vnpost"}
    if flow.data.get("bhxh"):  # the social-insurance record (register/bhxh.py)
        return {"ial": "IAL2", "verified_by": "vssid"}
    if asserted:  # created from a VNeID login (flows/federated/flow.py)
        return {"ial": "IAL2" if asserted.get("account_level") == 2 else "IAL1",
                "verified_by": "vneid"}
    if not cert:
        return {"ial": "IAL2", "verified_by": "mobile"}
    fields = {"account_type": cert["kind"], "ial": "IAL3", "verified_by": cert["carrier"]}
    if cert["kind"] != organisations.CITIZEN:
        fields.update(org_mst=cert.get("mst"), org_mns=cert.get("mns"),
                      legal_representative=person.get("legal_representative"))
    return fields


def create(flow: Flow, person: dict[str, Any], password_hash: str) -> Citizen | str:
    """One transaction: the Citizen (or organisation), its default SMS method (a citizen's),
    the certificate binding (the certificate path), the audit row; a counter registration
    marked activated (register/activate.py). Returns the account, or why not: "id_number" /
    "phone" (already used), "busy", "error", "gone" (the counter registration was not live)."""
    fields = _account_fields(flow, person)
    citizen_account = fields.get("account_type", "citizen") == "citizen"
    lock = "register-phone:" + sha256_hex(person["phone"])
    if not store().add(lock, {"flow": flow.id}, 30):
        return "busy"
    try:
        if citizen_account and phone_in_use(person["phone"]):
            return "phone"
        citizen = Citizen(sub=str(uuid.uuid4()), id_number=person["id_number"],
                          full_name=person["full_name"], birth_date=person["birth_date"],
                          gender=person["gender"], phone=person["phone"],
                          email=person.get("email"), password_hash=password_hash, **fields)
        db.session.add(citizen)
        db.session.flush()
        if citizen_account:
            db.session.add(AuthMethod(citizen_id=citizen.id, kind="sms", phone=person["phone"],
                                      is_default=True, created_at=now()))
        if flow.data.get("cert"):
            db.session.add(cert_bindings.new(citizen.id, flow.data["cert"]))
        if flow.data.get("asserted"):
            db.session.add(federation.new_row(
                citizen.id, federation.Asserted.from_record(flow.data["asserted"]), "created",
                login=True))
        counter = flow.data.get("counter")  # register/activate.py: the slip's registration
        if counter and not counter_activation.mark_activated(counter, citizen.id):
            db.session.rollback()
            return "gone"
        audit.record("register.created", citizen_id=citizen.id,
                     client_id=flow.client_id or None, commit=False,
                     method=flow.data.get("method"), ial=fields["ial"],
                     account_type=fields.get("account_type", "citizen"),
                     phone=audit.mask_phone(person["phone"]))
        db.session.commit()
        return citizen
    except IntegrityError:
        db.session.rollback()
        return "id_number"
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("registration failed: %s", exc.__class__.__name__)
        return "error"
    finally:
        try:
            store().delete(lock)
        except SQLAlchemyError:
            pass
