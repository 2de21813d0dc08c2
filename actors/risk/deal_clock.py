"""A deal's real time: its server time turned into UTC with the offset in force *when it happened*.

MT5 stamps deals with the trade server's clock, and that clock's UTC offset changes at the
server's DST switches (UTC+2 in winter, UTC+3 in summer at most FX brokers). A batch of deals
read after a switch may hold deals from before it: converting them all with today's offset puts
those an hour off, which moves the loss times that cooldowns and the kill switch's order follow.

The broker does not know its server's zone; it knows the offsets it has measured, and when
(:class:`~actors.broker.server_clock.ServerClock` keeps the history and publishes it in the
broker's profile as ``server_offset_history``). Each entry ``(after, by, offset)`` says that
``offset`` was in force from some instant in ``(after, by]`` (UTC seconds): the last poll that
still measured the old offset and the first that measured the new one. :func:`deal_utc` picks
for a server time the offset(s) it can have been stamped with:

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

__all__ = ["OffsetHistory", "deal_utc", "server_day"]

OffsetHistory = Sequence[tuple[float, float, int]]
"""``(after_utc_s, by_utc_s, offset_s)``, oldest first: ``offset_s`` took effect in
``(after, by]``."""

_SECONDS_PER_DAY = 86_400


def server_day(server_time_s: float) -> int:
    """The broker day (days since the epoch on the server's calendar) of a server time."""
    return math.floor(server_time_s / _SECONDS_PER_DAY)


def deal_utc(server_time_s: float, history: OffsetHistory, current_offset_s: int) -> float:
    """The UTC instant of a deal stamped ``server_time_s`` by the server, from the offsets the
    broker measured (``history``; ``current_offset_s`` alone when it is empty)."""
    if not history:
        return server_time_s - current_offset_s
    candidates: list[float] = []
    for index, (after, _by, offset) in enumerate(history):
        utc = server_time_s - offset
        # This entry's offset took effect after its ``after`` (the first entry: at any time
        # before, nothing is known earlier) and gave way to the next one by the next ``by``.
        starts = -math.inf if index == 0 else after
        ends = history[index + 1][1] if index + 1 < len(history) else math.inf
        if starts < utc < ends:
            candidates.append(utc)
    if not candidates:  # a time the server's clock skipped: no entry fits; say the latest
        return max(server_time_s - offset for _a, _b, offset in history)
    return max(candidates)
