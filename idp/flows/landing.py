"""The page at `/` (issue 12 item 6): what someone who opens the IdP's bare address sees.

- `home_url` set: a redirect there (e.g. the province's public-service portal).
- Otherwise a short page naming the service, with a link to the citizen's account page.
- In development (`env = "development"`, as under ./run) the same page is the demo's front
  door: links to the demo portals (`dev_portal_urls`), to the SMS page (/_dev/sms, present only
  with the outbox provider outside production) and the demo accounts with their published
  passwords, read from idp/data/demo_citizens.jsonl — the file `idp init --demo` loads, so the
  page shows exactly what was loaded; and the staff console's demo members
  (idp/data/demo_staff.json) with the authenticator code of the moment, computed from their
  published secrets, so the console can be tried without an authenticator app. Nothing of
  this is rendered in any other environment.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

log = logging.getLogger("idp.landing")

bp = Blueprint("landing", __name__)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEMO_CITIZENS = DATA_DIR / "demo_citizens.jsonl"
DEMO_CLIENTS = DATA_DIR / "demo_clients.json"
DEMO_STAFF = DATA_DIR / "demo_staff.json"
SMS_ENDPOINT = "devtools.sms_outbox"


@bp.get("/")
def index() -> ResponseReturnValue:
    settings = current_app.config["IDP"]
    if settings["home_url"]:
        return redirect(settings["home_url"], 302)
    development = settings["env"] == "development"
    has_sms_page = SMS_ENDPOINT in current_app.view_functions
    return render_template(
        "landing.html", development=development,
        portals=demo_portals(settings["dev_portal_urls"]) if development else [],
        citizens=demo_citizens() if development else [],
        staff=demo_staff() if development else [],
        sms_url=url_for(SMS_ENDPOINT) if has_sms_page else None)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def demo_portals(urls: list[str]) -> list[dict[str, str]]:
    """[{name, url}] for each configured portal URL; the name is the demo client's whose
    redirect URI is on that origin, else the address itself (ports moved away from the
    registered ones)."""
    names: dict[str, str] = {}
    try:
        for client in json.loads(DEMO_CLIENTS.read_text(encoding="utf-8")):
            for uri in client.get("redirect_uris", []):
                names.setdefault(_origin(uri), client.get("client_name"))
    except (OSError, ValueError, AttributeError, TypeError):
        log.warning("demo clients unreadable: %s", DEMO_CLIENTS)
    return [{"url": url, "name": names.get(_origin(url)) or urlsplit(url).netloc}
            for url in urls]


def demo_citizens() -> list[dict[str, str]]:
    """The demo citizens' ID number, name, phone and password (a bad line is skipped)."""
    citizens: list[dict[str, str]] = []
    try:
        lines = DEMO_CITIZENS.read_text(encoding="utf-8").splitlines()
    except OSError:
        log.warning("demo citizens unreadable: %s", DEMO_CITIZENS)
        return []
    for line in lines:
        try:
            row = json.loads(line)
            citizens.append({key: str(row[key]) for key in
                             ("id_number", "full_name", "phone", "password")})
        except (ValueError, KeyError, TypeError):
            continue
    return citizens


def demo_staff() -> list[dict[str, str]]:
    """The demo staff members' username, name, role, password and current TOTP code."""
    import pyotp

    from idp.accounts.staff_roles import label as role_label
    try:
        rows = json.loads(DEMO_STAFF.read_text(encoding="utf-8"))
        return [{"username": r["username"], "full_name": r["full_name"],
                 "role": str(role_label(r["role"])), "password": r["password"],
                 "code": pyotp.TOTP(r["totp_secret"]).now()} for r in rows]
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("demo staff unreadable: %s", DEMO_STAFF)
        return []
