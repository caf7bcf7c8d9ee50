"""The ephemeral store's atomic operations — the SQL store on SQLite and PostgreSQL, and the
Redis store — including under concurrency (security-requirements §6.5). The same tests run
against every implementation (the `database_url` fixture's three parameters)."""
from __future__ import annotations

import threading
import time
import uuid

import idp.platform.store
from idp.platform.db import db
from tests.support.apps import make_app, require_redis


def _parallel(app, fn, n=8):
    barrier = threading.Barrier(n)
    results = []
    lock = threading.Lock()

    def run():
        with app.app_context():
            barrier.wait()
            value = fn()
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_put_get_take_delete_and_expiry(app, monkeypatch):
    with app.app_context():
        s = app.extensions["idp.store"]
        s.put("k", {"a": 1}, 60)
        assert s.get("k") == {"a": 1}
        assert s.take("k") == {"a": 1}
        assert s.take("k") is None and s.get("k") is None
        s.put("k", {"a": 2}, 60)
        later = time.time() + 61
        monkeypatch.setattr(idp.platform.store, "now", lambda: later)
        assert s.get("k") is None and s.take("k") is None
        if isinstance(s, idp.platform.store.SqlStore):
            assert s.purge_expired() >= 1
        else:
            assert s.purge_expired() == 0  # Redis drops expired keys itself


def test_take_is_single_winner_under_concurrency(app):
    with app.app_context():
        app.extensions["idp.store"].put("once", {"v": 1}, 60)
    results = _parallel(app, lambda: app.extensions["idp.store"].take("once"))
    assert results.count({"v": 1}) == 1 and results.count(None) == 7


def test_incr_counts_every_call_exactly_once(app):
    results = _parallel(app, lambda: app.extensions["idp.store"].incr("ctr", 60))
    assert sorted(results) == list(range(1, 9))


def test_incr_window_restarts_after_expiry(app, monkeypatch):
    with app.app_context():
        s = app.extensions["idp.store"]
        assert [s.incr("w", 10) for _ in range(3)] == [1, 2, 3]
        later = time.time() + 11
        monkeypatch.setattr(idp.platform.store, "now", lambda: later)
        assert s.incr("w", 10) == 1


def test_add_only_once_and_again_after_expiry(app, monkeypatch):
    results = _parallel(app, lambda: app.extensions["idp.store"].add("nx", {"x": 1}, 60))
    assert results.count(True) == 1
    with app.app_context():
        later = time.time() + 61
        monkeypatch.setattr(idp.platform.store, "now", lambda: later)
        assert app.extensions["idp.store"].add("nx", {"x": 2}, 60) is True


def test_compare_and_set_lets_one_writer_win(app):
    with app.app_context():
        s = app.extensions["idp.store"]
        s.put("flow", {"state": "a"}, 60)
        _, rev = s.get_rev("flow")
    results = _parallel(app, lambda: app.extensions["idp.store"].cas("flow", rev, {"state": "b"}))
    assert results.count(True) == 1
    with app.app_context():
        value, new_rev = app.extensions["idp.store"].get_rev("flow")
        assert value == {"state": "b"} and new_rev == rev + 1


def test_expiry_and_revision_survive_the_round_trip(app, monkeypatch):
    with app.app_context():
        s = app.extensions["idp.store"]
        s.put("r", {"n": 1}, 30)
        assert s.get_rev("r") == ({"n": 1}, 0)
        s.put("r", {"n": 2}, 30)
        assert s.get_rev("r") == ({"n": 2}, 1)
        assert s.cas("r", 1, {"n": 3}, ttl=5) is True
        assert s.cas("r", 1, {"n": 4}) is False  # stale revision
        later = time.time() + 6
        monkeypatch.setattr(idp.platform.store, "now", lambda: later)
        assert s.get_rev("r") is None  # the cas shortened the lifetime to 5 s
        assert s.cas("r", 2, {"n": 5}) is False  # expired: nothing to compare with


def test_incr_gives_back_with_negative_amount(app):
    with app.app_context():
        s = app.extensions["idp.store"]
        assert s.incr("g", 60, 3) == 3
        assert s.incr("g", 60, -1) == 2


def test_redis_keys_expire_physically_and_are_prefixed(tmp_path):
    """Redis drops a key shortly after its logical expiry: abandoned flows leave nothing."""
    prefix = f"idptest:{uuid.uuid4().hex[:12]}:"
    app = make_app(f"sqlite:///{tmp_path / 'idp.sqlite3'}", redis_url=require_redis(),
                   redis_prefix=prefix)
    store = app.extensions["idp.store"]
    assert isinstance(store, idp.platform.store.RedisStore)
    with app.app_context():
        store.put("phys", {"a": 1}, 10)
        store.incr("phys-counter", 20)
        client = app.extensions["idp.redis"]
        ttl = client.pttl(prefix + "phys")
        assert 10_000 < ttl <= 10_000 + idp.platform.store._GRACE_MS + 1
        assert 20_000 < client.pttl(prefix + "phys-counter")
        assert client.exists("phys") == 0  # never an unprefixed key
        db.engine.dispose()
