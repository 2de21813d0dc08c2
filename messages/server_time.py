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

A server clock's *rule* (:class:`ServerTime`, from ``sim.server_time`` or ``broker.server_time``)
says which offset is in force at each instant. The simulated server runs on one; a real
terminal's is declared, and serves only where nothing was measured: the switches before the
broker's first measurement (:func:`past_switches`), so bars and deals older than that are not
all read with the first offset measured.

- ``"new-york-close"`` (the default): UTC+2, and UTC+3 while US daylight-saving time is in
  force, the convention of most FX brokers. The server's midnight is 17:00 in New York all year
  round, so the trading week is Monday 00:00 to Friday 24:00 server time, with five daily bars.
  The switch happens when New York's clocks change (02:00 local on the second Sunday of March
  and the first Sunday of November since 2007; the first Sunday of April and the last Sunday of
  October before), so the offset changes at the same instant as a real broker's.
- an IANA zone name, e.g. ``"Europe/Athens"`` or ``"UTC"``: that zone's offset at the instant
  (from the system's time-zone database).
- a fixed offset ``"+HH:MM"`` or ``"-HH:MM"``, e.g. ``"+02:00"``, within -14:00..+14:00.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

__all__ = ["NEW_YORK_CLOSE", "OffsetHistory", "ServerTime", "parse_server_time", "past_switches",
           "server_day", "server_time_to_utc", "server_times_to_utc", "us_dst_interval"]

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


# ---- the server clock's rule ----------------------------------------------------------------

NEW_YORK_CLOSE = "new-york-close"
_HOUR_S = 3600
_FIXED = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_ALLOWED = (
    f"'{NEW_YORK_CLOSE}' (UTC+2, UTC+3 while US daylight-saving time is in force), an IANA "
    "zone name such as 'Europe/Athens', or a fixed offset such as '+02:00' (-14:00..+14:00)"
)
PAST_SWITCHES_DAYS = 400
"""How far before the first measured offset :func:`past_switches` reaches: a year of bars and
deals, and the switch before it."""


def _nth_sunday(year: int, month: int, n: int) -> int:
    """Day of the month of the ``n``-th Sunday (``n`` = -1: the last one)."""
    weeks = calendar.monthcalendar(year, month)
    sundays = [week[calendar.SUNDAY] for week in weeks if week[calendar.SUNDAY]]
    return sundays[n if n < 0 else n - 1]


@lru_cache(maxsize=256)
def us_dst_interval(year: int) -> tuple[int, int]:
    """The UTC epoch seconds at which US daylight-saving time starts and ends in ``year``
    (02:00 local time: 07:00 UTC at the start, 06:00 UTC at the end)."""
    if year >= 2007:
        start_day, end_day = _nth_sunday(year, 3, 2), _nth_sunday(year, 11, 1)
        start_month, end_month = 3, 11
    else:
        start_day, end_day = _nth_sunday(year, 4, 1), _nth_sunday(year, 10, -1)
        start_month, end_month = 4, 10
    start = calendar.timegm((year, start_month, start_day, 7, 0, 0))
    end = calendar.timegm((year, end_month, end_day, 6, 0, 0))
    return start, end


class ServerTime:
    """One server clock rule; :meth:`offset_s` is the offset in force at a UTC instant."""

    def __init__(self, setting: str, key: str = "sim.server_time") -> None:
        self.setting = setting
        self._fixed: int | None = None
        self._zone: ZoneInfo | None = None
        match = _FIXED.match(setting)
        if setting == NEW_YORK_CLOSE:
            return
        if match is not None:
            sign, hours, minutes = match.groups()
            offset = (int(hours) * 60 + int(minutes)) * 60 * (-1 if sign == "-" else 1)
            if int(minutes) >= 60 or abs(offset) > 14 * _HOUR_S:
                raise ValueError(f"{key} must be {_ALLOWED}, got {setting!r}")
            self._fixed = offset
            return
        try:
            self._zone = ZoneInfo(setting)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"{key} must be {_ALLOWED}, got {setting!r}") from None

    def offset_s(self, utc_s: float) -> int:
        """Server time minus UTC, in seconds, at the UTC instant ``utc_s`` (epoch seconds)."""
        if self._fixed is not None:
            return self._fixed
        if self._zone is not None:
            moment = datetime.fromtimestamp(utc_s, UTC).astimezone(self._zone)
            offset = moment.utcoffset()
            return int(offset.total_seconds()) if offset is not None else 0
        start, end = us_dst_interval(datetime.fromtimestamp(utc_s, UTC).year)
        return 3 * _HOUR_S if start <= utc_s < end else 2 * _HOUR_S

    def switches(self, after_utc_s: float, until_utc_s: float) -> list[tuple[int, int, int]]:
        """Each change of the offset in ``(after, until]``: ``(utc_s, before_s, after_s)``, the
        first UTC second of the new offset and the offsets on either side, oldest first."""
        if self._fixed is not None or until_utc_s <= after_utc_s:
            return []
        found = []
        if self._zone is None:
            first = datetime.fromtimestamp(after_utc_s, UTC).year
            last = datetime.fromtimestamp(until_utc_s, UTC).year
            for year in range(first, last + 1):
                start, end = us_dst_interval(year)
                found += [(start, 2 * _HOUR_S, 3 * _HOUR_S), (end, 3 * _HOUR_S, 2 * _HOUR_S)]
            return [s for s in found if after_utc_s < s[0] <= until_utc_s]
        # A zone's changes, by the day, then to the second (no two are a day apart).
        low = math.floor(after_utc_s)
        while low < until_utc_s:
            high = min(low + 86_400, math.floor(until_utc_s))
            before, later = self.offset_s(low), self.offset_s(high)
            if before != later:
                lo, hi = low, high  # offset(lo) == before, offset(hi) == later
                while hi - lo > 1:
                    middle = (lo + hi) // 2
                    lo, hi = (middle, hi) if self.offset_s(middle) == before else (lo, middle)
                found.append((hi, before, later))
            if high <= low:
                break
            low = high
        return found

    def skipped(self, server_from_s: float, server_to_s: float) -> list[tuple[int, int]]:
        """The server times in ``[from, to)`` that the clock never shows: ``[lo, hi)`` spans,
        the hour a spring switch jumps over."""
        spans = []
        margin = 15 * _HOUR_S  # wider than any offset
        for at, before, after in self.switches(server_from_s - margin, server_to_s + margin):
            lo, hi = max(at + before, math.floor(server_from_s)), min(at + after,
                                                                      math.ceil(server_to_s))
            if after > before and lo < hi:
                spans.append((lo, hi))
        return spans

    def __repr__(self) -> str:
        return f"ServerTime({self.setting!r})"


