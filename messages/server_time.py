"""The trade server's clock against UTC: a server time turned into UTC with the offset in force
*when it happened*.

MT5 stamps deals, ticks and bars with the trade server's clock, and that clock's UTC offset
changes at the server's DST switches (UTC+2 in winter, UTC+3 in summer at most FX brokers).
Deals or bars read after a switch may be from before it: converting them all with today's
offset puts those an hour off (a deal's loss time moves the cooldowns; a bar window straddling
the switch gets a one-hour hole or overlap).

The broker does not know its server's zone; it knows the offsets it has measured, and when
(:class:`~actors.broker.server_clock.ServerClock` keeps the history and publishes it in the
broker's profile and with its market data as ``server_offset_history``). Each entry
``(after, by, offset)`` says that ``offset`` was in force from some instant in ``(after, by]``
(UTC seconds): the last poll that still measured the old offset and the first that measured the
new one. :func:`server_times_to_utc` picks for each server time the offset(s) it can have been
stamped with:

- inside one entry's span, the offset of that entry;
- in the window of a switch where both offsets are possible (the poll gap, or the hour a
  clock set back shows twice), the *later* of the two UTC instants: a later loss time keeps
  a cooldown or an interval running longer, never shorter (fail closed);
- before the first entry (older than anything ever measured), the first offset measured.

The broker day needs no offset at all: it is the server's own calendar date
(:func:`server_day`), so a deal lands on the day its server stamped, whatever the offset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["OffsetHistory", "server_day", "server_time_to_utc", "server_times_to_utc"]

OffsetHistory = Sequence[tuple[float, float, int]]
"""``(after_utc_s, by_utc_s, offset_s)``, oldest first: ``offset_s`` took effect in
``(after, by]``."""

_SECONDS_PER_DAY = 86_400


def server_day(server_time_s: float) -> int:
    """The broker day (days since the epoch on the server's calendar) of a server time."""
    return math.floor(server_time_s / _SECONDS_PER_DAY)


def server_times_to_utc(server_times_s: np.ndarray, history: OffsetHistory,
                        current_offset_s: float) -> np.ndarray:
    """The UTC instants of times the server stamped, from the offsets the broker measured
    (``history``; ``current_offset_s`` alone when it is empty)."""
    times = np.asarray(server_times_s, dtype=float)
    if len(history) <= 1:  # no switch seen: one offset for everything
        return times - (history[0][2] if history else current_offset_s)
    offsets = np.array([offset for _after, _by, offset in history], dtype=float)
    # Each entry's offset took effect after its ``after`` (the first entry: at any time before,
    # nothing is known earlier) and gave way to the next one by the next entry's ``by``.
    starts = np.array([-math.inf] + [after for after, _by, _o in history[1:]])
    ends = np.array([by for _after, by, _o in history[1:]] + [math.inf])
    utc = times[np.newaxis, :] - offsets[:, np.newaxis]
    fits = (starts[:, np.newaxis] < utc) & (utc < ends[:, np.newaxis])
    latest_fit = np.where(fits, utc, -math.inf).max(axis=0)
    # A time the server's clock skipped fits no entry: say the latest it can be.
    return np.where(fits.any(axis=0), latest_fit, times - offsets.min())


def server_time_to_utc(server_time_s: float, history: OffsetHistory,
                       current_offset_s: float) -> float:
    """:func:`server_times_to_utc` of one time (a deal's)."""
    return float(server_times_to_utc(np.array([server_time_s]), history, current_offset_s)[0])
