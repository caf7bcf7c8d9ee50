"""One clock for the tests. The IdP's modules read the time through their own `now` (e.g.
idp.accounts.otp.now, idp.platform.store.now); a test replaces it with one of these:

    clock = FrozenClock().install(monkeypatch, otp, recover_flow)   # stands still
    clock.advance(61)

    clock = ShiftedClock().install(monkeypatch, otp)                # runs, shifted ahead
    clock.advance(3600)
"""
from __future__ import annotations

import time
from types import ModuleType
from typing import Self

import pytest


class _Clock:
    def advance(self, seconds: float) -> None:
        raise NotImplementedError

    def __call__(self) -> float:
        raise NotImplementedError

    def install(self, monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> Self:
        """Be `now` in each module (for this test: monkeypatch undoes it)."""
        for module in modules:
            monkeypatch.setattr(module, "now", self)
        return self


class FrozenClock(_Clock):
    """A stand-in for a module's `now`: stands still until the test advances it."""

    def __init__(self, start: float | None = None):
        self.t = time.time() if start is None else start

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def __call__(self) -> float:
        return self.t


class ShiftedClock(_Clock):
    """A stand-in for a module's `now` that keeps running with real time, shifted by what the
    test advanced it (for code that also waits for real: threads, timeouts)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def __call__(self) -> float:
        return time.time() + self.offset
