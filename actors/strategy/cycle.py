"""The Strategy's decision steps that need no actor: asking a strategy about one symbol.

:func:`scan_one` turns the broker's market data into the strategy's
:class:`~actors.strategy.api.Market` (closed bars in UTC by the broker's own clock) and the
strategy's answer into the scanner's :class:`~actors.strategy.signals.ScanResult` (a reason
from the badge vocabulary for every symbol; a candidate with its stop distances).
"""

from __future__ import annotations

from actors.strategy.api import Market, NoSignal, Signal, Strategy
from actors.strategy.indicators import closed_bars
from actors.strategy.market_inputs import bars_from_rates
from actors.strategy.signals import ScanResult, ScanStatus, status_of_reason
from messages.books import PositionRecord
from messages.trading import MarketData

__all__ = ["scan_one"]


def scan_one(strategy: Strategy, data: MarketData, symbol: str,
             positions: tuple[PositionRecord, ...] = ()) -> ScanResult:
    """What ``strategy`` makes of ``symbol`` in ``data``. A strategy's exception propagates
    (it is the strategy's bug, for its supervisor); a wrong return type raises TypeError."""
    error = data.errors.get(symbol)
    if error is not None:
        return ScanResult(symbol, ScanStatus.ERROR, f"{ScanStatus.ERROR.value}: {error}")
    offset = data.server_utc_offset_s
    now = data.server_time
    bars = {timeframe: closed_bars(bars_from_rates(rates, offset), now, timeframe)
            for timeframe, rates in data.bars.get(symbol, {}).items()}
    market = Market(symbol=symbol, now=now, bars=bars, tick=data.ticks.get(symbol),
                    spec=data.specs.get(symbol), server_utc_offset_s=int(offset),
                    positions=positions)
    answer = strategy.scan(market)
    if isinstance(answer, Signal):
        prefix = f"{ScanStatus.CANDIDATE.value} {answer.side.value}"
        reason = answer.reason if answer.reason.startswith(prefix) else f"{prefix}: {answer.reason}"
        return ScanResult(symbol, ScanStatus.CANDIDATE, reason, direction=answer.side,
                          score=answer.score, sl_distance=answer.sl_distance,
                          tp_distance=answer.tp_distance, facts=answer.facts,
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
