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

import csv
import logging
import threading
import unicodedata
from pathlib import Path
from typing import Protocol

import requests
from flask import current_app

from idp.accounts.validation import DATA_DIR, ValidationError, normalize_phone
from idp.platform.audit import mask_phone
from idp.platform.outbound import post_json

log = logging.getLogger("idp.kyc")
DEFAULT_REGISTRY = DATA_DIR / "kyc_registry.csv"


class KycError(Exception):
    """The carrier check could not be made."""


class KycProvider(Protocol):
    def match(self, msisdn: str, id_number: str, full_name: str, birth_date: str) -> bool: ...


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").casefold().split())


def _e164(msisdn: str) -> str | None:
    try:
        return normalize_phone(msisdn)
    except ValidationError:
        return None


class RegistryKyc:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._rows: dict[str, dict] = {}

    def _load(self) -> dict[str, dict]:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise KycError(f"registry unreadable: {exc.__class__.__name__}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                rows: dict[str, dict] = {}
                try:
                    with open(self.path, encoding="utf-8-sig", newline="") as fh:
                        reader = csv.DictReader(fh)
                        if not {"msisdn", "id_number"} <= set(reader.fieldnames or ()):
                            raise KycError("registry header must name msisdn and id_number")
                        for row in reader:
                            phone = _e164((row.get("msisdn") or "").strip())
                            if phone:
                                rows[phone] = {k: (v or "").strip() for k, v in row.items()
                                               if k}
                except (OSError, UnicodeDecodeError, csv.Error) as exc:
                    raise KycError(f"registry unreadable: {exc.__class__.__name__}") from None
                self._rows, self._stamp = rows, stamp
            return self._rows

    def match(self, msisdn, id_number, full_name, birth_date) -> bool:
        phone = _e164(msisdn)
        row = self._load().get(phone) if phone else None
        if row is None or row.get("id_number") != (id_number or "").strip():
            return False
        if row.get("full_name") and _norm(row["full_name"]) != _norm(full_name):
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
    from idp.platform.config import ConfigError
    s = app.config["IDP"]
    if s["kyc_provider"] == "http":
        if not s["kyc_http_url"].startswith(("http://", "https://")):
            raise ConfigError("kyc_http_url: an http(s) URL is required when kyc_provider "
                              "is http")
        app.extensions["idp.kyc"] = HttpKyc(s["kyc_http_url"], s["kyc_timeout"])
    elif s["kyc_provider"] == "registry":
        app.extensions["idp.kyc"] = RegistryKyc(Path(s["kyc_registry"] or DEFAULT_REGISTRY))
    else:
        raise ConfigError("kyc_provider: must be registry or http")


def provider() -> KycProvider:
    return current_app.extensions["idp.kyc"]


def match(msisdn: str, id_number: str, full_name: str, birth_date: str) -> bool:
    """True when the carrier has `msisdn` registered to `id_number` (and the name and birth
    date, when it knows them). Raises KycError when the check cannot be made."""
    result = provider().match(msisdn, id_number, full_name, birth_date)
    log.info("kyc %s for %s", "match" if result else "no match", mask_phone(msisdn))
    return result
