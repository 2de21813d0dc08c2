"""Injected clocks: every actor and every piece of pure logic reads time from one of these.

Live runs use :class:`WallClock`. The simulated terminal and tests use :class:`SimClock`, whose
market time runs ``speed`` times faster than the wall clock from a chosen start, or
:class:`ManualClock`, which moves only when told to. Nothing in Ensemble calls ``time.time()``
for market time directly (DESIGN.md §6).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SimClock", "WallClock", "iso_utc", "utc_datetime"]


@runtime_checkable
class Clock(Protocol):
    """A source of the current time, in seconds since the Unix epoch (UTC)."""

    def now(self) -> float: ...

    @property
    def speed(self) -> float:
        """How many clock seconds pass per wall-clock second (1.0 for live time)."""
        ...


class WallClock:
    """The operating system's clock: live trading."""

    speed = 1.0

    def now(self) -> float:
        return time.time()


class SimClock:
    """Market time that starts at ``start`` and runs ``speed`` times faster than the wall clock.

    A speed of 1.0 with no start is indistinguishable from :class:`WallClock`.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"SimClock speed must be > 0, got {speed!r}")
        self._speed = float(speed)
        self._wall_origin = time.monotonic()
        self._wall_start = time.time()
        self._start = self._wall_start if start is None else float(start)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        return self._start + (time.monotonic() - self._wall_origin) * self._speed

    def wall_seconds(self, clock_seconds: float) -> float:
        """How long, on the wall clock, ``clock_seconds`` of this clock's time takes."""
        return clock_seconds / self._speed

    @property
    def epoch(self) -> tuple[float, float]:
        """``(market time, wall time)`` at this clock's start: with :attr:`speed`, all another
        process needs to tell this clock's time from its own wall clock."""
        return self._start, self._wall_start


class ManualClock:
    """A clock that moves only when :meth:`advance` or :meth:`set` is called (tests)."""

    speed = 1.0

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, now: float) -> None:
        self._now = float(now)


def utc_datetime(epoch_seconds: float) -> datetime:
    """A timezone-aware UTC datetime for an epoch time."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def iso_utc(epoch_seconds: float) -> str:
    """ISO 8601 in UTC with millisecond precision and a ``Z`` suffix, as events carry it."""
    return utc_datetime(epoch_seconds).isoformat(timespec="milliseconds").replace("+00:00", "Z")
