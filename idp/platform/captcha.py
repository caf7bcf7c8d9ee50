"""Server-side captcha (security-requirements §6.4).

The `captcha` package only draws the pictures; the Vietnamese sound, issuing, storing, expiring
and consuming the challenge are ours. One challenge is one ephemeral record, `captcha:<id>`:

    {"h": sha256 of the normalised answer,   # what verify() compares
     "s": the answer sealed with AES-GCM,    # what the image/audio routes draw and read
     "exp": absolute expiry (epoch seconds),  # so an audio play never extends its life
     "plays": audio renders so far,
     "b": the browser binding (idp.platform.browser) of the page that fetched it,
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
- Alphabet, `ALPHABET` = 3 4 A C E H K L M R T U Y (13 characters, drawn in capitals,
  answered in either case). Only characters that cannot be taken for another one of the set,
  neither in a rotated, warped picture nor when spoken by the Vietnamese voice:
  * seen: out go 0 O D Q (round), 1 I J (bars), 2 Z, 5 S, 6 G, 7 (rotated, a T), 8 B,
    9 (g/q in lower case), F (E), N W (M, H), P (R, D), V (U, Y), X (K, Y). Of each
    look-alike group one stays only where nothing else of the group is left: E without F,
    M without N/W, U and Y without V, K without X, R without P, T without 7. Capitals have
    no ascenders or descenders: the misreadings of issue 12 were 2/z, 9/q, 6/b, 8/g, all
    lower case or digits against lower case;
  * heard ("số ba", "chữ ca", tools/make_captcha_audio.py): B D P V would sound like T
    ("bê", "dê", "pê", "vê" against "tê"; the northern voice also says D "zê", close to C
    "xê"); F J W Z have no everyday Vietnamese name. "số"/"chữ" in front of each name
    tells 3 ("số ba") from A ("chữ a").
  13^6 ≈ 4.8 million answers, 13^8 ≈ 816 million for a hard challenge; each guess consumes
  the challenge anyway.
- Picture: 320×100 px (was 180×60; 440×100 for a hard challenge), glyphs of 58–70 px,
  rotation ±20° (the package's ±30° turned some glyphs into others), the package's warp,
  overlap and dots kept, two wavy 3 px strokes across the text instead of its 1 px arc.
  Measured by bench/captcha-ocr (README, Benchmarks): a naive OCR (tesseract) solves at most 5 %.
- Audio, for the *same* answer: the image route and the audio route read the same sealed
  answer. Each character is a clip shipped in `AUDIO_CLIPS` (Vietnamese voice, "số ba",
  "chữ ca"..., generated once by tools/make_captcha_audio.py with espeak-ng, clips.json
  records how), joined with `AUDIO_PAUSE` seconds of pause by the stdlib `wave` module, plus
  uniform noise of at most `AUDIO_NOISE` (about −40 dBFS: faint under speech, but no two
  renders are the same bytes). The audio is an accessibility fallback and weaker than the
  picture against a bot (speech recognition or matching 13 known clips solves it); the
  single use, the binding and the rate limits bound what a bot gains. At most
  `MAX_AUDIO_PLAYS` renders per challenge, so one challenge does not hand out many noisy
  copies to average.
- With test hooks on (never in production) the plain answer is also kept under
  `captcha-answer:<id>` for `GET /_test/captcha/<id>` (CONTRACT.md §6); nothing else differs.
"""
from __future__ import annotations

import array
import base64
import functools
import hashlib
import hmac
import io
import math
import os
import re
import secrets
import sys
import unicodedata
import wave
from pathlib import Path

from captcha.image import ImageCaptcha, random_color
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for
from PIL.ImageDraw import Draw
from PIL.ImageFilter import SMOOTH

from idp.platform.browser import browser_binding
from idp.platform.db import now

# Characters that cannot be taken for one another, seen or heard (module docstring).
ALPHABET = "34acehklmrtuy"
LENGTH = 6
# A "hard" challenge (an ID number under a guessing attack, flows/login.py): longer, so a
# solving service or a human farm pays more per guess; its record carries "hard": true.
LENGTH_HARD = 8
MAX_AUDIO_PLAYS = 3
IMAGE_SIZE = (320, 100)
IMAGE_SIZE_HARD = (440, 100)  # 8 glyphs in 320 px would be squeezed (an M becomes an N)
WAVES, WAVE_WIDTH = 2, 3  # noise strokes across the picture (_ImageCaptcha.generate_image)
# Per-character Vietnamese clips <char>.wav + clips.json (tools/make_captcha_audio.py).
AUDIO_CLIPS = Path(__file__).resolve().parents[1] / "static" / "captcha-audio" / "vi"
AUDIO_PAUSE = 0.45  # seconds of pause before, between and after the characters
AUDIO_NOISE = 300   # peak of the added uniform noise, in 16-bit sample units (clips peak ~23000)
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")


