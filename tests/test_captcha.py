"""Captcha (security-requirements §6.4, CONTRACT.md §6): single use, any attempt consumes,
expiry, case-insensitive answers, an alphabet without look-alikes, no-store images, audio of the
same answer (tests/test_captcha_audio.py checks what it says), test hook only with test_hooks
on. Runs on a small app with the real store on SQLite, so it does not depend
on the rest of the application."""
from __future__ import annotations

import re
import threading

import pytest
from flask import session

from idp.platform import captcha, testhooks
from idp.platform.db import db

# The captcha-only app and its fixtures (app, ctx), shared with test_captcha_audio.py.
from tests.support.captcha import TTL, answer_of, app, build_app, ctx  # noqa: F401

# Pairs a reader confused (issue 12: 2/z, 9/q, 6/b, 8/g) or that look or sound alike once
# rotated, warped or read by the Vietnamese voice (idp/captcha.py docstring).
LOOK_ALIKES = ["0oqd", "1ilj", "2z", "5s", "6gb", "8b", "9gq", "uv", "mnw", "ef", "pr", "kx",
               "vy", "cg", "bdptv", "7t"]


def test_the_alphabet_keeps_at_most_one_character_of_each_look_alike_group():
    assert len(set(captcha.ALPHABET)) == len(captcha.ALPHABET) >= 12
    assert captcha.ALPHABET == captcha.ALPHABET.lower()
    for group in LOOK_ALIKES:
        assert len(set(group) & set(captcha.ALPHABET)) <= 1, group
    assert not set(captcha.ALPHABET) & set("01256789bdfgijnopqsvwxz")


def test_issue_makes_a_128_bit_id_and_a_six_character_answer_without_confusable_glyphs(ctx):
    ids = {captcha.issue(ctx, TTL) for _ in range(20)}
    assert len(ids) == 20
    for captcha_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", captcha_id)  # 16 bytes, base64url
        answer = answer_of(ctx, captcha_id)
        assert len(answer) == 6
        assert set(answer) <= set(captcha.ALPHABET)
        assert not set(answer) & set("0o1i2z5s6b8g9qv7")
    record = ctx.get(f"captcha:{next(iter(ids))}")
    assert record["plays"] == 0 and len(record["h"]) == 64
    hard = captcha.issue(ctx, TTL, hard=True)
    assert re.fullmatch(f"[{captcha.ALPHABET}]{{8}}", answer_of(ctx, hard))


def test_the_store_never_holds_the_answer_in_clear_outside_test_hooks(tmp_path):
    app = build_app(tmp_path, test_hooks=False)
    with app.test_request_context():
        store = app.extensions["idp.store"]
        captcha_id = captcha.issue(store, TTL)
        record = store.get(f"captcha:{captcha_id}")
        answer = captcha._unseal(captcha_id, record["s"])
        assert answer and answer not in str(record)
        assert store.get(f"captcha-answer:{captcha_id}") is None
        # A sealed answer is bound to its id: copied to another id it does not open.
        assert captcha._unseal("x" * 22, record["s"]) is None
    with app.app_context():
        db.engine.dispose()


def test_right_answer_passes_once_then_never_again(ctx):
    captcha_id = captcha.issue(ctx, TTL)
    answer = answer_of(ctx, captcha_id)
    assert captcha.verify(ctx, captcha_id, answer) is True
    assert captcha.verify(ctx, captcha_id, answer) is False
    assert ctx.get(f"captcha:{captcha_id}") is None


def test_a_wrong_answer_consumes_the_challenge(ctx):
    captcha_id = captcha.issue(ctx, TTL)
    answer = answer_of(ctx, captcha_id)
    assert captcha.verify(ctx, captcha_id, "zzzzzz" if answer != "zzzzzz" else "yyyyyy") is False
    assert captcha.verify(ctx, captcha_id, answer) is False


@pytest.mark.parametrize("attempt", ["", None, "   "])
def test_an_empty_answer_fails_and_consumes(ctx, attempt):
    captcha_id = captcha.issue(ctx, TTL)
    answer = answer_of(ctx, captcha_id)
    assert captcha.verify(ctx, captcha_id, attempt) is False
    assert captcha.verify(ctx, captcha_id, answer) is False


