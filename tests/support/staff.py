"""Staff accounts and the staff console's sign-in for tests (issue 17 item 3):

    creds = create_staff(app, "hotro.an", "support")        # StaffCreds
    sign_in(client, creds)                                    # the real login form POST
    reauth(client, creds)                                     # the code again (fresh actions)
    totp_now(creds.totp_secret)                               # the current code

Each code is taken at most once per time step by the IdP, so totp_now gives the code of a
step newer than any this module handed out for that secret (the next step when the current
one was already used: the IdP accepts current ±1)."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pyotp

PASSWORD = "Mat-khau-can-bo-2026!"
_used: dict[str, int] = {}


@dataclass(frozen=True)
class StaffCreds:
    username: str
    password: str
    totp_secret: str

    @property
    def secret(self) -> str:
        return self.totp_secret


def create_staff(app, username: str, role: str, counter: str | None = None,
                 full_name: str | None = None) -> StaffCreds:
    from idp.accounts import staff
    from idp.platform.db import db
    with app.app_context():
        _member, secret = staff.create(username, full_name or f"Cán bộ {username}", role,
                                       PASSWORD, counter)
        db.session.commit()
    return StaffCreds(username, PASSWORD, secret)


def totp_now(secret: str, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    current = int(time.time() // totp.interval)
    step = current + offset_steps
    if offset_steps == 0 and _used.get(secret, -1) >= step:
        step = _used[secret] + 1  # current step already used: the next (accepted: drift)
        if step > current + 1:  # both used: wait for the next step
            time.sleep(max(0.0, (current + 1) * totp.interval - time.time()) + 0.05)
    _used[secret] = max(_used.get(secret, -1), step)
    return str(totp.generate_otp(step))


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def sign_in(client, creds: StaffCreds) -> None:
    page = client.get("/staff/login")
    resp = client.post("/staff/login", data={
        "csrf_token": _csrf(page.get_data(as_text=True)), "username": creds.username,
        "password": creds.password, "totp": totp_now(creds.totp_secret)})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]


def reauth(client, creds: StaffCreds) -> None:
    page = client.get("/staff/reauth")
    resp = client.post("/staff/reauth", data={
        "csrf_token": _csrf(page.get_data(as_text=True)),
        "totp": totp_now(creds.totp_secret)})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
