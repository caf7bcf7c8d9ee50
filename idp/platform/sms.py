"""The SMS port (CONTRACT.md §4): `outbox` appends JSON lines to a file under instance/
(development, tests, the benchmark's reading of codes), `http` POSTs to a gateway.

Either way the message is `{"message_id", "to", "text"}`. A gateway that refuses, fails or
hangs longer than `sms_timeout` raises `SmsError`; callers show "could not send, try again"
and refund whatever budget the attempt took.

Texts are Vietnamese without diacritics, as SMS from public services are: GSM-7 keeps one
message at 160 characters (diacritics force UCS-2 and 70), and every phone shows them.
"""
from __future__ import annotations

import fcntl
import json
import logging
import uuid
from pathlib import Path
from typing import Protocol

import requests
from flask import current_app

from idp.platform.masking import mask_phone
from idp.platform.outbound import post_json

log = logging.getLogger("idp.sms")
SERVICE_NAME = "DVC"


class SmsError(Exception):
    """The message could not be handed to the gateway."""


class SmsGateway(Protocol):
    def send(self, to: str, text: str, message_id: str | None = None) -> str: ...


def new_message(to: str, text: str, message_id: str | None = None) -> dict:
    """`message_id`: fixed by the caller when the message is retried (idp/outbox.py: the
    same id on every attempt, so the gateway can drop duplicates), else a new one."""
    return {"message_id": message_id or uuid.uuid4().hex, "to": to, "text": text}


class OutboxSms:
    def __init__(self, path: Path):
        self.path = path

    def send(self, to: str, text: str, message_id: str | None = None) -> str:
        message = new_message(to, text, message_id)
        line = json.dumps(message, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)  # one whole line per message, several workers
                fh.write(line)
        except OSError as exc:
            raise SmsError(f"outbox not writable: {exc.__class__.__name__}") from None
        return message["message_id"]

    def read(self, limit: int = 50) -> list[dict]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines[-limit:] if line.strip()]


class HttpSms:
    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout
        self.session = requests.Session()

    def send(self, to: str, text: str, message_id: str | None = None) -> str:
        message = new_message(to, text, message_id)
        post_json(self.session, self.url, message, self.timeout, SmsError, "gateway")
        return message["message_id"]


def gateway() -> SmsGateway:
    return current_app.extensions["idp.sms"]


def init_app(app) -> None:
    s = app.config["IDP"]
    if s["sms_provider"] == "http":
        if not s["sms_http_url"]:
            from idp.platform.config import ConfigError
            raise ConfigError("sms_http_url: required when sms_provider is http")
        app.extensions["idp.sms"] = HttpSms(s["sms_http_url"], s["sms_timeout"])
    else:
        path = Path(app.instance_path) / "sms-outbox.jsonl"
        app.extensions["idp.sms"] = OutboxSms(path)


def send(to: str, text: str, message_id: str | None = None) -> str:
    """Send through the configured gateway; logs the masked number only (never the text:
    it holds a code)."""
    if message_id:
        message_id = gateway().send(to, text, message_id)
    else:
        message_id = gateway().send(to, text)
    log.info("sms sent to %s id=%s", mask_phone(to), message_id)
    return message_id
