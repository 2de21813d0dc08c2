"""From what the broker reports to what the pure trading logic takes.

MT5 stamps ticks, bars and deals with the trade server's clock, an epoch shifted by the
server's UTC offset; the session filter, the broker-day counters and closed-bar detection need
real UTC. Every conversion happens here, once, at the boundary: nothing downstream sees server
time. The Strategy builds the RiskManager's inputs from the same market data it scanned, so
both judge the same prices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from actors.strategy.indicators import atr, macd, rsi, sma
from actors.strategy.management import MomentumView, PositionView, TradingLimits
from actors.strategy.signals import SymbolMarket
from messages.books import AccountRecord, OrderRecord, PositionRecord
from messages.market import Bars, Side, SymbolSpecRecord, TickRecord
from messages.risk import Exposure, OrderInput, PreScanInput, SymbolTerms

__all__ = [
    "MT5_TRADE_MODE_FULL",
    "exposures",
    "momentum_view",
    "order_input",
    "position_direction",
    "position_view",
    "pre_scan_input",
    "risk_spec",
    "symbol_market",
    "trading_limits",
]

MT5_TRADE_MODE_FULL = 4  # SYMBOL_TRADE_MODE_FULL
_BUY_TYPES = frozenset({0, 2, 4, 6})  # ORDER_TYPE_BUY, BUY_LIMIT, BUY_STOP, BUY_STOP_LIMIT


def symbol_market(
    symbol: str,
    tick: TickRecord | None,
    spec: SymbolSpecRecord | None,
    rates: Mapping[str, np.ndarray],
    utc_offset_s: float,
    error: str | None = None,
) -> SymbolMarket:
    """No news feed is configured, so the news filter is off (False), not unknown (None):
    unknown would rightly block every trade."""
    return SymbolMarket(
        symbol=symbol,
        bid=None if tick is None else tick.bid,
        ask=None if tick is None else tick.ask,
        point=None if spec is None else spec.point,
        bars={timeframe: Bars.from_rates(array, utc_offset_s) for timeframe, array in
              rates.items()},
        news_blackout=False,
        error=error,
    )


def risk_spec(spec: SymbolSpecRecord | None) -> SymbolTerms | None:
    if spec is None:
        return None
    return SymbolTerms(
        point=spec.point,
        tick_size=spec.trade_tick_size,
        tick_value_loss=spec.trade_tick_value_loss or spec.trade_tick_value,
        volume_min=spec.volume_min,
        volume_max=spec.volume_max,
        volume_step=spec.volume_step,
        trade_allowed=spec.trade_mode == MT5_TRADE_MODE_FULL,
        currencies=(spec.currency_base, spec.currency_profit),
    )


def position_direction(position_type: int) -> Side:
    return Side.BUY if position_type in _BUY_TYPES else Side.SELL


def exposures(
    positions: Sequence[PositionRecord],
    orders: Sequence[OrderRecord],
    specs: Mapping[str, SymbolSpecRecord],
) -> tuple[Exposure, ...]:
    """Open positions and pending orders; a symbol without a spec leaves its tick values None,
    which the rules treat as missing (and deny)."""

    def exposure(symbol: str, kind: int, volume: float, entry: float, stop: float,
                 pending: bool, ticket: int | None = None) -> Exposure:
        spec = specs.get(symbol)
        return Exposure(
            symbol=symbol,
            direction=position_direction(kind),
            volume=volume,
            entry_price=entry,
            stop_loss=stop or None,
            tick_size=None if spec is None else spec.trade_tick_size,
            tick_value_loss=None if spec is None else (spec.trade_tick_value_loss
                                                       or spec.trade_tick_value),
            pending=pending,
            currencies=None if spec is None else (spec.currency_base, spec.currency_profit),
            ticket=ticket,
        )

    return tuple(
        [exposure(p.symbol, p.type, p.volume, p.price_open, p.sl, False, p.ticket)
           for p in positions]
        + [exposure(o.symbol, o.type, o.volume_current, o.price_open, o.sl, True)
           for o in orders]
    )


def pre_scan_input(
    symbol: str,
    now: float,
    tick: TickRecord | None,
    spec: SymbolSpecRecord | None,
    open_exposures: tuple[Exposure, ...] | None,
    account: AccountRecord | None,
) -> PreScanInput:
    return PreScanInput(
        symbol=symbol,
        now=now,
        bid=None if tick is None else tick.bid,
        ask=None if tick is None else tick.ask,
        spec=risk_spec(spec),
        exposures=open_exposures,
        floating_pnl=None if account is None else account.equity - account.balance,
        news_blackout=False,
        balance=None if account is None else account.balance,
    )


def order_input(
    market: PreScanInput,
    direction: Side,
    entry: float,
    stop_loss: float,
    take_profit: float,
    m1_bars: Mapping[str, Bars],
    account: AccountRecord | None,
    confidence: float,
    commission_per_lot: float | None,
) -> OrderInput:
    return OrderInput(
        market=market,
        direction=direction,
        entry_price=entry,
        stop_loss=stop_loss,
        take_profit=take_profit,
        commission_per_lot=commission_per_lot,
        m1_bars=m1_bars,
        balance=None if account is None else account.balance,
        equity=None if account is None else account.equity,
        confidence=confidence,
    )


def position_view(position: PositionRecord, tick: TickRecord | None) -> PositionView:
    direction = position_direction(position.type)
    if tick is not None:
        price = tick.bid if direction is Side.BUY else tick.ask
    else:
        price = position.price_current
    return PositionView(
        ticket=position.ticket,
        symbol=position.symbol,
        direction=direction,
        volume=position.volume,
        entry_price=position.price_open,
        stop_loss=position.sl or None,
        take_profit=position.tp or None,
        price=price,
    )


def momentum_view(bars: Bars | None) -> MomentumView:
    """Closed-bar ATR 14, RSI 14, SMA 20 and the last MACD histogram values."""
    if bars is None or len(bars.close) < 35:
        return MomentumView(atr=None)
    close = np.asarray(bars.close, dtype=float)
    histogram = macd(close).histogram
    return MomentumView(
        atr=float(atr(bars.high, bars.low, close)[-1]),
        rsi=float(rsi(close)[-1]),
        close=float(close[-1]),
        sma20=float(sma(close, 20)[-1]),
        macd_histogram=tuple(float(value) for value in histogram[-3:]),
    )


def trading_limits(spec: SymbolSpecRecord) -> TradingLimits:
    return TradingLimits(
        point=spec.point,
        volume_min=spec.volume_min,
        volume_step=spec.volume_step,
        stops_level_points=float(spec.trade_stops_level),
    )