@lru_cache(maxsize=32)
def parse_server_time(setting: str, key: str = "sim.server_time") -> ServerTime:
    """The clock rule for a ``key`` value, or a ValueError naming the key and what is allowed."""
    if not isinstance(setting, str) or not setting.strip():
        raise ValueError(f"{key} must be {_ALLOWED}, got {setting!r}")
    return ServerTime(setting.strip(), key)


def past_switches(rule: ServerTime, first: tuple[float, float, int],
                  days: float = PAST_SWITCHES_DAYS) -> tuple[tuple[float, float, int], ...]:
    """The history entries of ``rule``'s switches in the ``days`` before the broker's first
    measurement ``first`` (an :data:`OffsetHistory` entry), to go before it: each offset is the
    rule's shifted by what the measurement says the rule is off by (a broker at UTC+3/+4 on New
    York's dates is ``new-york-close`` plus an hour). Each switch is exact: an entry
    ``(at - 1, at, offset)``."""
    after, by, measured = first
    shift = measured - rule.offset_s(by)
    changes = rule.switches(by - days * 86_400, after)
    if not changes:
        return ()
    oldest_at, oldest_before, _ = changes[0]
    entries = [(float(oldest_at - 1), float(oldest_at - 1), oldest_before + shift)]
    entries += [(float(at - 1), float(at), offset + shift) for at, _before, offset in changes]
    return tuple(entries)