@pytest.mark.parametrize("captcha_id", ["", None, "unknown-id-unknown-id0", "../../etc", "x" * 300])
def test_unknown_or_malformed_ids_fail(ctx, captcha_id):
    assert captcha.verify(ctx, captcha_id, "abcdef") is False


def test_an_expired_challenge_fails(ctx, monkeypatch):
    import idp.platform.store
    captcha_id = captcha.issue(ctx, 5)
    answer = answer_of(ctx, captcha_id)
    later = idp.platform.store.now() + 6
    monkeypatch.setattr(idp.platform.store, "now", lambda: later)
    assert captcha.verify(ctx, captcha_id, answer) is False


def test_answers_are_compared_case_insensitively_after_nfkc(ctx):
    captcha_id = captcha.issue(ctx, TTL)
    assert captcha.verify(ctx, captcha_id, answer_of(ctx, captcha_id).upper()) is True
    captcha_id = captcha.issue(ctx, TTL)
    # Full-width characters (some Vietnamese keyboards) and stray spaces are the same answer.
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in answer_of(ctx, captcha_id))
    assert captcha.verify(ctx, captcha_id, f" {fullwidth[:3]} {fullwidth[3:]} ") is True


def test_two_concurrent_right_answers_succeed_only_once(app):
    with app.test_request_context():
        store = app.extensions["idp.store"]
        captcha_id = captcha.issue(store, TTL)
        answer = answer_of(store, captcha_id)
        bid = session["bid"]
    results = []
    barrier = threading.Barrier(4)

    def attempt():
        with app.test_request_context():
            session["bid"] = bid  # the same browser (a captcha is bound to it)
            barrier.wait()
            results.append(captcha.verify(app.extensions["idp.store"], captcha_id, answer))
            db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


