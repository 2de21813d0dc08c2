"""Market time for every role: what time it is on the market the daemon trades.

With a real terminal that is the wall clock. The simulated terminal's market may run in the
past (``sim.start``) or faster than the wall clock (``sim.speed``); only the broker holds its
clock, and writes the market time to ``<data-dir>/sim_market_time.json`` as it goes (at most
every :data:`SAVE_EVERY_S` of wall time, and when it stops), which is how the other roles read
it. In a backtest the driver sets every actor's clock (a :class:`ManualClock`) to market time.
A role that stamped market events with the wall clock while the market ran in the past would
see them years in the future (a trade interval that never ends).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

from actors.runtime.clock import Clock, ManualClock

__all__ = ["MARKET_TIME_FILE", "SAVE_EVERY_S", "MarketTimeFile", "market_time_now"]

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


def market_time_now(broker_kind: str, data_dir: Path, clock: Clock) -> float | None:
    """Market time as a role other than the broker knows it: ``clock`` when a backtest's
    driver sets it or with a real terminal, the simulated terminal's saved clock otherwise
    (None until the broker has saved it)."""
    if isinstance(clock, ManualClock) or broker_kind != "sim":
        return clock.now()
    return MarketTimeFile(data_dir / MARKET_TIME_FILE).load()
