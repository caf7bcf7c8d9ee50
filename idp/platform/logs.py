"""Logs: one line per record on stderr, readable text (development, tests) or one JSON object
(production; setting `log_format`, empty = json when env is production, text otherwise).

Every line carries `request_id` and `node` (host:pid). The request id is the caller's
`X-Request-Id` when it looks like one (`[A-Za-z0-9._-]{1,64}`, and not an ID number or a phone
number), otherwise a new random one; it is echoed in the response's `X-Request-Id`. Each request
ends with one access line (logger `idp.access`: method, path without the query string — query
strings carry codes and tokens —, status, duration_ms).

Personal data never reaches a log line in clear: a filter on the handler masks 12- and 9-digit
ID numbers and Vietnamese mobile numbers in every message, argument and traceback, with the
audit trail's masks (066xxxxxx217, 0941xxx947). Digits that belong to something else —
timestamps (10 digits), fractions, durations, key ids and hex strings — are left alone.

The handler sits on the `idp` logger (every module's logger is a child); third-party libraries
keep their own. Operator commands keep their plain stderr output (`cli_scope`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import socket
import sys
import time
import uuid

from flask import Flask, g, has_app_context, request

from idp.platform.config import ConfigError
from idp.platform.masking import mask_id_number, mask_phone

FORMATS = ("text", "json")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A phone (+84 and 9 digits, or 0 and 9 digits) or an ID number (12 or 9 digits) standing on its
# own: not inside a word, key id or hex string, not a fraction, not the integer part of one.
_PERSONAL = re.compile(r"(?<![A-Za-z0-9_-])(?<!\d\.)(?:(\+84\d{9}|0\d{9})|(\d{12}|\d{9}))"
                       r"(?![A-Za-z0-9_-])(?!\.\d)")
# Attributes given with `extra=` that are text from the request.
_EXTRA_TEXT = ("path",)
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
_HOST = socket.gethostname()
access_log = logging.getLogger("idp.access")


def mask_text(text: str) -> str:
    return _PERSONAL.sub(lambda m: mask_phone(m.group(1)) if m.group(1)
                         else mask_id_number(m.group(2)), text)


def node() -> str:
    return f"{_HOST}:{os.getpid()}"  # the pid at emit time: workers fork after import


class MaskPersonalData(logging.Filter):
    """Formats the message once, masks it, and masks the traceback and request text."""

    _plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "idp_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: let the handler report it
            return True
        record.msg, record.args = mask_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for name in _EXTRA_TEXT:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, mask_text(value))
        record.idp_masked = True
        return True


class RequestContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_app_context() else None
        record.node = node()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "node": getattr(record, "node", None) or node(),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
                         defaults={"request_id": "-"})

    def formatMessage(self, record: logging.LogRecord) -> str:
        # One record, one line: a newline in request data cannot forge another line.
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test and CLI runners replace it)."""

    def __init__(self):
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr


_handler = _Stderr()
_handler.addFilter(RequestContext())
_handler.addFilter(MaskPersonalData())


def log_format(settings: dict) -> str:
    chosen = (settings.get("log_format") or "").strip().lower()
    if not chosen:
        return "json" if settings["env"] == "production" else "text"
    if chosen not in FORMATS:
        raise ConfigError(f"log_format: must be text or json, got {chosen!r}")
    return chosen


# --------------------------------------------------------------------------- requests

def _begin():
    g.log_start = time.perf_counter()
    given = request.headers.get("X-Request-Id", "")
    accepted = REQUEST_ID.fullmatch(given) and mask_text(given) == given
    g.request_id = given if accepted else uuid.uuid4().hex


def _end(response):
    if "request_id" not in g:  # a hook before ours failed
        g.request_id = uuid.uuid4().hex
    response.headers["X-Request-Id"] = g.request_id
    if g.get("access_logged"):
        return response
    g.access_logged = True
    started = g.get("log_start")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    access_log.info("%s %s %s %sms", request.method, request.path, response.status_code,
                    duration_ms, extra={"method": request.method, "path": request.path,
                                        "status": response.status_code,
                                        "duration_ms": duration_ms})
    return response


def configure(app: Flask) -> None:
    """Call first in create_app. Sets the handler's format for this app's `log_format`."""
    from flask.logging import default_handler
    fmt = log_format(app.config["IDP"])
    _handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger = logging.getLogger("idp")
    logger.removeHandler(default_handler)
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    app.logger  # noqa: B018 - Flask adds its own handler on first use unless one is there
    app.before_request(_begin)
    app.after_request(_end)


@contextlib.contextmanager
def cli_scope():
    """Operator commands: their output is their own; `idp` logs go to the CLI's plain stderr
    handler at WARNING and above, as before the app was created."""
    logger = logging.getLogger("idp")
    level, attached = logger.level, _handler in logger.handlers
    logger.setLevel(logging.WARNING)
    logger.removeHandler(_handler)
    try:
        yield
    finally:
        logger.setLevel(level)
        if attached:
            logger.addHandler(_handler)
