"""The RiskManager's inputs and its denial codes: what a strategy's order is judged on.

The Strategy builds these from the same market data it scanned (so risk judges the prices the
decision saw) and sends them in :class:`~messages.trading.PreScanCheck` and
:class:`~messages.trading.SubmitOrder`. A ``None`` field is missing input, and missing input
means deny (:mod:`actors.risk.rules`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from messages.market import Bars, Side

__all__ = ["DenialCode", "Exposure", "OrderInput", "PreScanInput", "SymbolTerms"]


class DenialCode(StrEnum):
    """Why an order was refused. The values are part of the public interface: never rename."""

    MISSING_INPUT = "MISSING_INPUT"
    INVALID_INPUT = "INVALID_INPUT"
    RULE_ERROR = "RULE_ERROR"
    MODE_HALTED = "MODE_HALTED"
    MODE_REDUCING = "MODE_REDUCING"
    PAUSED = "PAUSED"
    KILL_SWITCH = "KILL_SWITCH"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    DAILY_LOSS_BUDGET = "DAILY_LOSS_BUDGET"
    DAILY_TRADE_LIMIT = "DAILY_TRADE_LIMIT"
    DAY_STOPPED = "DAY_STOPPED"
    CONSECUTIVE_LOSSES = "CONSECUTIVE_LOSSES"
    PAYOFF_MANDATE = "PAYOFF_MANDATE"
    TRADE_INTERVAL = "TRADE_INTERVAL"
    MAX_POSITIONS = "MAX_POSITIONS"
    SYMBOL_NOT_TRADEABLE = "SYMBOL_NOT_TRADEABLE"
    SPREAD_TOO_WIDE = "SPREAD_TOO_WIDE"
    UNKNOWN_ASSET_CLASS = "UNKNOWN_ASSET_CLASS"
    NEWS_BLACKOUT = "NEWS_BLACKOUT"
    INVALID_STOPS = "INVALID_STOPS"
    RR_TOO_LOW = "RR_TOO_LOW"
    COST_TOO_HIGH = "COST_TOO_HIGH"
    NET_PROFIT_TOO_LOW = "NET_PROFIT_TOO_LOW"
    CORRELATED_POSITION = "CORRELATED_POSITION"
    CURRENCY_EXPOSURE = "CURRENCY_EXPOSURE"
    NO_EDGE = "NO_EDGE"
    VOLUME_BELOW_MIN = "VOLUME_BELOW_MIN"


@dataclass(frozen=True, slots=True)
class SymbolTerms:
    """What the broker's ``symbol_info`` says about a symbol. ``currencies`` is
    (currency_base, currency_profit); when None it is read from the symbol's name."""

    point: float | None
    tick_size: float | None
    tick_value_loss: float | None
    volume_min: float | None
    volume_max: float | None
    volume_step: float | None
    trade_allowed: bool | None
    currencies: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Exposure:
    """An open position or a pending order of ours; both count against the limits."""

    symbol: str
    direction: Side
    volume: float | None
    entry_price: float | None
    stop_loss: float | None
    tick_size: float | None
    tick_value_loss: float | None
    pending: bool = False
    currencies: tuple[str, str] | None = None
    ticket: int | None = None
    """The position's ticket (None for a pending order or an order not yet filled)."""


@dataclass(frozen=True, slots=True)
class PreScanInput:
    """What a symbol looks like now. ``floating_pnl`` is the open positions' unrealised
    P&L (equity − balance); ``news_blackout`` is None when the news status is unknown."""

    symbol: str
    now: float | None
    bid: float | None
    ask: float | None
    spec: SymbolTerms | None
    exposures: tuple[Exposure, ...] | None
    floating_pnl: float | None
    news_blackout: bool | None
    news_event: str = ""
    balance: float | None = None
    """The account's balance: limits set as a share of it need it."""


@dataclass(frozen=True, slots=True, eq=False)
class OrderInput:
    """An order about to be sized and sent. ``m1_bars`` holds recent M1 bars of the symbol and
    of every symbol with exposure; ``commission_per_lot`` is the round-turn commission in the
    account currency (0 for commission-free accounts, None when unknown)."""

    market: PreScanInput
    direction: Side | None
    entry_price: float | None
    stop_loss: float | None
    take_profit: float | None
    commission_per_lot: float | None
    m1_bars: Mapping[str, Bars] | None
    balance: float | None = None
    equity: float | None = None
    confidence: float | None = None
    scaling_factor: float = 1.0
    volume: float | None = None

