"""The market as every role sees it: a side, bars, a tick, a symbol's specification.

One vocabulary for the whole system (strategies, risk, the broker, the web front, the
simulator's adapter): each concept is defined here once. Records are frozen, slotted
dataclasses of plain values, safe in actor messages. Times in :class:`TickRecord` and
:class:`SymbolSpecRecord` are the terminal's (the broker's *server* clock, reference
mt5_api.md §8.3); :class:`Bars` are UTC once the broker's offset has been applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from messages.server_time import OffsetHistory, server_times_to_utc

__all__ = ["Bars", "MarketSnapshot", "Side", "SymbolSpecRecord", "TickRecord"]


class Side(StrEnum):
    """Buy or sell: of a signal, an order, a position or a deal."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a long position, −1 for a short one: profit = sign × (exit − entry)."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(frozen=True, slots=True, eq=False)
class Bars:
    """OHLC bars of one symbol and timeframe, oldest first; ``time`` is each bar's open (UTC s)."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __post_init__(self) -> None:
        lengths = {len(self.time), len(self.open), len(self.high), len(self.low), len(self.close)}
        if len(lengths) != 1:
            raise ValueError(f"bar arrays differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.close)

    @classmethod
    def from_rates(cls, rates: np.ndarray, utc_offset_s: float,
                   offset_history: OffsetHistory = ()) -> Bars:
        """A ``copy_rates_*`` array (server time) in UTC, each bar with the offset in force at
        its own time when the broker measured more than one."""
        return cls(
            time=server_times_to_utc(rates["time"], offset_history, utc_offset_s),
            open=np.asarray(rates["open"], dtype=float),
            high=np.asarray(rates["high"], dtype=float),
            low=np.asarray(rates["low"], dtype=float),
            close=np.asarray(rates["close"], dtype=float),
        )

    def tail(self, count: int) -> Bars:
        """The last ``count`` bars."""
        start = max(0, len(self) - count)
        return Bars(
            self.time[start:],
            self.open[start:],
            self.high[start:],
            self.low[start:],
            self.close[start:],
        )


@dataclass(frozen=True, slots=True)
class SymbolSpecRecord:
    """The trading-relevant part of ``symbol_info()`` (45 of its 96 fields)."""

    name: str
    description: str
    path: str
    currency_base: str
    currency_profit: str
    currency_margin: str
    select: bool
    visible: bool
    time: int
    digits: int
    spread: int
    spread_float: bool
    trade_calc_mode: int
    trade_mode: int
    trade_stops_level: int
    trade_freeze_level: int
    trade_exemode: int
    swap_mode: int
    swap_rollover3days: int
    expiration_mode: int
    filling_mode: int
    order_mode: int
    bid: float
    bidhigh: float
    bidlow: float
    ask: float
    askhigh: float
    asklow: float
    point: float
    trade_tick_value: float
    trade_tick_value_profit: float
    trade_tick_value_loss: float
    trade_tick_size: float
    trade_contract_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    volume_limit: float
    swap_long: float
    swap_short: float
    margin_initial: float
    margin_maintenance: float
    margin_hedged: float
    session_open: float
    session_close: float


@dataclass(frozen=True, slots=True)
class TickRecord:
    """``symbol_info_tick()``: all 8 fields."""

    time: int
    bid: float
    ask: float
    last: float
    volume: int
    time_msc: int
    flags: int
    volume_real: float


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """One symbol's tick and bars, read in one pass; ``error`` is ``last_error()`` when either
    read failed (then the failed part is ``None``)."""

    symbol: str
    tick: TickRecord | None
    rates: np.ndarray | None
    error: tuple[int, str] | None = None
