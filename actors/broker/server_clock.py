"""The broker's clock: how far the trade server's clock runs ahead of UTC.

MT5 stamps ticks, bars and deals with its server's clock (reference mt5_api.md §8.3), and
nearly every FX broker runs it at UTC+2 in winter and UTC+3 in summer. The MT5Broker measures
the offset from the freshest tick it reads against UTC now
(:func:`~actors.broker.reconcile.estimate_server_offset`, to the quarter hour), on every poll,
and :class:`ServerClock` keeps the value every other role uses (it travels in the broker's
:class:`~messages.trading.BrokerProfile`).

A first measurement is taken at once. A different one replaces it only when the next poll
measures the same again, so one odd tick cannot move every role's clock by hours; a DST switch
is followed within two polls. While the market is closed (no fresh tick) nothing is measured and
the value stays; a backend that knows its server's clock (the simulated terminal) gives a hint
that is used when no tick can tell.
"""

from __future__ import annotations

from collections.abc import Iterable

from actors.broker.reconcile import estimate_server_offset

__all__ = ["ServerClock"]


class ServerClock:
    def __init__(self, offset_s: int | None = None) -> None:
        self.offset_s: int | None = offset_s
        """Server time − UTC in seconds; None until measured (or restored)."""
        self._candidate: int | None = None

    @property
    def known(self) -> bool:
        return self.offset_s is not None

    def observe(self, tick_times: Iterable[float], utc_now: float,
                hint: int | None = None) -> bool:
        """Fold in the times (server clock, seconds) of the ticks just read; True when the
        offset changed."""
        freshest = max((t for t in tick_times if t > 0), default=0.0)
        measured = estimate_server_offset(freshest, utc_now) if freshest else None
        if measured is None:
            measured = hint
        if measured is None:
            return False
        if self.offset_s is None:
            self.offset_s, self._candidate = measured, None
            return True
        if measured == self.offset_s:
            self._candidate = None
            return False
        if self._candidate == measured:
            self.offset_s, self._candidate = measured, None
            return True
        self._candidate = measured
        return False

    def to_utc(self, server_time_s: float) -> float:
        return server_time_s - (self.offset_s or 0)
