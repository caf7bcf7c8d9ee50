"""The carrier KYC port ("thuê bao chính chủ", CONTRACT.md §5): does the mobile subscription
`msisdn` belong, at the carrier, to the holder of `id_number`? This proves *ownership* of the
subscription; possession of the phone is proven separately by an SMS code (flows/register.py).

- `registry`: a CSV file (header `msisdn,id_number,full_name,birth_date`; msisdn national
  `0941234947` or E.164 `+84941234947`). A request matches when the phone's record exists and
  its id_number equals the one entered; its full_name and birth_date, when present in the
  record, must equal the entered ones too (Unicode NFC, case folded, inner white space
  collapsed). The file is `kyc_registry` (default idp/data/kyc_registry.csv) and is re-read
  when its modification time or size changes.
- `http`: POST `{"msisdn", "id_number", "full_name", "birth_date"}` as JSON to `kyc_http_url`
  → `{"match": true|false}` within `kyc_timeout` seconds.

Any failure (file unreadable, gateway unreachable, slow, non-2xx, not the expected JSON) raises
`KycError`: the caller shows "cannot check now, try later" and creates nothing.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import requests
from flask import current_app

from idp.accounts.validation import DATA_DIR, mobile_or_none
from idp.platform.audit import mask_phone
from idp.platform.outbound import post_json
from idp.platform.registry_file import KeyedCsv, port_from_settings, same_text

log = logging.getLogger("idp.kyc")
DEFAULT_REGISTRY = DATA_DIR / "kyc_registry.csv"


class KycError(Exception):
    """The carrier check could not be made."""


class KycProvider(Protocol):
    def match(self, msisdn: str, id_number: str, full_name: str, birth_date: str) -> bool: ...


class RegistryKyc:
    def __init__(self, path: Path):
        self.file = KeyedCsv(path, {"msisdn", "id_number"},
                             lambda row: mobile_or_none(row.get("msisdn", "")), KycError)

    def match(self, msisdn, id_number, full_name, birth_date) -> bool:
        phone = mobile_or_none(msisdn)
        row = self.file.rows().get(phone) if phone else None
        if row is None or row.get("id_number") != (id_number or "").strip():
            return False
        if row.get("full_name") and not same_text(row["full_name"], full_name):
            return False
        if row.get("birth_date") and row["birth_date"] != (birth_date or "").strip():
            return False
        return True


class HttpKyc:
    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout
        self.session = requests.Session()

    def match(self, msisdn, id_number, full_name, birth_date) -> bool:
        body = {"msisdn": msisdn, "id_number": id_number, "full_name": full_name,
                "birth_date": birth_date}
        response = post_json(self.session, self.url, body, self.timeout, KycError, "KYC gateway")
        try:
            answer = response.json()
        except ValueError:
            raise KycError("KYC gateway answered no JSON") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("match"), bool):
            raise KycError("KYC gateway answer has no boolean 'match'")
        return answer["match"]


def init_app(app) -> None:
    app.extensions["idp.kyc"] = port_from_settings(app.config["IDP"], "kyc", RegistryKyc,
                                                      DEFAULT_REGISTRY, HttpKyc)


def provider() -> KycProvider:
    return current_app.extensions["idp.kyc"]


def match(msisdn: str, id_number: str, full_name: str, birth_date: str) -> bool:
    """True when the carrier has `msisdn` registered to `id_number` (and the name and birth
    date, when it knows them). Raises KycError when the check cannot be made."""
    result = provider().match(msisdn, id_number, full_name, birth_date)
    log.info("kyc %s for %s", "match" if result else "no match", mask_phone(msisdn))
    return result
