"""Server-side captcha (security-requirements §6.4).

The `captcha` package only draws pictures and sounds; issuing, storing, expiring and consuming
the challenge is ours. One challenge is one ephemeral record, `captcha:<id>`:

    {"h": sha256 of the normalised answer,   # what verify() compares
     "s": the answer sealed with AES-GCM,    # what the image/audio routes draw
     "kind": "image" | "audio",
     "exp": absolute expiry (epoch seconds),  # so replacing the answer never extends its life
     "plays": audio renders so far,
     "b": the browser binding (session.browser_binding) of the page that fetched it,
     "to": the flow id it was shown in ("" for a page outside flows, e.g. /lost-phone),
     "p": its purpose (login, register, recover, lost_phone),
     "hard": true for a longer challenge (LENGTH_HARD; issue(hard=True), which verify(hard=True)
             alone accepts: an ID number under a guessing attack, flows/login.py)}

- A challenge is bound to the browser, the flow and the purpose that fetched it: `verify()`
  refuses an answer sent from another browser (one solved by someone else, relayed), in
  another flow or for another purpose, even when the answer is right. The refresh button
  keeps the binding of the challenge it replaces.

- The id is 128 random bits (`secrets.token_urlsafe(16)`); nothing about the answer ever
  reaches the client except the picture/sound.
- The image must be drawn from the answer, so the answer is kept server-side for at most the
  captcha TTL. It is sealed with a key derived from the app's SECRET_KEY (shared by every node
  already, for sessions and CSRF) with the id as associated data, so reading the store (Redis,
  a database dump) does not reveal live answers, and a sealed answer cannot be moved to another
  id. `verify()` needs only the hash.
- `verify()` consumes the record with one atomic `take` on *every* attempt, right or wrong,
  empty or not: one challenge, one guess. No replay, no iterating answers.
- Audio: `AudioCaptcha` ships voices for digits only (in English), so asking for the audio
  version replaces that challenge's answer with 6 random digits (same id, same expiry; the
  image route then draws the digits too). Listening again replays the same digits; at most
  `MAX_AUDIO_PLAYS` renders per challenge, because one render costs ~0.3 s of CPU.
  Every render re-draws with fresh random distortion; a fixed render per id would resist
  averaging better but would need the PNG/WAV bytes in the store, which we decided against.
- With test hooks on (never in production) the plain answer is also kept under
  `captcha-answer:<id>` for `GET /_test/captcha/<id>` (CONTRACT.md §6); nothing else differs.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import unicodedata

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha, random_color
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for

from .db import now
from .session import browser_binding

# No 0/o, 1/l/i: glyphs people confuse in a distorted picture.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
LENGTH = 6
# A "hard" challenge (an ID number under a guessing attack, flows/login.py): longer, so a
# solving service or a human farm pays more per guess; its record carries "hard": true.
LENGTH_HARD = 8
MAX_AUDIO_PLAYS = 3
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")


class _ImageCaptcha(ImageCaptcha):
    # The package masks each glyph by its own brightness, so dark ink came out pale grey; a
    # steeper table keeps dark glyphs opaque (readable on a dim phone screen).
    lookup_table = [min(255, i * 8) for i in range(256)]


_image = _ImageCaptcha(width=180, height=60)
_audio = AudioCaptcha()

captcha_bp = Blueprint("captcha", __name__)


def _key(captcha_id: str) -> str:
    return f"captcha:{captcha_id}"


def _hook_key(captcha_id: str) -> str:
    return f"captcha-answer:{captcha_id}"


def _test_hooks() -> bool:
    return bool(current_app.config["IDP"].get("test_hooks"))


def normalize(answer: str) -> str:
    """NFKC + case folding, all white space removed (a full-width '８' is an '8')."""
    return "".join(unicodedata.normalize("NFKC", answer).casefold().split())


def _digest(answer: str) -> str:
    return hashlib.sha256(normalize(answer).encode("utf-8")).hexdigest()


def _aead() -> AESGCM:
    """AES-GCM with a key derived from SECRET_KEY (cached per app and secret)."""
    secret = current_app.config["SECRET_KEY"]
    cache = current_app.extensions.setdefault("idp.captcha_aead", {})
    if secret not in cache:
        raw = secret if isinstance(secret, bytes) else secret.encode("utf-8")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"idp captcha answer v1").derive(raw)
        cache.clear()
        cache[secret] = AESGCM(key)
    return cache[secret]


def _seal(captcha_id: str, answer: str) -> str:
    nonce = os.urandom(12)
    sealed = nonce + _aead().encrypt(nonce, answer.encode("utf-8"), captcha_id.encode())
    return base64.urlsafe_b64encode(sealed).decode("ascii")


def _unseal(captcha_id: str, sealed: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        return _aead().decrypt(raw[:12], raw[12:], captcha_id.encode()).decode("utf-8")
    except (ValueError, InvalidTag):
        return None


def _record(captcha_id: str, answer: str, kind: str, exp: float, plays: int = 0) -> dict:
    return {"h": _digest(answer), "s": _seal(captcha_id, answer), "kind": kind,
            "exp": exp, "plays": plays}


def _binding(bound_to: str | None, purpose: str | None) -> dict:
    return {"b": browser_binding(), "to": bound_to or "", "p": purpose or ""}


def _same_binding(record: dict, bound_to: str | None, purpose: str | None) -> bool:
    """Constant-time, and every part compared (no early exit)."""
    return all([hmac.compare_digest(str(record.get(k, "")).encode(), v.encode())
                for k, v in _binding(bound_to, purpose).items()])


def issue(store, ttl: float, *, bound_to: str | None = None, purpose: str | None = None,
          hard: bool = False) -> str:
    """Creates a challenge valid for `ttl` seconds and returns its id, bound to this browser,
    to the flow `bound_to` and to `purpose` (module docstring)."""
    captcha_id = secrets.token_urlsafe(16)
    answer = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH_HARD if hard else LENGTH))
    store.put(_key(captcha_id), {**_record(captcha_id, answer, "image", now() + ttl),
                                 **_binding(bound_to, purpose),
                                 **({"hard": True} if hard else {})}, ttl)
    if _test_hooks():
        store.put(_hook_key(captcha_id), {"a": answer}, ttl)
    return captcha_id


def verify(store, captcha_id: str | None, answer: str | None, *, bound_to: str | None = None,
           purpose: str | None = None, hard: bool = False) -> bool:
    """True when `answer` solves the challenge and this browser, flow `bound_to` and `purpose`
    are the ones it was issued to. Any call consumes it (single use)."""
    if not captcha_id or not _ID.match(captcha_id):
        return False
    # Atomic check-and-delete: of two concurrent attempts, only one gets the record.
    record = store.take(_key(captcha_id))
    if _test_hooks():
        store.delete(_hook_key(captcha_id))
    if not record or not answer or not normalize(answer):
        return False
    right = hmac.compare_digest(_digest(answer), record.get("h", ""))
    if hard and not record.get("hard"):  # `hard`: only a challenge issued hard counts
        right = False
    return _same_binding(record, bound_to, purpose) and right


def discard(store, captcha_id: str | None) -> None:
    """Forgets a challenge (the user asked for another one)."""
    if captcha_id and _ID.match(captcha_id):
        store.delete(_key(captcha_id))
        if _test_hooks():
            store.delete(_hook_key(captcha_id))


def urls(captcha_id: str) -> dict:
    """The ids and URLs a page (or the refresh button) needs for one challenge."""
    return {"captcha_id": captcha_id,
            "image_url": url_for("captcha.image", captcha_id=captcha_id),
            "audio_url": url_for("captcha.audio", captcha_id=captcha_id)}


def _store():
    return current_app.extensions["idp.store"]


def _no_store(body, mimetype: str) -> Response:
    return Response(bytes(body), mimetype=mimetype, headers={"Cache-Control": "no-store"})


@captcha_bp.get("/captcha/<captcha_id>.png")
def image(captcha_id: str):
    """The picture of a live challenge; looking does not consume it."""
    record = _store().get(_key(captcha_id)) if _ID.match(captcha_id) else None
    answer = record and _unseal(captcha_id, record.get("s", ""))
    if not answer:
        abort(404)
    ink = random_color(30, 120, 220 + secrets.randbelow(36))  # dark, on a light background
    return _no_store(_image.generate(answer, fg_color=ink).getvalue(), "image/png")


@captcha_bp.get("/captcha/<captcha_id>.wav")
def audio(captcha_id: str):
    """The spoken version: switches the challenge to digits (once) and reads them."""
    store = _store()
    found = store.get_rev(_key(captcha_id)) if _ID.match(captcha_id) else None
    if not found:
        abort(404)
    record, rev = found
    if record.get("plays", 0) >= MAX_AUDIO_PLAYS:
        abort(429)
    digits = _unseal(captcha_id, record.get("s", "")) if record.get("kind") == "audio" else None
    if not digits:
        length = LENGTH_HARD if record.get("hard") else LENGTH
        digits = "".join(secrets.choice("0123456789") for _ in range(length))
    remaining = record.get("exp", 0) - now()
    new = {**record, **_record(captcha_id, digits, "audio", record.get("exp", 0),
                               record.get("plays", 0) + 1)}  # the binding stays
    # Compare-and-swap: a challenge consumed meanwhile by verify() is not brought back.
    if remaining <= 0 or not store.cas(_key(captcha_id), rev, new, ttl=remaining):
        abort(404)
    if _test_hooks():
        store.put(_hook_key(captcha_id), {"a": digits}, remaining)
    return _no_store(_audio.generate(digits), "audio/wav")


@captcha_bp.post("/captcha/refresh")
def refresh():
    """A new challenge for the refresh button (JSON); CSRF-checked by the app's CSRFProtect.
    It inherits the flow and purpose of the live challenge it replaces, in this browser only;
    otherwise 404, and idp.js falls back to reloading the page (which issues a bound one)."""
    data = request.get_json(silent=True) or request.form
    old = data.get("captcha_id") if hasattr(data, "get") else None
    store = _store()
    record = None
    if isinstance(old, str) and _ID.match(old):
        record = store.take(_key(old))
        discard(store, old)
    if not record or not hmac.compare_digest(str(record.get("b", "")).encode(),
                                             browser_binding().encode()):
        response = jsonify({"error": "not_found"})
        response.status_code, response.headers["Cache-Control"] = 404, "no-store"
        return response
    captcha_id = issue(store, current_app.config["IDP"]["captcha_ttl"],
                       bound_to=record.get("to") or None, purpose=record.get("p") or None,
                       hard=bool(record.get("hard")))
    response = jsonify(urls(captcha_id))
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app) -> None:
    app.register_blueprint(captcha_bp)
