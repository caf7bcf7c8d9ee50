"""The VNPT-CA plugin protocol as the USB-plugin stand-in (standins/usb_plugin.py) answers it,
without any networking: `Plugin.handle` turns one request message into one reply, so the
behaviour is read, and could be driven, apart from the websocket server.

Protocol (as VNPT's JS library speaks it): each websocket text message is a JSON request
`{"functionID": n, "funcCallback": name, "args": [strings], "domain": page host}`; each reply
is the text `<result>*<funcCallback>` (`callbackDefault` when none was named). Implemented:
  7  checkPlugin           -> "1"
  6  setLicenseKey [lic]   -> {"code": 0|1, "data": "", "error": …} (real reply shape unknown)
 11  getVersion            -> a version string
  0  GetCertInfo [onlyToken, serial?] -> JSON {base64, serial, subjectCN, issuerCN, notBefore,
                              notAfter} of the chosen token, or "" when no certificate can be
                              read (what VNPT's pages test for)
  4  SignCMS [base64 data] -> {"code", "data": Base64 DER CMS SignedData, "error"}
  9  signHash [base64 digest] -> the same shape; a detached CMS over the digest
Signing uses the token the last GetCertInfo chose (else `Settings.serial`, else the first);
that choice, like the settings, belongs to the plugin process, not to one connection.
Other function ids -> {"code": 5, …}; a request that is not such JSON -> {"code": 1, …}.
Codes (VNPT's demo page): 0 OK, 1 bad input, 2 cannot read the certificate, 3 signing error,
4 certificate without private key, 11 the user cancelled.

Modes (`Settings.mode`), set at start or over the control socket, model what a citizen's PC
does: "ok"; "cancel" (the user closes the PIN dialog: signing answers 11); "no_key" (4);
"cert_unreadable" (GetCertInfo "", signing 2); "sign_error" (3); "wrong_cert" (GetCertInfo
reports the chosen token, but the signature is made by the next token: the user picked another
certificate in the second chooser). "Not running" is simply not starting it: nothing answers
on the port. `delay` seconds hold every reply (or those of `slow_functions`). `licence`
"check" rejects a licence that is expired, not yet valid, for another domain, or unreadable
(its XML signature is not checked); "any" accepts everything.

Control: the websocket path `/control` takes JSON objects `{"op": "configure", <settings>}`,
`{"op": "reset"}` (defaults, forget calls) and `{"op": "state"}`, and answers
`{"ok": true, "settings": …, "calls": […]}` (every plugin request seen: function, callback,
domain, args, origin) or `{"ok": false, "error": …}`. Test-only, like everything here.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
from dataclasses import asdict, dataclass, fields
from xml.etree import ElementTree

from standins.usb_token import Token, TokenError

GET_CERT_INFO, SIGN_CMS, SET_LICENSE_KEY, CHECK_PLUGIN, SIGN_HASH, GET_VERSION = 0, 4, 6, 7, 9, 11
OK, BAD_INPUT, CANNOT_READ_CERT, SIGN_ERROR, NO_PRIVATE_KEY, UNKNOWN, CANCELLED = (
    0, 1, 2, 3, 4, 5, 11)
VERSION = "1.0.0.0-standin"
MODES = ("ok", "cancel", "no_key", "cert_unreadable", "sign_error", "wrong_cert")
PLUGIN_PATH, CONTROL_PATH = "/plugin", "/control"
# Licence dates are Vietnamese local time, "dd/MM/yyyy HH:mm:ss" (pki.md §2 samples).
_VN = dt.timezone(dt.timedelta(hours=7))
_LICENCE_TIME = "%d/%m/%Y %H:%M:%S"


@dataclass
class Settings:
    """What the plugin will do; see the module docstring."""

    mode: str = "ok"
    delay: float = 0.0
    slow_functions: list[int] | None = None  # None: `delay` holds every reply
    serial: str | None = None  # the token the user picks; None: the first
    detached: bool = False  # SignCMS without the content inside
    licence: str = "any"  # or "check"

    def check(self, tokens: list[Token]) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.mode == "wrong_cert" and len(tokens) < 2:
            raise ValueError("wrong_cert needs a second token")
        if not 0 <= float(self.delay) <= 600:
            raise ValueError("delay: 0 to 600 seconds")
        if self.licence not in ("any", "check"):
            raise ValueError("licence: any or check")
        if self.serial is not None and _find(tokens, self.serial) is None:
            raise ValueError(f"no token with serial {self.serial}")


def _find(tokens: list[Token], serial: str) -> Token | None:
    return next((t for t in tokens if t.serial.lower() == serial.strip().lower()), None)


def _result(code: int, data: str = "", error: str = "") -> str:
    return json.dumps({"code": code, "data": data, "error": error})


class Plugin:
    """The plugin's behaviour, without networking: `handle` turns one request message into
    (delay, reply). Thread-safe, so a test may configure it while a server runs it."""

    def __init__(self, tokens: list[Token], settings: Settings | None = None):
        if not tokens:
            raise ValueError("the plugin needs at least one token")
        self.tokens = tokens
        self._lock = threading.Lock()
        self.settings = settings or Settings()
        self.settings.check(tokens)
        self.calls: list[dict] = []
        self.selected: Token | None = None

    def configure(self, **changes) -> Settings:
        known = {f.name for f in fields(Settings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        with self._lock:
            updated = Settings(**{**asdict(self.settings), **changes})
            updated.check(self.tokens)
            self.settings, self.selected = updated, None
            return updated

    def reset(self) -> None:
        with self._lock:
            self.settings, self.calls, self.selected = Settings(), [], None

    # --- the plugin protocol

    def handle(self, message: str, origin: str | None = None) -> tuple[float, str]:
        try:
            request = json.loads(message)
            function_id = int(request["functionID"])
            callback = str(request.get("funcCallback") or "callbackDefault")
            args = [str(a) if a is not None else "" for a in request.get("args") or []]
            domain = str(request.get("domain") or "")
        except (ValueError, TypeError, KeyError, AttributeError):
            return 0.0, _result(BAD_INPUT, error="malformed request") + "*callbackDefault"
        with self._lock:
            self.calls.append({"function": function_id, "callback": callback,
                               "domain": domain, "args": args, "origin": origin})
            settings = self.settings
            result = self._call(settings, function_id, args, domain)
        slow = settings.slow_functions
        delay = float(settings.delay) if slow is None or function_id in slow else 0.0
        return delay, f"{result}*{callback}"

    def _call(self, settings: Settings, function_id: int, args: list[str], domain: str) -> str:
        if function_id == CHECK_PLUGIN:
            return "1"
        if function_id == GET_VERSION:
            return VERSION
        if function_id == SET_LICENSE_KEY:
            licence = args[0] if args else ""
            if settings.licence == "check" and not licence_valid(licence, domain):
                return _result(BAD_INPUT, error="licence expired or not for this domain")
            return _result(OK)
        if function_id == GET_CERT_INFO:
            token = self._choose(settings, args[1] if len(args) > 1 else "")
            return json.dumps(token.cert_info()) if token else ""
        if function_id in (SIGN_CMS, SIGN_HASH):
            return self._sign(settings, function_id, args[0] if args else "")
        return _result(UNKNOWN, error=f"function {function_id} is not implemented")

    def _choose(self, settings: Settings, serial: str) -> Token | None:
        if settings.mode == "cert_unreadable":
            return None
        if serial.strip():
            token = _find(self.tokens, serial)
        elif settings.serial:
            token = _find(self.tokens, settings.serial)
        else:
            token = self.tokens[0]
        self.selected = token
        return token

    def _sign(self, settings: Settings, function_id: int, data: str) -> str:
        refusal = {"cancel": (CANCELLED, "the user cancelled"),
                   "no_key": (NO_PRIVATE_KEY, "the certificate has no private key"),
                   "cert_unreadable": (CANNOT_READ_CERT, "cannot read the certificate"),
                   "sign_error": (SIGN_ERROR, "the token failed to sign")}.get(settings.mode)
        if refusal:
            return _result(refusal[0], error=refusal[1])
        try:
            payload = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return _result(BAD_INPUT, error="the data is not Base64")
        if not payload:
            return _result(BAD_INPUT, error="nothing to sign")
        token = self.selected or self._choose(settings, "")
        if token is None:
            return _result(CANNOT_READ_CERT, error="cannot read the certificate")
        if settings.mode == "wrong_cert":
            token = self.tokens[(self.tokens.index(token) + 1) % len(self.tokens)]
        try:
            signed = (token.sign_cms(payload, detached=settings.detached)
                      if function_id == SIGN_CMS else token.sign_digest(payload))
        except TokenError as exc:
            return _result(exc.code, error=str(exc))
        return _result(OK, base64.b64encode(signed).decode("ascii"))

    # --- the control socket

    def control(self, message: str) -> str:
        try:
            request = json.loads(message)
            op = request.pop("op")
            if op == "configure":
                self.configure(**request)
            elif op == "reset":
                self.reset()
            elif op != "state":
                raise ValueError(f"unknown op {op!r}")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return json.dumps({"ok": False, "error": str(exc)})
        with self._lock:
            return json.dumps({"ok": True, "settings": asdict(self.settings),
                               "calls": list(self.calls)})


def licence_valid(licence_b64: str, domain: str, now: dt.datetime | None = None) -> bool:
    """Whether a plugin licence (Base64 XML: NgayBatDau, NgayKetThuc, DonViDuocCap) is in force
    now for `domain` ("*" = any). The real plugin also checks the XML-DSig; this one does not."""
    try:
        root = ElementTree.fromstring(base64.b64decode(licence_b64, validate=True))
        start = dt.datetime.strptime(root.findtext("NgayBatDau") or "", _LICENCE_TIME)
        end = dt.datetime.strptime(root.findtext("NgayKetThuc") or "", _LICENCE_TIME)
    except (binascii.Error, ValueError, ElementTree.ParseError):
        return False
    now = now or dt.datetime.now(_VN)
    licensee = (root.findtext("DonViDuocCap") or "").strip()
    return (start.replace(tzinfo=_VN) <= now <= end.replace(tzinfo=_VN)
            and licensee in ("*", domain))


def make_licence(start: dt.datetime, end: dt.datetime, licensee: str = "*") -> str:
    """An unsigned licence of the real one's shape, for tests of setLicenseKey."""
    xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><License><PhanMem>VNPT-CA Plugin</PhanMem>"
           "<NguoiCap>VNPT IT</NguoiCap>"
           f"<DonViDuocCap>{licensee}</DonViDuocCap>"
           f"<NgayBatDau>{start.astimezone(_VN).strftime(_LICENCE_TIME)}</NgayBatDau>"
           f"<NgayKetThuc>{end.astimezone(_VN).strftime(_LICENCE_TIME)}</NgayKetThuc>"
           "<MacOS>1</MacOS></License>")
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")
