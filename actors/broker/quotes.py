"""Live quotes: which of the watched symbols' ticks are worth a QUOTE event.

The MT5Broker reads the ticks of its watched symbols every ``broker.quote_interval_ms`` and
asks a :class:`QuoteWatch` which of them changed since the last quote it published: at most one
QUOTE per symbol per interval, none for a symbol whose bid and ask stayed put (a closed market
sends nothing). Pure: ticks and the symbols' points in, events out.
"""

from __future__ import annotations

from collections.abc import Mapping

from messages.events import Quote
from messages.market import TickRecord

__all__ = ["QuoteWatch", "spread_points"]


def spread_points(bid: float, ask: float, point: float) -> float:
    """Ask − bid in the symbol's points (MT5's unit for spreads), 1 decimal."""
    if not point > 0:
        return 0.0
    return round((ask - bid) / point, 1)


class QuoteWatch:
    """The last bid and ask published per symbol."""

    def __init__(self) -> None:
        self.published: dict[str, tuple[float, float]] = {}

    def changed(self, ticks: Mapping[str, TickRecord], points: Mapping[str, float],
                server_offset_s: float, timestamp: str) -> list[Quote]:
        """A QUOTE for each symbol whose bid or ask differs from the last one published (in
        the order of ``ticks``). A tick without a price (bid or ask 0: no quote yet) is
        skipped. ``time`` is the tick's server time (``time_msc``) converted to UTC."""
        quotes: list[Quote] = []
        for symbol, tick in ticks.items():
            if not (tick.bid > 0 and tick.ask > 0):
                continue
            prices = (tick.bid, tick.ask)
            if self.published.get(symbol) == prices:
                continue
            self.published[symbol] = prices
            quotes.append(Quote(
                timestamp=timestamp, symbol=symbol, bid=tick.bid, ask=tick.ask,
                spread=spread_points(tick.bid, tick.ask, points.get(symbol, 0.0)),
                time=round(tick.time_msc / 1000.0 - server_offset_s, 3),
            ))
        return quotes

    def forget(self) -> None:
        """After a reconnection every symbol is quoted again, changed or not."""
        self.published.clear()
