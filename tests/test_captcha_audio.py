"""The spoken captcha (issue 12 item 2): the WAV of a challenge says, in Vietnamese, the same
characters as its picture. Checked against the shipped clips read here independently of
idp/captcha.py: the audio of a challenge is pause, clip of each character of the answer,
pause... (exactly, without the noise; within the noise bound with it); every character of the
alphabet has a clip; the clips are the ones tools/make_captcha_audio.py made with eSpeak NG's
Vietnamese voice (clips.json: voice, text, SHA-256). Needs neither espeak-ng nor tesseract."""
from __future__ import annotations

import array
import hashlib
import importlib.util
import io
import json
import sys
import wave
from pathlib import Path

import pytest

from idp.platform import captcha
from tests.support.captcha import TTL, answer_of, app, ctx  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ROOT / "idp" / "static" / "captcha-audio" / "vi"
SCRIPT = ROOT / "tools" / "make_captcha_audio.py"
# Vietnamese names (what a listener hears), independent of the generator's table.
DIGITS = {"0": "không", "1": "một", "2": "hai", "3": "ba", "4": "bốn", "5": "năm", "6": "sáu",
          "7": "bảy", "8": "tám", "9": "chín"}
LETTERS = {"a": "a", "c": "xê", "e": "e", "h": "hát", "k": "ca", "l": "e lờ", "m": "em mờ",
           "r": "e rờ", "t": "tê", "u": "u", "y": "i dài"}


def samples_of(data: bytes) -> tuple[array.array, tuple]:
    with wave.open(io.BytesIO(data), "rb") as w:
        params = (w.getnchannels(), w.getsampwidth(), w.getframerate())
        samples = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples, params


def expected(answer: str) -> tuple[array.array, tuple]:
    """Pause, then each character's shipped clip followed by a pause."""
    out, params = array.array("h"), None
    for char in answer:
        clip, params = samples_of((CLIPS / f"{char}.wav").read_bytes())
        if not out:
            out.extend([0] * int(params[2] * captcha.AUDIO_PAUSE))
        out.extend(clip)
        out.extend([0] * int(params[2] * captcha.AUDIO_PAUSE))
    return out, params


def test_every_character_of_the_alphabet_has_a_small_vietnamese_clip():
    manifest = json.loads((CLIPS / "clips.json").read_text(encoding="utf-8"))
    assert manifest["voice"] == "vi" and "eSpeak NG" in manifest["generator"]
    assert set(manifest["clips"]) == set(captcha.ALPHABET)
    for char in captcha.ALPHABET:
        entry = manifest["clips"][char]
        data = (CLIPS / entry["file"]).read_bytes()
        assert entry["file"] == f"{char}.wav"
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]  # the generated clip
        samples, (channels, width, rate) = samples_of(data)
        assert (channels, width) == (1, 2) and 8000 <= rate <= 16000
        assert 0.3 <= len(samples) / rate <= 1.5 and len(data) < 40_000
        assert max(abs(s) for s in samples) > 8000  # speech, not silence
        name = DIGITS[char] if char.isdigit() else LETTERS[char]
        assert entry["text"] == (f"số {name}" if char.isdigit() else f"chữ {name}")


def test_the_clips_are_made_by_espeak_ng_with_the_vietnamese_voice():
    spec = importlib.util.spec_from_file_location("make_captcha_audio", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)  # defines the table; main() is not run
    assert script.VOICE == "vi" and script.AUDIO_CLIPS == CLIPS
    assert '"espeak-ng", "-v", VOICE' in SCRIPT.read_text(encoding="utf-8")
    manifest = json.loads((CLIPS / "clips.json").read_text(encoding="utf-8"))
    assert manifest["rate"] == script.RATE and manifest["speed"] == script.SPEED
    for char in captcha.ALPHABET:
        assert script.text_for(char) == manifest["clips"][char]["text"]


@pytest.mark.parametrize("hard", [False, True])
def test_the_audio_of_a_challenge_says_the_answer_of_its_picture(app, ctx, monkeypatch, hard):
    captcha_id = captcha.issue(ctx, TTL, hard=hard)
    answer = answer_of(ctx, captcha_id)  # what GET /captcha/<id>.png draws
    assert captcha._unseal(captcha_id, ctx.get(f"captcha:{captcha_id}")["s"]) == answer
    want, params = expected(answer)
    client = app.test_client()

    # Without the noise, the WAV is exactly the clips of the answer, in order.
    monkeypatch.setattr(captcha, "AUDIO_NOISE", 0)
    got, got_params = samples_of(client.get(f"/captcha/{captcha_id}.wav").data)
    assert got_params == params and got == want

    # With it, every sample stays within the noise bound, and no two renders are equal.
    monkeypatch.undo()
    first, _ = samples_of(client.get(f"/captcha/{captcha_id}.wav").data)
    second, _ = samples_of(client.get(f"/captcha/{captcha_id}.wav").data)
    assert len(first) == len(second) == len(want) and first != second
    assert first != want
    assert max(abs(a - b) for a, b in zip(first, want)) <= captcha.AUDIO_NOISE
    # ...and the picture's answer solves the challenge it was heard for.
    assert captcha.verify(ctx, captcha_id, answer) is True


def test_another_answer_sounds_different(app, ctx, monkeypatch):
    """The WAV depends on each character: a wrong character gives another clip sequence."""
    monkeypatch.setattr(captcha, "AUDIO_NOISE", 0)
    captcha_id = captcha.issue(ctx, TTL)
    answer = answer_of(ctx, captcha_id)
    other = answer[:-1] + next(c for c in captcha.ALPHABET if c != answer[-1])
    got, _ = samples_of(app.test_client().get(f"/captcha/{captcha_id}.wav").data)
    assert got == expected(answer)[0] != expected(other)[0]


def test_a_challenge_from_an_older_alphabet_has_no_audio_but_no_error(app, ctx):
    """A live record issued before a deployment changed the alphabet (a character without a
    clip) answers 404 for the audio; its picture still works."""
    captcha_id = captcha.issue(ctx, TTL)
    record = ctx.get(f"captcha:{captcha_id}")
    ctx.put(f"captcha:{captcha_id}", {**record, "s": captcha._seal(captcha_id, "2z9q6b")}, TTL)
    client = app.test_client()
    assert client.get(f"/captcha/{captcha_id}.wav").status_code == 404
    assert client.get(f"/captcha/{captcha_id}.png").status_code == 200
