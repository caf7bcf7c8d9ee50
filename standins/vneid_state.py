"""The VNeID stand-in's mutable state: its settings (start values from the command line or
create_app, changed by /_control/settings), the seeded citizens, codes, access tokens, login
sessions, the recorded requests and the signing keys, behind one lock.

Time is the stand-in's own clock: wall time plus `clock_offset` (as standins.core), so code
and token expiry need no sleeping in tests.
"""
from __future__ import annotations

import copy
import secrets
import threading
import time
from typing import Any

from standins.vneid_citizens import BIRTH_DATE_FORMATS, Citizen, parse_citizens
from standins.vneid_crypto import ENVELOPE_FAULTS, SigningKey, load_public_key

MODES = ("vneid-encrypted", "oidc")
OIDC_FAULTS = ("bad_id_token_signature", "wrong_issuer", "wrong_aud", "expired_id_token",
               "wrong_nonce", "unknown_kid", "wrong_iss_param")
FAULTS = ("", "error", "html", "malformed", *ENVELOPE_FAULTS, *OIDC_FAULTS)
LOGOUT_TOKEN_FAULTS = ("", "bad_signature", "wrong_aud", "with_nonce", "no_events")
TOKEN_CODE = ("decrypted", "encrypted")
ACCESS_LIFETIME = 1800

# Every setting with its default; mode-dependent ones are None and filled by `defaults`.
SETTINGS: dict[str, Any] = {
    "mode": "vneid-encrypted", "client_id": "idp-test", "client_secret": "vneid-secret",
    "redirect_uri": "", "post_logout_redirect_uri": "", "backchannel_logout_uri": "",
    "rp_public_key_pem": "", "issuer": "", "citizens": None,
    "encrypt_code": None, "encrypt_responses": None, "token_code": "decrypted",
    "force_plus": False, "code_lifetime": 10.0, "id_token_lifetime": 300,
    "cancel_error": "access_denied", "birth_date_format": "YYYY-MM-DD",
    "allowed_ips": [], "clock_offset": 0.0, "latency": 0.0, "fault": "",
    "logout_token_fault": "",
}


def defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` completed and checked (raises ValueError on a bad value)."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    full = {**copy.deepcopy(SETTINGS), **settings}
    encrypted = full["mode"] == "vneid-encrypted"
    for name in ("encrypt_code", "encrypt_responses"):
        if full[name] is None:
            full[name] = encrypted
        full[name] = bool(full[name])
    if full["mode"] not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if full["fault"] not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}")
    if full["logout_token_fault"] not in LOGOUT_TOKEN_FAULTS:
        raise ValueError(f"logout_token_fault must be one of {LOGOUT_TOKEN_FAULTS}")
    if full["token_code"] not in TOKEN_CODE:
        raise ValueError(f"token_code must be one of {TOKEN_CODE}")
    if full["birth_date_format"] not in BIRTH_DATE_FORMATS:
        raise ValueError(f"birth_date_format must be one of {BIRTH_DATE_FORMATS}")
    if not isinstance(full["allowed_ips"], list):
        raise ValueError("allowed_ips must be a list")
    for name in ("code_lifetime", "clock_offset", "latency"):
        full[name] = float(full[name])
    full["id_token_lifetime"] = int(full["id_token_lifetime"])
    full["force_plus"] = bool(full["force_plus"])
    if full["rp_public_key_pem"]:
        load_public_key(full["rp_public_key_pem"])
    elif full["encrypt_code"] or full["encrypt_responses"]:
        raise ValueError("encrypting needs rp_public_key_pem (the RP's RSA public key)")
    return full


class VneidStand:
    def __init__(self, settings: dict[str, Any]):
        self.start = defaults(settings)
        self.lock = threading.RLock()
        self.keys: list[SigningKey] = [SigningKey()]  # the first one signs
        self.stray_key = SigningKey()  # never published: the "unknown_kid" fault
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.settings = copy.deepcopy(self.start)
            self.citizens = parse_citizens(self.settings.pop("citizens") or _default_entries())
            self.settings["citizens"] = None
            self.codes: dict[str, dict[str, Any]] = {}
            self.tokens: dict[str, dict[str, Any]] = {}
            self.sessions: dict[str, dict[str, Any]] = {}  # sid -> citizen pid, auth_time
            self.requests: list[dict[str, Any]] = []
            self.page_tokens: set[str] = set()
            self.backchannel: list[dict[str, Any]] = []

    def change(self, change: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            current = {k: v for k, v in self.settings.items() if k != "citizens"}
            if "mode" in change and change["mode"] != current["mode"]:
                for name in ("encrypt_code", "encrypt_responses"):
                    current[name] = None
            self.settings = defaults({**current, **change, "citizens": None})
            return self.public_settings()

    def public_settings(self) -> dict[str, Any]:
        with self.lock:
            return {k: v for k, v in self.settings.items() if k != "citizens"}

    def __getitem__(self, name: str) -> Any:
        with self.lock:
            return self.settings[name]

    def now(self) -> float:
        return time.time() + float(self.settings["clock_offset"])

    def citizen(self, pid: str) -> Citizen | None:
        with self.lock:
            return next((c for c in self.citizens if c.pid == pid), None)

    def page_token(self) -> str:
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.page_tokens.add(token)
        return token

    def take_page_token(self, token: str) -> bool:
        with self.lock:
            if token in self.page_tokens:
                self.page_tokens.discard(token)
                return True
            return False

    def issue_token(self, grant: dict[str, Any]) -> str:
        access = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[access] = {"pid": grant["pid"], "sid": grant["sid"],
                                   "scope": grant["scope"],
                                   "expires": self.now() + ACCESS_LIFETIME}
        return access

    def token_grant(self, access: str) -> dict[str, Any] | None:
        with self.lock:
            grant = self.tokens.get(access)
            if grant is None or grant["expires"] < self.now():
                return None
            if grant["sid"] not in self.sessions:
                return None
            return grant

    def end_session(self, sid: str) -> None:
        """The login session is over: its tokens stop working."""
        with self.lock:
            self.sessions.pop(sid, None)
            for token in [t for t, g in self.tokens.items() if g["sid"] == sid]:
                del self.tokens[token]

    def signing_key(self) -> SigningKey:
        with self.lock:
            return self.keys[0]

    def rotate(self, keep_old: bool) -> SigningKey:
        key = SigningKey()
        with self.lock:
            self.keys = [key, *self.keys] if keep_old else [key]
        return key


def _default_entries() -> list[dict[str, Any]]:
    from standins.vneid_citizens import DEFAULT_CITIZENS
    return [dict(c) for c in DEFAULT_CITIZENS]
