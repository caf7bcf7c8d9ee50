#!/usr/bin/env python3
"""Regenerates the Vietnamese captcha voice clips, idp/static/captcha-audio/vi/<char>.wav.

The clips are generated once and shipped in the repository (the IdP only concatenates them,
idp/captcha.py), so a deployment needs neither a speech synthesiser nor a third-party service.
Run it again only when the captcha alphabet changes:

    apt-get install espeak-ng            # Debian 12: eSpeak NG 1.51
    .venv/bin/python tools/make_captcha_audio.py

Each character of `idp.captcha.ALPHABET` is read by eSpeak NG's Vietnamese (northern) voice
`vi` as "số <Vietnamese digit name>" or "chữ <Vietnamese letter name>": the prefix tells a
listener a digit from a letter ("số ba" is 3, "chữ a" is A). The letter names are the usual
Vietnamese names of Latin letters (a, xê, e, hát, ca, e-lờ, em-mờ, e-rờ, tê, u, i dài).
espeak-ng writes 22 050 Hz mono 16-bit; each clip is then trimmed of leading and trailing
silence, halved to 11 025 Hz (average of sample pairs: enough for speech, half the size) and
normalised to the same peak, so every clip sounds equally loud. `clips.json` records the voice,
the espeak-ng version, the text and the SHA-256 of every clip (tests/test_captcha_audio.py
checks the shipped files against it).
"""
from __future__ import annotations

import array
import hashlib
import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from idp.platform.captcha import ALPHABET, AUDIO_CLIPS  # noqa: E402

VOICE = "vi"          # eSpeak NG's Vietnamese (northern) voice
SPEED = 130           # words per minute (default 175): slower, clearer
RATE = 11025          # Hz after halving espeak-ng's 22 050 Hz
PEAK = 0.7 * 32767    # every clip normalised to this peak
SILENCE = 400         # |sample| below this counts as silence when trimming

DIGITS = {"0": "không", "1": "một", "2": "hai", "3": "ba", "4": "bốn", "5": "năm",
          "6": "sáu", "7": "bảy", "8": "tám", "9": "chín"}
LETTERS = {"a": "a", "b": "bê", "c": "xê", "d": "dê", "e": "e", "f": "ép", "g": "giê",
           "h": "hát", "i": "i", "j": "gi", "k": "ca", "l": "e lờ", "m": "em mờ", "n": "en nờ",
           "o": "o", "p": "pê", "q": "quy", "r": "e rờ", "s": "ét xì", "t": "tê", "u": "u",
           "v": "vê", "w": "vê kép", "x": "ích xì", "y": "i dài", "z": "dét"}


def text_for(char: str) -> str:
    return f"số {DIGITS[char]}" if char in DIGITS else f"chữ {LETTERS[char]}"


def synthesise(text: str) -> array.array:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", VOICE, "-s", str(SPEED), "-w", tmp.name, text],
                       check=True)
        with wave.open(tmp.name, "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
            samples = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    loud = [i for i, s in enumerate(samples) if abs(s) >= SILENCE]
    samples = samples[max(loud[0] - 220, 0):loud[-1] + 220]  # keep 10 ms around the speech
    halved = [(samples[i] + samples[i + 1]) // 2 for i in range(0, len(samples) - 1, 2)]
    scale = PEAK / max(abs(s) for s in halved)
    return array.array("h", (int(round(s * scale)) for s in halved))


def main() -> None:
    out = AUDIO_CLIPS
    out.mkdir(parents=True, exist_ok=True)
    version = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True,
                             text=True).stdout.split("Data at")[0].strip()
    manifest = {"voice": VOICE, "speed": SPEED, "rate": RATE, "generator": version,
                "script": "tools/make_captcha_audio.py", "clips": {}}
    for char in ALPHABET:
        samples = synthesise(text_for(char))
        if sys.byteorder == "big":
            samples.byteswap()
        path = out / f"{char}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(samples.tobytes())
        manifest["clips"][char] = {"file": path.name, "text": text_for(char),
                                   "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        print(f"{path.relative_to(ROOT)}: {text_for(char)!r}, {len(samples) / RATE:.2f} s")
    (out / "clips.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                    encoding="utf-8")


if __name__ == "__main__":
    main()