class _ImageCaptcha(ImageCaptcha):
    # The package masks each glyph by its own brightness, so dark ink came out pale grey; a
    # steeper table keeps dark glyphs opaque (readable on a dim phone screen).
    lookup_table = [min(255, i * 8) for i in range(256)]
    # Moderate distortion (module docstring): less rotation than the package's ±30°, fewer
    # extra gaps than its 1 in 2 (so 6 glyphs fit 320 px, 8 fit 440 px, without squeezing).
    character_rotate = (-20, 20)
    word_space_probability = 0.7

    def generate_image(self, chars: str, bg_color=None, fg_color=None):
        """The package's picture (glyphs, dots) with its thin arc replaced by `WAVES` wavy
        strokes `WAVE_WIDTH` px wide in the ink colour across the text: thinner than a glyph's
        stroke (~7 px), so a reader tells them apart, but they join the glyphs, which is what
        defeats OCR segmentation (bench/captcha-ocr: about 10 % solved without them, 2.8 %
        with)."""
        fg_color = fg_color or random_color(30, 120, 255)
        image = self.create_captcha_image(chars, fg_color, bg_color or random_color(238, 255))
        self.create_noise_dots(image, fg_color)
        draw, (width, height) = Draw(image), image.size
        for _ in range(WAVES):
            y0 = height * (0.3 + 0.4 * _unit())
            amplitude = height * (0.08 + 0.12 * _unit())
            period, phase = width * (0.4 + 0.6 * _unit()), 2 * math.pi * _unit()
            draw.line([(x, y0 + amplitude * math.sin(2 * math.pi * x / period + phase))
                       for x in range(0, width + 4, 4)], fill=fg_color, width=WAVE_WIDTH)
        return image.filter(SMOOTH)


def _unit() -> float:
    return secrets.randbits(32) / 2**32


_image = _ImageCaptcha(width=IMAGE_SIZE[0], height=IMAGE_SIZE[1], font_sizes=(58, 64, 70))
_image_hard = _ImageCaptcha(width=IMAGE_SIZE_HARD[0], height=IMAGE_SIZE_HARD[1],
                            font_sizes=(58, 64, 70))


@functools.cache
def _load_clips() -> tuple[dict[str, bytes], tuple]:
    """Reads every shipped clip once: char -> frames, and their one format (mono, 16-bit)."""
    clips, params = {}, set()
    for char in ALPHABET:
        with wave.open(str(AUDIO_CLIPS / f"{char}.wav"), "rb") as clip:
            params.add((clip.getnchannels(), clip.getsampwidth(), clip.getframerate()))
            clips[char] = clip.readframes(clip.getnframes())
    if len(params) != 1 or next(iter(params))[:2] != (1, 2):
        raise RuntimeError(f"captcha clips in {AUDIO_CLIPS} differ in format: {params}")
    return clips, next(iter(params))


def spoken_frames(answer: str) -> tuple[bytes, int]:
    """The clean speech of `answer`: pause, clip, pause, clip, ..., pause (frames, rate)."""
    clips, (_, _, rate) = _load_clips()
    pause = b"\0\0" * int(rate * AUDIO_PAUSE)
    return pause + b"".join(clips[c] + pause for c in normalize(answer)), rate


def _with_noise(frames: bytes, peak: int) -> bytes:
    samples = array.array("h", frames)
    if sys.byteorder == "big":
        samples.byteswap()
    if peak:
        noise = os.urandom(len(samples))  # one byte per sample, scaled to [-peak, peak]
        samples = array.array("h", (max(-32768, min(32767, s + (n - 128) * peak // 128))
                                    for s, n in zip(samples, noise)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def audio_wav(answer: str) -> bytes:
    """One WAV reading `answer` in Vietnamese, character by character."""
    frames, rate = spoken_frames(answer)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(_with_noise(frames, AUDIO_NOISE))
    return out.getvalue()


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


def _record(captcha_id: str, answer: str, exp: float) -> dict:
    return {"h": _digest(answer), "s": _seal(captcha_id, answer), "exp": exp, "plays": 0}


def _binding(bound_to: str | None, purpose: str | None) -> dict:
    return {"b": browser_binding(), "to": bound_to or "", "p": purpose or ""}


def _same_binding(record: dict, bound_to: str | None, purpose: str | None) -> bool:
    """Constant-time, and every part compared (no early exit)."""
    return all([hmac.compare_digest(str(record.get(k, "")).encode(), v.encode())
                for k, v in _binding(bound_to, purpose).items()])


def new_answer(hard: bool = False) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH_HARD if hard else LENGTH))


def picture(answer: str) -> bytes:
    """A PNG of `answer` (capitals), freshly distorted each time; wider for a hard one."""
    ink = random_color(30, 120, 220 + secrets.randbelow(36))  # dark, on a light background
    drawer = _image_hard if len(answer) > LENGTH else _image
    return drawer.generate(answer.upper(), fg_color=ink).getvalue()


def issue(store, ttl: float, *, bound_to: str | None = None, purpose: str | None = None,
          hard: bool = False) -> str:
    """Creates a challenge valid for `ttl` seconds and returns its id, bound to this browser,
    to the flow `bound_to` and to `purpose` (module docstring)."""
    captcha_id = secrets.token_urlsafe(16)
    answer = new_answer(hard)
    store.put(_key(captcha_id), {**_record(captcha_id, answer, now() + ttl),
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
    return _no_store(picture(answer), "image/png")


@captcha_bp.get("/captcha/<captcha_id>.wav")
def audio(captcha_id: str):
    """The spoken version of the same answer (Vietnamese); listening does not consume it."""
    store = _store()
    found = store.get_rev(_key(captcha_id)) if _ID.match(captcha_id) else None
    if not found:
        abort(404)
    record, rev = found
    if record.get("plays", 0) >= MAX_AUDIO_PLAYS:
        abort(429)
    answer = _unseal(captcha_id, record.get("s", ""))
    if answer and not set(answer) <= set(ALPHABET):
        answer = None  # issued before the alphabet changed (no clip): the picture still works
    remaining = record.get("exp", 0) - now()
    new = {**record, "plays": record.get("plays", 0) + 1}  # answer, expiry and binding stay
    # Compare-and-swap: a challenge consumed meanwhile by verify() is not brought back.
    if not answer or remaining <= 0 or not store.cas(_key(captcha_id), rev, new, ttl=remaining):
        abort(404)
    return _no_store(audio_wav(answer), "audio/wav")


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