def test_the_image_is_a_small_png_that_is_never_cached(app, ctx):
    captcha_id = captcha.issue(ctx, TTL)
    response = app.test_client().get(f"/captcha/{captcha_id}.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    from io import BytesIO

    from PIL import Image
    assert Image.open(BytesIO(response.data)).size == (320, 100)
    # Looking at the picture does not consume the challenge.
    assert captcha.verify(ctx, captcha_id, answer_of(ctx, captcha_id)) is True
    # A hard (8-character) challenge gets a wider picture, not squeezed glyphs.
    hard = captcha.issue(ctx, TTL, hard=True)
    response = app.test_client().get(f"/captcha/{hard}.png")
    assert Image.open(BytesIO(response.data)).size == (440, 100)


def test_the_image_of_an_unknown_used_or_expired_challenge_is_404(app, ctx, monkeypatch):
    client = app.test_client()
    assert client.get("/captcha/AAAAAAAAAAAAAAAAAAAAAA.png").status_code == 404
    captcha_id = captcha.issue(ctx, TTL)
    captcha.verify(ctx, captcha_id, "wrong!")
    assert client.get(f"/captcha/{captcha_id}.png").status_code == 404

    import idp.platform.store
    captcha_id = captcha.issue(ctx, 5)
    later = idp.platform.store.now() + 6
    monkeypatch.setattr(idp.platform.store, "now", lambda: later)
    assert client.get(f"/captcha/{captcha_id}.png").status_code == 404


def test_audio_reads_the_same_challenge_without_changing_it(app, ctx):
    captcha_id = captcha.issue(ctx, TTL)
    answer = answer_of(ctx, captcha_id)
    record = ctx.get(f"captcha:{captcha_id}")
    client = app.test_client()
    response = client.get(f"/captcha/{captcha_id}.wav")
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data[:4] == b"RIFF" and response.data[8:12] == b"WAVE"
    # Same answer, same sealed record, same binding: only the play count moved.
    after = ctx.get(f"captcha:{captcha_id}")
    assert answer_of(ctx, captcha_id) == answer
    assert {**after, "plays": 0} == record and after["plays"] == 1
    assert client.get(f"/captcha/{captcha_id}.wav").status_code == 200
    assert client.get(f"/captcha/{captcha_id}.png").status_code == 200
    # The picture's answer is the one that counts after listening (once).
    assert captcha.verify(ctx, captcha_id, answer.upper()) is True
    assert client.get(f"/captcha/{captcha_id}.wav").status_code == 404


def test_audio_keeps_the_original_expiry(app, ctx, monkeypatch):
    import idp.platform.captcha
    import idp.platform.store
    captcha_id = captcha.issue(ctx, 10)
    start = idp.platform.store.now()
    monkeypatch.setattr(idp.platform.store, "now", lambda: start + 8)
    monkeypatch.setattr(idp.platform.captcha, "now", lambda: start + 8)
    assert app.test_client().get(f"/captcha/{captcha_id}.wav").status_code == 200
    answer = answer_of(ctx, captcha_id)
    monkeypatch.setattr(idp.platform.store, "now", lambda: start + 11)
    assert captcha.verify(ctx, captcha_id, answer) is False


def test_audio_renders_are_capped_per_challenge(app, ctx):
    captcha_id = captcha.issue(ctx, TTL)
    client = app.test_client()
    for _ in range(captcha.MAX_AUDIO_PLAYS):
        assert client.get(f"/captcha/{captcha_id}.wav").status_code == 200
    assert client.get(f"/captcha/{captcha_id}.wav").status_code == 429
    assert captcha.verify(ctx, captcha_id, answer_of(ctx, captcha_id)) is True


def test_refresh_needs_the_csrf_token(app):
    client = app.test_client()
    assert client.post("/captcha/refresh", json={}).status_code == 400


def _csrf(app, client) -> str:
    from flask_wtf.csrf import generate_csrf
    with app.test_request_context():
        token = generate_csrf()
        from flask import session
        data = dict(session)
    with client.session_transaction() as sess:
        sess.update(data)
    return token


def test_refresh_issues_a_new_challenge_and_drops_the_old_one(app, ctx):
    client = app.test_client()
    token = _csrf(app, client)
    old = captcha.issue(ctx, TTL)
    with client.session_transaction() as sess:
        sess["bid"] = session["bid"]  # the browser the challenge was issued to
    response = client.post("/captcha/refresh", json={"captcha_id": old},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    new = data["captcha_id"]
    assert new != old
    assert data["image_url"] == f"/captcha/{new}.png"
    assert data["audio_url"] == f"/captcha/{new}.wav"
    assert ctx.get(f"captcha:{old}") is None
    assert client.get(data["image_url"]).status_code == 200
    assert captcha.verify(ctx, new, answer_of(ctx, new)) is True


def test_test_hook_reveals_the_current_answer_until_it_is_used(app, ctx):
    client = app.test_client()
    captcha_id = captcha.issue(ctx, TTL)
    response = client.get(f"/_test/captcha/{captcha_id}")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    answer = response.get_data(as_text=True)
    assert re.fullmatch(f"[{captcha.ALPHABET}]{{6}}", answer)
    client.get(f"/captcha/{captcha_id}.wav")
    assert client.get(f"/_test/captcha/{captcha_id}").get_data(as_text=True) == answer
    assert captcha.verify(ctx, captcha_id, answer) is True
    assert client.get(f"/_test/captcha/{captcha_id}").status_code == 404
    assert client.get("/_test/captcha/AAAAAAAAAAAAAAAAAAAAAA").status_code == 404


def test_without_test_hooks_nothing_reveals_the_answer(tmp_path):
    app = build_app(tmp_path, test_hooks=False)
    app.register_blueprint(testhooks.bp)  # even if it were registered by mistake
    with app.test_request_context():
        store = app.extensions["idp.store"]
        captcha_id = captcha.issue(store, TTL)
        assert store.get(f"captcha-answer:{captcha_id}") is None
    assert app.test_client().get(f"/_test/captcha/{captcha_id}").status_code == 404
    with app.app_context():
        db.engine.dispose()


def test_the_real_app_serves_captchas_and_the_hook_only_in_test_mode(tmp_path):
    from tests.support.apps import make_app
    for hooks in (1, 0):
        app = make_app(f"sqlite:///{tmp_path / f'real{hooks}.sqlite3'}", test_hooks=hooks)
        with app.test_request_context():
            captcha_id = captcha.issue(app.extensions["idp.store"], TTL)
        client = app.test_client()
        assert client.get(f"/captcha/{captcha_id}.png").mimetype == "image/png"
        hook = client.get(f"/_test/captcha/{captcha_id}")
        assert hook.status_code == (200 if hooks else 404)
        with app.app_context():
            db.engine.dispose()
