"""The social-insurance registry port ("Bảo hiểm xã hội" registration, issue 17 item 1): does
Vietnam Social Security (BHXH) hold a record under the social-insurance code `ma_bhxh` (mã số
BHXH, 10 digits) that names this ID number, this person and this birth date, and which phone
is registered with it? The registration code is sent to *that* phone (flows/register/bhxh.py):
whoever holds it is the insured person, as far as BHXH knows — the same proof of ownership the
carrier's KYC gives for a subscription (accounts/kyc.py), with possession then proven by the
SMS code.

- `registry`: a CSV file (header `ma_bhxh,id_number,full_name,birth_date,phone`), the local
  stand-in; `bhxh_registry` (default idp/data/bhxh_registry.csv), re-read when its
  modification time or size changes. A record matches when its code exists, its id_number
  equals the one entered, and its full_name (Unicode NFC, case folded, inner white space
  collapsed) and birth_date equal the entered ones.
- `http`: the production adapter's shape: POST `{"ma_bhxh", "id_number", "full_name",
  "birth_date"}` as JSON to `bhxh_http_url` → `{"found": true, "phone": "0912345678"}` or
  `{"found": false}` within `bhxh_timeout` seconds (the registry does the comparison).

`lookup` returns the record's phone (E.164) or None; a record whose phone is not a Vietnamese
mobile number is treated as no record (no code could reach anyone). Any failure (file
unreadable, registry unreachable, slow, non-2xx, not the expected JSON) raises `BhxhError`:
the citizen sees "cannot check now, try later" and nothing is created.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import requests
from flask import current_app

from idp.accounts.validation import DATA_DIR, mobile_or_none
from idp.platform.outbound import post_json
from idp.platform.registry_file import KeyedCsv, port_from_settings, same_text

log = logging.getLogger("idp.bhxh")
DEFAULT_REGISTRY = DATA_DIR / "bhxh_registry.csv"
HEADER = {"ma_bhxh", "id_number", "full_name", "birth_date", "phone"}


class BhxhError(Exception):
    """The social-insurance registry could not be asked."""


@dataclass(frozen=True)
class BhxhRecord:
    phone: str  # E.164


class BhxhProvider(Protocol):
    def lookup(self, code: str, id_number: str, full_name: str,
               birth_date: str) -> str | None: ...


class RegistryBhxh:
    def __init__(self, path: Path):
        self.file = KeyedCsv(path, HEADER, lambda row: row.get("ma_bhxh"), BhxhError)

    def lookup(self, code, id_number, full_name, birth_date) -> str | None:
        row = self.file.rows().get(code)
        if (row is None or row["id_number"] != id_number
                or not same_text(row["full_name"], full_name)
                or row["birth_date"] != birth_date):
            return None
        return row["phone"]


class HttpBhxh:
    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout
        self.session = requests.Session()

    def lookup(self, code, id_number, full_name, birth_date) -> str | None:
        body = {"ma_bhxh": code, "id_number": id_number, "full_name": full_name,
                "birth_date": birth_date}
        response = post_json(self.session, self.url, body, self.timeout, BhxhError,
                             "social-insurance registry")
        try:
            answer = response.json()
        except ValueError:
            raise BhxhError("social-insurance registry answered no JSON") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("found"), bool):
            raise BhxhError("social-insurance registry answer has no boolean 'found'")
        if not answer["found"]:
            return None
        phone = answer.get("phone")
        if not isinstance(phone, str) or len(phone) > 20:
            raise BhxhError("social-insurance registry answer has no 'phone'")
        return phone


def init_app(app) -> None:
    app.extensions["idp.bhxh"] = port_from_settings(app.config["IDP"], "bhxh", RegistryBhxh,
                                                      DEFAULT_REGISTRY, HttpBhxh)


def lookup(code: str, id_number: str, full_name: str, birth_date: str) -> BhxhRecord | None:
    """The record's phone when BHXH has `code` under this ID number, name and birth date;
    None otherwise. Raises BhxhError when the registry cannot be asked."""
    phone = current_app.extensions["idp.bhxh"].lookup(code, id_number, full_name, birth_date)
    mobile = mobile_or_none(phone) if phone else None
    if phone and mobile is None:
        log.warning("bhxh record without a usable mobile number")
    log.info("bhxh %s", "found" if mobile else "no record")
    return BhxhRecord(mobile) if mobile else None
