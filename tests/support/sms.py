"""The one SMS gateway fake of the in-process tests: the IdP's `outbox` SMS provider writes
every message to a file in the app's instance folder (idp/platform/sms.py), and these read it.

Codes and notices queued in the outbox table (idp/platform/outbox.py) reach that file when a
worker delivers them: `deliver_outbox` does one worker pass, as `idp worker --once`. Under a
served IdP (`live_idp`, the browser tests) the inline worker delivers them; `wait_for_code`
polls the file.

    sms = SmsGateway(app)
    before = sms.count(CITIZEN.phone)
    ...                                # the page sends a code
    code = sms.wait_for_code(CITIZEN.phone, before)

(The system tests, tests/system, run the IdP in other processes with an HTTP carrier fake of
their own: tests/system/harness.py `Carrier`.)
"""
from __future__ import annotations

import re
import time

CODE = re.compile(r"\b(\d{6})\b")


def deliver_outbox(app) -> int:
    """One worker's pass over everything due in the outbox table (idp/outbox.py), as `idp
    worker --once` does: reset codes, notices and back-channel logouts are delivered."""
    from idp.platform.outbox import Worker
    return Worker(app, name="test-worker").drain()


def read(app) -> list[dict]:
    """Every SMS in the outbox provider's file, as it is (nothing delivered first)."""
    return app.extensions["idp.sms"].read(limit=10 ** 6)


def outbox(app) -> list[dict]:
    """The SMS file of the `outbox` provider, after delivering the outbox table."""
    deliver_outbox(app)
    return app.extensions["idp.sms"].read(limit=1000)


def last_code(app, phone: str) -> str:
    """The 6-digit code of the newest SMS with a code to `phone` (E.164) in the outbox (a
    notice delivered from the outbox table after the code was sent may be newer)."""
    for message in reversed(outbox(app)):
        found = CODE.search(message["text"]) if message["to"] == phone else None
        if found:
            return found.group(1)
    raise AssertionError(f"no SMS with a code to {phone}")


def sms_count(app, phone: str) -> int:
    """How many SMS to `phone` (E.164) the file holds (nothing delivered first)."""
    return sum(1 for m in read(app) if m["to"] == phone)


def wait_for_code(app, phone: str, already: int, timeout: float = 20.0) -> str:
    """The 6-digit code of the first SMS to `phone` (E.164) after the first `already` (a
    served IdP's worker delivers it; this polls the file)."""
    deadline = time.monotonic() + timeout
    while True:
        messages = [m for m in read(app) if m["to"] == phone]
        if len(messages) > already:
            found = CODE.search(messages[already]["text"])
            assert found, f"the SMS to {phone} has no code: {messages[already]['text']!r}"
            return found.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no new SMS to {phone} (had {already})")
        time.sleep(0.1)  # polling an outbox file, not waiting for the page


class SmsGateway:
    """The fake gateway of one app, for tests that read several messages."""

    def __init__(self, app):
        self.app = app

    def deliver(self) -> int:
        return deliver_outbox(self.app)

    def messages(self, phone: str | None = None, deliver: bool = True) -> list[dict]:
        """The messages sent (to `phone` only, when given), oldest first."""
        sent = outbox(self.app) if deliver else read(self.app)
        return [m for m in sent if phone is None or m["to"] == phone]

    def count(self, phone: str) -> int:
        return sms_count(self.app, phone)

    def last_code(self, phone: str) -> str:
        return last_code(self.app, phone)

    def wait_for_code(self, phone: str, already: int, timeout: float = 20.0) -> str:
        return wait_for_code(self.app, phone, already, timeout)
