"""The Strategy's decision steps that need no actor: asking a strategy about one symbol, and
about one of its positions (:func:`manage_one`).

:func:`scan_one` turns the broker's market data into the strategy's
:class:`~actors.strategy.api.Market` (closed bars in UTC by the broker's own clock) and the
strategy's answer into the scanner's :class:`~actors.strategy.signals.ScanResult` (a reason
from the badge vocabulary for every symbol; a candidate with its stop distances, never nearer
than the broker's stops level or a few spreads allow).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from actors.strategy.api import (
    Bars,
    Exit,
    Hold,
    Market,
    MoveStop,
    NoSignal,
    Signal,
    Strategy,
)
from actors.strategy.indicators import closed_bars
from actors.strategy.signals import ScanResult, ScanStatus, status_of_reason
from messages.books import PositionRecord
from messages.market import SymbolSpecRecord, TickRecord
from messages.server_time import OffsetHistory
from messages.trading import MarketData

__all__ = ["ClosedBars", "manage_one", "market_of", "scan_one", "stop_floor"]


class ClosedBars(Mapping[str, Bars]):
    """Each timeframe's closed bars in UTC, converted from the broker's rates when the strategy
    first reads them (a strategy that reads one timeframe of the several fetched converts only
    that one, on every symbol of every scan)."""

    __slots__ = ("_converted", "_history", "_misses", "_now", "_offset", "_rates")

    def __init__(self, rates: Mapping[str, np.ndarray], offset: float, now: float,
                 misses: set[str] | None = None, history: OffsetHistory = ()) -> None:
        self._rates = rates
        self._offset = offset
        self._history = history
        self._now = now
        self._converted: dict[str, Bars] = {}
        self._misses = misses

    def __getitem__(self, timeframe: str) -> Bars:
        bars = self._converted.get(timeframe)
        if bars is None:
            if timeframe not in self._rates and self._misses is not None:
                self._misses.add(timeframe)  # asked for, not fetched
            rates = self._rates[timeframe]
            bars = closed_bars(Bars.from_rates(rates, self._offset, self._history), self._now,
                               timeframe)
            self._converted[timeframe] = bars
        return bars

    def __contains__(self, timeframe: object) -> bool:
        return timeframe in self._rates

    def __iter__(self) -> Iterator[str]:
        return iter(self._rates)

    def __len__(self) -> int:
        return len(self._rates)


def stop_floor(spec: SymbolSpecRecord | None, tick: TickRecord | None,
               spread_multiple: float, level_multiple: float) -> float:
    """The nearest a stop or target may be, in price: a multiple of the spread and of the
    symbol's stops level (a broker refuses stops inside it; 3-pip stops of 0.8 ATR on M5 were
    inside many). 0 without a spec or a quote."""
    if spec is None or tick is None:
        return 0.0
    spread = max(0.0, tick.ask - tick.bid)
    level = spec.trade_stops_level * spec.point
    return max(spread * spread_multiple, level * level_multiple)


def market_of(data: MarketData, symbol: str, positions: tuple[PositionRecord, ...] = (),
              misses: set[str] | None = None) -> Market:
    """``symbol`` in ``data`` as a strategy sees it: closed bars in UTC by the broker's clock
    (``misses`` collects the timeframes it asks for that ``data`` does not have)."""
    offset = data.server_utc_offset_s
    now = data.server_time
    bars = ClosedBars(data.bars.get(symbol, {}), offset, now, misses,
                      data.server_offset_history)
    return Market(symbol=symbol, now=now, bars=bars, tick=data.ticks.get(symbol),
                  spec=data.specs.get(symbol), server_utc_offset_s=int(offset),
                  positions=positions)


def manage_one(strategy: Strategy, data: MarketData,
               position: PositionRecord) -> Hold | MoveStop | Exit | None:
    """What ``strategy`` wants done with one of its positions (None: leave it to Ensemble's
    trade management). A strategy's exception propagates; a wrong return type raises
    TypeError."""
    if type(strategy).manage is Strategy.manage:
        return None  # not overridden: no market to build
    market = market_of(data, position.symbol, (position,))
    answer = strategy.manage(position, market)
    if answer is not None and not isinstance(answer, Hold | MoveStop | Exit):
        raise TypeError(f"{type(strategy).__name__}.manage returned {answer!r}; expected "
                        "Hold, MoveStop, Exit or None")
    return answer


def scan_one(strategy: Strategy, data: MarketData, symbol: str,
             positions: tuple[PositionRecord, ...] = (), spread_multiple: float = 0.0,
             level_multiple: float = 1.0, misses: set[str] | None = None) -> ScanResult:
    """What ``strategy`` makes of ``symbol`` in ``data``. A strategy's exception propagates
    (it is the strategy's bug, for its supervisor); a wrong return type raises TypeError.
    ``misses`` collects the timeframes the strategy asked for that ``data`` does not have."""
    error = data.errors.get(symbol)
    if error is not None:
        return ScanResult(symbol, ScanStatus.ERROR, f"{ScanStatus.ERROR.value}: {error}")
    market = market_of(data, symbol, positions, misses)
    answer = strategy.scan(market)
    if isinstance(answer, Signal):
        prefix = f"{ScanStatus.CANDIDATE.value} {answer.side.value}"
        reason = answer.reason if answer.reason.startswith(prefix) else f"{prefix}: {answer.reason}"
        floor = stop_floor(market.spec, market.tick, spread_multiple, level_multiple)
        return ScanResult(symbol, ScanStatus.CANDIDATE, reason, direction=answer.side,
                          score=answer.score, sl_distance=max(answer.sl_distance, floor),
                          tp_distance=max(answer.tp_distance, floor), facts=answer.facts,
                          confidence=answer.confidence)
    if not isinstance(answer, NoSignal):
        raise TypeError(f"{type(strategy).__name__}.scan returned {answer!r}; expected a Signal "
                        "or a NoSignal")
    status = status_of_reason(answer.reason)
    if status in (ScanStatus.ERROR, ScanStatus.CANDIDATE) and not answer.reason.startswith(
            ScanStatus.ERROR.value):
        # Not the scanner's vocabulary (or a NoSignal that claims to be a candidate).
        return ScanResult(symbol, ScanStatus.NO_SETUP,
                          f"{ScanStatus.NO_SETUP.value}: {answer.reason}")
    return ScanResult(symbol, status, answer.reason)
