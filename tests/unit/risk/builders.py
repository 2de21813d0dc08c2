"""Small builders for risk-rule inputs: a sane default for every field, overridable."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from actors.risk.state import CounterParams, RiskState, apply_deal
from messages.books import DEAL_ENTRY_IN, DEAL_ENTRY_OUT, DEAL_TYPE_SELL, DealRecord
from messages.market import Bars, Side
from messages.risk import Exposure, OrderInput, PreScanInput, SymbolTerms

# Wednesday 2024-07-03 12:00:00 UTC
NOW = 1_720_008_000.0

GOLD_SPEC = SymbolTerms(
    point=0.001,
    tick_size=0.001,
    tick_value_loss=0.1,  # 1 lot = 100 oz: a 0.001 move is 0.1 USD per lot
    volume_min=0.01,
    volume_max=100.0,
    volume_step=0.01,
    trade_allowed=True,
)
EURUSD_SPEC = SymbolTerms(
    point=0.00001,
    tick_size=0.00001,
    tick_value_loss=1.0,
    volume_min=0.01,
    volume_max=100.0,
    volume_step=0.01,
    trade_allowed=True,
)


def market(**overrides: Any) -> PreScanInput:
    base = PreScanInput(
        symbol="XAUUSD",
        now=NOW,
        bid=2350.000,
        ask=2350.200,
        spec=GOLD_SPEC,
        exposures=(),
        floating_pnl=0.0,
        news_blackout=False,
    )
    return replace(base, **overrides)


def walk_bars(seed: int, count: int = 60, start: float = 100.0, end_time: float = NOW) -> Bars:
    """A random-walk M1 series ending at ``end_time``."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.001, count)))
    time = end_time - 60.0 * np.arange(count)[::-1]
    return Bars(time, close, close * 1.0005, close * 0.9995, close)


def order(**overrides: Any) -> OrderInput:
    """A BUY of XAUUSD: entry 2350.2, SL 2348.2 (2.0 away), TP 2355.2 (5.0 away)."""
    market_overrides = overrides.pop("market", {})
    base = OrderInput(
        market=market(**market_overrides),
        direction=Side.BUY,
        entry_price=2350.200,
        stop_loss=2348.200,
        take_profit=2355.200,
        commission_per_lot=0.0,
        m1_bars={"XAUUSD": walk_bars(1, start=2350.0)},
        balance=10_000.0,
        equity=10_000.0,
        confidence=70.0,
        volume=0.1,
    )
    return replace(base, **overrides)


def exposure(symbol: str = "EURUSD", direction: Side = Side.BUY, **kw: Any) -> Exposure:
    fields: dict[str, Any] = {
        "volume": 0.1,
        "entry_price": 1.08000,
        "stop_loss": 1.07800,
        "tick_size": 0.00001,
        "tick_value_loss": 1.0,
    }
    fields.update(kw)
    return Exposure(symbol=symbol, direction=direction, **fields)


def deal(ticket: int, symbol: str, time: float, profit: float, *, opens: bool = False,
         commission: float = 0.0, swap: float = 0.0, deal_type: int = DEAL_TYPE_SELL,
         offset_s: int = 0) -> DealRecord:
    """A trading deal as the terminal reports it: at UTC ``time``, stamped by a server that
    runs ``offset_s`` ahead of UTC."""
    server_ms = round((time + offset_s) * 1000)
    return DealRecord(
        ticket=ticket, order=ticket, time=server_ms // 1000, time_msc=server_ms, type=deal_type,
        entry=DEAL_ENTRY_IN if opens else DEAL_ENTRY_OUT, magic=1, position_id=ticket,
        reason=0, volume=0.1, price=1.0, commission=commission, swap=swap, profit=profit,
        fee=0.0, symbol=symbol, comment="", external_id="",
    )  # fmt: skip


def closing(ticket: int, profit: float, time: float = NOW - 3600.0, symbol: str = "XAUUSD",
            offset_s: int = 0) -> DealRecord:
    return deal(ticket, symbol, time, profit, offset_s=offset_s)


def fold(state: RiskState, record: DealRecord, params: CounterParams) -> RiskState:
    """:func:`apply_deal` of a deal from a server at ``params``' UTC offset all along."""
    utc_time = record.time_msc / 1000.0 - params.broker_utc_offset_seconds
    return apply_deal(state, record, utc_time, params)


def state_with(deals: list[DealRecord], params: CounterParams | None = None) -> RiskState:
    params = params or CounterParams()
    state = RiskState()
    for record in deals:
        state = fold(state, record, params)
    return state
