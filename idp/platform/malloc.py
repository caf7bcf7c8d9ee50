"""Fewer glibc malloc arenas in a serving worker (issue 14 item 7: one worker ≤ 120 MB).

glibc gives every thread that allocates concurrently an arena of its own, up to eight per
core, and keeps the memory freed in each arena for that arena. A gthread worker has four
request threads plus the hashing thread (platform/crypto.py), so its resident size grows by
the arenas those threads filled once and never gave back. Two arenas are enough for a worker
whose threads mostly wait on the database: measured, about 4 MiB less resident memory after
the benchmark's load, with CPU per request unchanged (README "Benchmarks").

`MALLOC_ARENA_MAX` in the environment wins (glibc reads it at start); on a C library without
mallopt (musl, macOS) this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(arenas: int = 2) -> bool:
    """Limit the arenas of this process (call it before the request threads start: the limit
    is read when a thread first needs an arena). True when the limit was applied."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
