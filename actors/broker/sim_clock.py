"""The simulated terminal's market clock, kept monotonic across broker and daemon restarts.

With ``sim.speed`` above 1, market time runs ahead of the wall clock; a fresh
``SimClock(start=now)`` after a restart would send it back, to before trades the account already
holds. The broker therefore writes the market time to the data directory as it goes
(:class:`~actors.runtime.market_time.MarketTimeFile`), and a new clock starts from the later of
that time (plus the most it can have moved since the last write) and the configured start (or
now).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from actors.broker.sim.config import SimConfig
from actors.runtime.clock import ManualClock, SimClock
from actors.runtime.market_time import SAVE_EVERY_S, MarketTimeFile

__all__ = ["resume_sim_clock"]


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
