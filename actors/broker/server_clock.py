"""The broker's clock: how far the trade server's clock runs ahead of UTC.

MT5 stamps ticks, bars and deals with its server's clock (reference mt5_api.md §8.3), and
nearly every FX broker runs it at UTC+2 in winter and UTC+3 in summer. The MT5Broker measures
the offset from the freshest tick it reads against UTC now
(:func:`~actors.broker.reconcile.estimate_server_offset`, to the quarter hour), on every poll,
and :class:`ServerClock` keeps the value every other role uses (it travels in the broker's
:class:`~messages.trading.BrokerProfile`).

A first measurement is taken at once, unless the server's declared clock rule (or the
backend's hint) disagrees with it and the tick is not proven fresh. After it, a tick measures
only when it is proven fresh:
its symbol's tick time changed since that symbol's read at most :data:`FRESH_WITHIN_S` before,
so the tick came after that read. A stale tick (a closed market, a metal's daily break) would
measure an offset too low by however long the market has been quiet, a whole quarter hour
every fifteen minutes. A different offset replaces the one in force only when the next fresh
measurement says the same again, so one odd tick cannot move every role's clock by hours; a DST
switch is followed within two fresh ticks. While nothing is fresh the value stays; a backend
that knows its server's clock (the simulated terminal) gives a hint that is used then.

It also remembers when each offset took effect (:attr:`ServerClock.history`: between the last
poll that measured the old one and the first that measured the new one), so a deal stamped
before a switch and read after it is converted with the offset of its own time
(:mod:`messages.server_time`). The history travels in the profile and is saved with the
offset; it keeps the last :data:`HISTORY_LENGTH` switches.

Before its first measurement the broker has seen nothing, so its first entry is preceded by the
switches of the server's declared clock rule (``broker.server_time``; the simulator's own
``sim.server_time``) over the year before, shifted by whatever the measurement says the rule
is off by (:func:`~messages.server_time.past_switches`): bars and deals older than the first
measurement, from before a switch, are read with the offset of their own time. Without a rule
(``broker.server_time = ""``) the first offset measured stands for everything before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from actors.broker.reconcile import estimate_server_offset
from messages.server_time import ServerTime, past_switches

__all__ = ["FRESH_WITHIN_S", "HISTORY_LENGTH", "ServerClock", "history_from_record"]

HISTORY_LENGTH = 8
FRESH_WITHIN_S = 120.0
"""A tick that was not there at its symbol's read this many seconds before is at most this old,
within :func:`~actors.broker.reconcile.estimate_server_offset`'s tolerance."""


class ServerClock:
    def __init__(self, offset_s: int | None = None, rule: ServerTime | None = None) -> None:
        self.offset_s: int | None = offset_s
        self.rule = rule
        """The server's declared clock rule (None: none declared)."""
        self.rule_shift_s = 0
        """What the first measurement says the rule is off by (0: it agrees)."""
        """Server time − UTC in seconds; None until measured (or restored)."""
        self._candidate: int | None = None
        self._candidate_since = 0.0
        self._last_agreed = 0.0
        self._reads: dict[str, tuple[float, float]] = {}
        """Each symbol's last tick time read and when (UTC) it was read."""
        self.history: tuple[tuple[float, float, int], ...] = ()
        """``(after, by, offset)``, oldest first: ``offset`` took effect in ``(after, by]``
        (UTC seconds)."""

    @property
    def known(self) -> bool:
        return self.offset_s is not None

    def observe(self, tick_times: Mapping[str, float], utc_now: float,
                hint: int | None = None) -> bool:
        """Fold in the times (server clock, seconds) of the ticks just read, by symbol; True
        when the offset changed."""
        proven = []
        for symbol, tick_time in tick_times.items():
            if tick_time <= 0:
                continue
            before = self._reads.get(symbol)
            self._reads[symbol] = (tick_time, utc_now)
            if (before is not None and tick_time != before[0]
                    and utc_now - before[1] <= FRESH_WITHIN_S):
                proven.append(tick_time)
        measured = _measured_offset(proven, utc_now)
        if measured is None and self.offset_s is None:
            measured = self._first_guess(tick_times, utc_now, hint)
        if measured is None:
            measured = hint
        if measured is None:
            return False
        if self.offset_s is None:
            self.offset_s, self._candidate, self._last_agreed = measured, None, utc_now
            self._took_effect(utc_now, utc_now, measured)
            return True
        if measured == self.offset_s:
            self._candidate, self._last_agreed = None, utc_now
            if not self.history:  # restored without one: it is in force now, at least
                self._took_effect(utc_now, utc_now, measured)
            return False
        if self._candidate == measured:
            if not self.history:  # restored without one: the old offset held until now
                self._took_effect(self._last_agreed, self._last_agreed, self.offset_s)
            self.offset_s, self._candidate = measured, None
            self._took_effect(self._last_agreed, self._candidate_since, measured)
            self._last_agreed = utc_now
            return True
        self._candidate, self._candidate_since = measured, utc_now
        return False

    def _first_guess(self, tick_times: Mapping[str, float], utc_now: float,
                     hint: int | None) -> int | None:
        """Before any offset is known and with no tick proven fresh: the freshest tick's
        measurement, unless the server's declared rule or the backend's hint says otherwise.
        Then a stale tick may be lying, and the first fresh one (a poll or a scan later, while
        the market is open) decides."""
        measured = _measured_offset(tick_times.values(), utc_now)
        expected = hint if hint is not None else (
            self.rule.offset_s(utc_now) if self.rule is not None else None)
        if measured is not None and expected is not None and measured != expected:
            return None
        return measured

    def _took_effect(self, after: float, by: float, offset: int) -> None:
        entry = (float(after), float(by), int(offset))
        before: tuple[tuple[float, float, int], ...] = self.history
        if not before and self.rule is not None:  # the first: the rule tells what went before
            self.rule_shift_s = int(offset) - self.rule.offset_s(by)
            before = past_switches(self.rule, entry)
        self.history = (*before, entry)[-HISTORY_LENGTH:]

    def restore(self, offset_s: int, history: tuple[tuple[float, float, int], ...]) -> None:
        """Take a saved offset (and when each took effect) until a tick can tell."""
        self.offset_s = offset_s
        self.history = history[-HISTORY_LENGTH:]

    def record(self) -> dict[str, object]:
        """The offset and its history as plain values for SharedState."""
        return {"offset_s": self.offset_s, "history": [list(entry) for entry in self.history]}

    def to_utc(self, server_time_s: float) -> float:
        return server_time_s - (self.offset_s or 0)


def _measured_offset(tick_times: Iterable[float], utc_now: float) -> int | None:
    """The offset the freshest of ``tick_times`` (server seconds; 0: none) measures."""
    freshest = max((t for t in tick_times if t > 0), default=0.0)
    return estimate_server_offset(freshest, utc_now) if freshest else None


def history_from_record(saved: object) -> tuple[tuple[float, float, int], ...]:
    """The history of a saved :meth:`ServerClock.record` (empty when absent or unreadable: an
    older record, or a damaged one, costs only the offsets of deals before the restart)."""
    entries = saved.get("history") if isinstance(saved, dict) else None
    if not isinstance(entries, list):
        return ()
    try:
        history = tuple((float(a), float(b), int(o)) for a, b, o in entries)
    except (TypeError, ValueError):
        return ()
    ordered = all(history[i][1] <= history[i + 1][1] for i in range(len(history) - 1))
    return history if ordered else ()
