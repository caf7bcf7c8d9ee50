"""The citizens the VNeID stand-in lets a tester log in as (invented, test-only people).

A citizen is `{"citizenPid", "fullName", "birthDate" (YYYY-MM-DD), "accountLevel" (1 | 2),
"accountType" (optional, "CONG_DAN")}`; `--citizens FILE.json` or POST /_control/citizens
replaces the list below.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A fixed namespace for the per-citizen OIDC subject (uuid5 of the ID number): stable across
# restarts, and not the ID number itself.
SUBJECT_NAMESPACE = uuid.UUID("5b3f0e52-7a0c-4d55-9a51-6e1d2c0b9a17")

BIRTH_DATE_FORMATS = ("YYYY-MM-DD", "YYYYMMDD", "DD/MM/YYYY")

DEFAULT_CITIZENS: list[dict[str, Any]] = [
    # also a local demo account in the IdP
    {"citizenPid": "066085004217", "fullName": "Nguyễn Văn An", "birthDate": "1985-03-14",
     "accountLevel": 2},
    # new to the IdP
    {"citizenPid": "066190008812", "fullName": "Võ Thị Thu Trang", "birthDate": "1990-06-25",
     "accountLevel": 2},
    # new to the IdP, level 1
    {"citizenPid": "001200000001", "fullName": "Đặng Quốc Bảo", "birthDate": "2000-01-15",
     "accountLevel": 1},
    # the IdP demo holds this person's old 9-digit CMND account 241234567
    {"citizenPid": "066078009934", "fullName": "Y Khoa Niê", "birthDate": "1978-04-02",
     "accountLevel": 2},
]


@dataclass(frozen=True)
class Citizen:
    pid: str
    full_name: str
    birth_date: str  # YYYY-MM-DD
    level: int
    account_type: str = "CONG_DAN"

    @property
    def subject(self) -> str:
        return str(uuid.uuid5(SUBJECT_NAMESPACE, self.pid))

    def birth_date_as(self, fmt: str) -> str:
        year, month, day = self.birth_date.split("-")
        if fmt == "YYYYMMDD":
            return f"{year}{month}{day}"
        if fmt == "DD/MM/YYYY":
            return f"{day}/{month}/{year}"
        return self.birth_date

    def vneid_fields(self, birth_date_format: str = "YYYY-MM-DD") -> dict[str, Any]:
        """Shape A's userinfo (vneid.md §4)."""
        return {"citizenPid": self.pid, "fullName": self.full_name,
                "birthDate": self.birth_date_as(birth_date_format),
                "accountType": self.account_type, "accountLevel": self.level}


def parse_citizens(entries: Any) -> list[Citizen]:
    if not isinstance(entries, list):
        raise ValueError("a JSON list of citizens is expected")
    found = []
    for entry in entries:
        level = int(entry.get("accountLevel", 2))
        birth = str(entry["birthDate"])
        parts = birth.split("-")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ValueError("birthDate must be YYYY-MM-DD")
        found.append(Citizen(pid=str(entry["citizenPid"]), full_name=str(entry["fullName"]),
                             birth_date=birth, level=level,
                             account_type=str(entry.get("accountType") or "CONG_DAN")))
    return found


def load_citizens(path: str | Path | None) -> list[dict[str, Any]]:
    """The raw entries of FILE.json, or the default list (validated either way)."""
    if not path:
        return [dict(c) for c in DEFAULT_CITIZENS]
    entries: list[dict[str, Any]] = json.loads(Path(path).read_text(encoding="utf-8"))
    parse_citizens(entries)
    return entries
