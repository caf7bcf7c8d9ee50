"""Issue 14 item 7: what keeps a serving worker's memory down, checked by behaviour (the
resident figures themselves are in bench/, never asserted here).

- Argon2id runs on one thread per process (crypto._HashingThread), so its 19 MiB block is
  allocated once and reused instead of once per request thread; results and errors still
  reach the caller, concurrent callers get their own answers, and a forked worker gets a
  thread of its own.
- The WSGI entry point serves without the migration tooling (Alembic, Mako, Pygments), and
  the password-strength dictionaries (zxcvbn) load with the first password checked; the
  operators' app still has its migrations. Certificate validation (pyhanko-certvalidator,
  aiohttp) loads with the first certificate checked, not with the app.
- A serving worker's threads share two malloc arenas, not one each (platform/malloc.py).
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from idp import create_app
from idp.platform import crypto
from idp.platform.config import ROOT


def test_hashes_run_on_one_thread_of_their_own():
    callers = ThreadPoolExecutor(4)
    seen = set(callers.map(lambda _: crypto._thread.run(threading.get_ident), range(16)))
    callers.shutdown()
    assert len(seen) == 1
    assert seen != {threading.get_ident()}
    names = {t.name for t in threading.enumerate() if t.ident in seen}
    assert [name.partition("_")[0] for name in names] == ["argon2"]


def test_concurrent_callers_get_their_own_answers():
    passwords = [f"mot cau de nho so {i}" for i in range(6)]
    with ThreadPoolExecutor(6) as callers:
        hashes = list(callers.map(crypto.hash_password, passwords))
        checks = list(callers.map(crypto.verify_password, hashes, passwords))
        crossed = list(callers.map(crypto.verify_password, hashes, reversed(passwords)))
    assert checks == [True] * 6
    assert crossed == [False] * 6
    assert crypto.verify_password(None, passwords[0]) is False  # dummy hash, same work


def test_errors_reach_the_caller():
    def fails():
        raise ValueError("from the hashing thread")

    with pytest.raises(ValueError, match="from the hashing thread"):
        crypto._thread.run(fails)
    assert crypto.verify_password("not-an-argon2-hash", "x") is False


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_worker_gets_its_own_thread():
    """Threads do not survive fork: a child handing work to its parent's thread would wait
    for ever. It must start its own (bounded wait here, the child killed if it hangs)."""
    crypto._thread.run(threading.get_ident)  # the parent's thread exists before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a gunicorn worker after fork
        try:
            ok = crypto.verify_password(crypto.hash_password("mat khau con"), "mat khau con")
            os.write(write, b"ok" if ok else b"wrong")
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 60)
        answer = os.read(read, 16) if ready else b"hung"
    finally:
        os.close(read)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert answer == b"ok"


def _probe_env(tmp_path) -> dict:
    return {**os.environ, "IDP_INSTANCE_DIR": str(tmp_path / "instance"),
           "IDP_KEK_FILE": str(tmp_path / "kek.key"), "IDP_ENV": "development",
           "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}",
           "IDP_SECRET_KEY": "m" * 40}


def _modules_after(code: str, tmp_path) -> dict:
    env = _probe_env(tmp_path)
    probe = code + ("\nimport json, sys\nprint(json.dumps({m: m in sys.modules for m in "
                    "('alembic', 'flask_migrate', 'mako', 'pygments', 'zxcvbn', "
                    "'pyhanko_certvalidator', 'aiohttp')}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_serving_app_leaves_the_operators_tooling_unloaded(tmp_path):
    loaded = _modules_after("import idp.wsgi", tmp_path)
    assert loaded == {"alembic": False, "flask_migrate": False, "mako": False,
                      "pygments": False, "zxcvbn": False, "pyhanko_certvalidator": False,
                      "aiohttp": False}


def test_the_first_password_checked_loads_zxcvbn(tmp_path):
    loaded = _modules_after("import idp.wsgi\nfrom idp.accounts import passwords\n"
                            "assert passwords.strength('mot cau rat dai de nho') >= 3",
                            tmp_path)
    assert loaded["zxcvbn"] is True and loaded["alembic"] is False


def test_the_operators_app_keeps_its_migrations(tmp_path, monkeypatch):
    monkeypatch.setenv("IDP_INSTANCE_DIR", str(tmp_path / "instance"))
    app = create_app({"env": "test", "secret_key": "m" * 40,
                      "database_url": f"sqlite:///{tmp_path / 'ops.sqlite3'}"})
    assert "migrate" in app.extensions
    served = create_app({"env": "test", "secret_key": "m" * 40,
                         "database_url": f"sqlite:///{tmp_path / 'ops.sqlite3'}"}, serving=True)
    assert "migrate" not in served.extensions


_ARENAS = """
import ctypes, threading
barrier = threading.Barrier(8)
kept = []
def allocate():
    barrier.wait()
    kept.append([bytearray(200) for _ in range(20000)])
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()  # one "Arena n:" block per arena, on stderr
"""


def _arenas_after(code: str, tmp_path) -> int:
    env = {k: v for k, v in _probe_env(tmp_path).items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", code + _ARENAS], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return sum(line.startswith("Arena ") for line in out.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_stats")
def test_the_serving_workers_threads_share_two_malloc_arenas(tmp_path):
    assert _arenas_after("", tmp_path) > 2  # glibc's default: one per allocating thread
    assert _arenas_after("import idp.wsgi\n", tmp_path) <= 2
