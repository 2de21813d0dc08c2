"""The simulated terminal's market clock, kept monotonic across broker and daemon restarts.

With ``sim.speed`` above 1, market time runs ahead of the wall clock; a fresh
``SimClock(start=now)`` after a restart would send it back, to before trades the account already
holds. The broker therefore writes the market time to ``<data-dir>/sim_market_time.json`` as it
goes (:class:`MarketTimeFile`, at most every :data:`SAVE_EVERY_S` of wall time, and when it
stops), and a new clock starts from the later of that time (plus the most it can have moved
since the last write) and the configured start (or now). The other roles do not read the file:
they learn the clock from the broker's profile (``BrokerProfile.market_epoch``).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

from actors.broker.sim.config import SimConfig
from actors.runtime.clock import ManualClock, SimClock

__all__ = ["MARKET_TIME_FILE", "SAVE_EVERY_S", "MarketTimeFile", "resume_sim_clock"]

MARKET_TIME_FILE = "sim_market_time.json"
SAVE_EVERY_S = 0.25


class MarketTimeFile:
    """The last market time the broker saw, in a small JSON file replaced atomically."""

    def __init__(self, path: str | Path, *, wall: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._wall = wall
        self._last_save: float | None = None

    def load(self) -> float | None:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))["market_time"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    def save(self, market_time: float, *, force: bool = False) -> None:
        """Write ``market_time`` unless it was written less than :data:`SAVE_EVERY_S` ago."""
        now = self._wall()
        if not force and self._last_save is not None and now - self._last_save < SAVE_EVERY_S:
            return
        self._last_save = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        spare = self.path.with_suffix(".tmp")
        spare.write_text(json.dumps({"market_time": market_time}), encoding="utf-8")
        os.replace(spare, self.path)  # a reader sees the old file or the new one, never half


def resume_sim_clock(
    config: SimConfig, saved: MarketTimeFile, *, wall_now: Callable[[], float] = time.time
) -> SimClock | ManualClock:
    """A clock for the simulated terminal that does not go back behind the saved time. The
    saved time may be up to :data:`SAVE_EVERY_S` of wall time old when the broker was killed,
    so the clock resumes that much market time after it. A driven terminal (backtests) gets a
    clock that moves only when the driver sets it."""
    start = config.start if config.start is not None else wall_now()
    if config.driven:
        return ManualClock(start)
    previous = saved.load()
    if previous is not None:
        start = max(start, previous + SAVE_EVERY_S * config.speed)
    return SimClock(config.speed, start)
