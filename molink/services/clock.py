"""Time and randomness, injected into every service (tests use the fakes)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock", "system_random"]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real UTC clock, optionally skewed (for fault tests of clock skew)."""

    def __init__(self, skew: timedelta = timedelta(0)) -> None:
        self._skew = skew

    def now(self) -> datetime:
        return datetime.now(UTC) + self._skew


class FakeClock:
    """A clock that only moves when a test advances it."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


system_random: Callable[[int], bytes] = os.urandom
