"""The broker adapter's own records: frozen copies of what the terminal returns, and orders.

The gateway converts every struct the MetaTrader5 module (or mt5linux, or the simulator)
returns into one of these at once, field by field and cast to builtin types, so nothing
downstream holds a ``PyStructSequence`` (which cannot be pickled) or an RPyC proxy (which dies
with its connection). All records are frozen, slotted dataclasses of plain values, safe to put
into actor messages. Times are the terminal's: epoch seconds or milliseconds of the broker's
*server* clock (reference mt5_api.md §8.3).

Orders go the other way: an :class:`OrderIntent` is what the caller wants, an
:class:`OrderOutcome` what became of it, an :class:`OrderFate` what the terminal's books say
about a client order id after an ambiguous outcome.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np

from actors.broker.retcodes import Outcome

__all__ = [
    "CLIENT_ORDER_ID_PATTERN",
    "AccountRecord",
    "DealRecord",
    "FateStatus",
    "MarketSnapshot",
    "OrderFate",
    "OrderIntent",
    "OrderKind",
    "OrderOutcome",
    "OrderRecord",
    "OrderSide",
    "PositionRecord",
    "SymbolSpecRecord",
    "TerminalRecord",
    "TickRecord",
    "record_from_mapping",
]

_CASTS: dict[str, Any] = {"int": int, "float": float, "str": str, "bool": bool}
_RecordT = TypeVar("_RecordT")


def record_from_mapping(record_type: type[_RecordT], values: Mapping[str, Any]) -> _RecordT:
    """Build ``record_type`` from a struct's ``_asdict()``, casting each field to its type.

    Fields the mapping lacks take the record's default (or fail if it has none), so a terminal
    build that adds fields does not break the adapter.
    """
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(record_type):  # type: ignore[arg-type]
        if field.name not in values:
            continue
        cast = _CASTS.get(str(field.type))
        value = values[field.name]
        kwargs[field.name] = cast(value) if cast is not None else value
    return record_type(**kwargs)


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """``account_info()``: all 28 fields."""

    login: int
    trade_mode: int
    leverage: int
    limit_orders: int
    margin_so_mode: int
    trade_allowed: bool
    trade_expert: bool
    margin_mode: int
    currency_digits: int
    fifo_close: bool
    balance: float
    credit: float
    profit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float
    margin_so_call: float
    margin_so_so: float
    margin_initial: float
    margin_maintenance: float
    assets: float
    liabilities: float
    commission_blocked: float
    name: str
    server: str
    currency: str
    company: str


@dataclass(frozen=True, slots=True)
class TerminalRecord:
    """``terminal_info()``: all 22 fields."""

    community_account: bool
    community_connection: bool
    connected: bool
    dlls_allowed: bool
    trade_allowed: bool
    tradeapi_disabled: bool
    email_enabled: bool
    ftp_enabled: bool
    notifications_enabled: bool
    mqid: bool
    build: int
    maxbars: int
    codepage: int
    ping_last: int
    community_balance: float
    retransmission: float
    company: str
    name: str
    language: str
    path: str
    data_path: str
    commondata_path: str


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
class PositionRecord:
    """One ``positions_get()`` item: all 19 fields."""

    ticket: int
    time: int
    time_msc: int
    time_update: int
    time_update_msc: int
    type: int
    magic: int
    identifier: int
    reason: int
    volume: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    swap: float
    profit: float
    symbol: str
    comment: str
    external_id: str


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One ``orders_get()`` / ``history_orders_get()`` item: all 24 fields."""

    ticket: int
    time_setup: int
    time_setup_msc: int
    time_done: int
    time_done_msc: int
    time_expiration: int
    type: int
    type_time: int
    type_filling: int
    state: int
    magic: int
    position_id: int
    position_by_id: int
    reason: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    price_stoplimit: float
    symbol: str
    comment: str
    external_id: str


@dataclass(frozen=True, slots=True)
class DealRecord:
    """One ``history_deals_get()`` item: all 18 fields."""

    ticket: int
    order: int
    time: int
    time_msc: int
    type: int
    entry: int
    magic: int
    position_id: int
    reason: int
    volume: float
    price: float
    commission: float
    swap: float
    profit: float
    fee: float
    symbol: str
    comment: str
    external_id: str


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """One symbol's tick and bars, read in one pass; ``error`` is ``last_error()`` when either
    read failed (then the failed part is ``None``)."""

    symbol: str
    tick: TickRecord | None
    rates: np.ndarray | None
    error: tuple[int, str] | None = None


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderKind(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


CLIENT_ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,25}$")
"""Client order ids travel in the MT5 comment: at most 25 ASCII letters, digits, ``_`` or ``-``,
safely under the documented 31-character limit and the 28-29 seen on some builds (§7.3)."""


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the caller wants placed.

    ``price`` is required for limit and stop orders; for a market order it is the price the
    caller decided at, used as the reference for ``deviation_points`` (requotes and slippage
    guard) and may be left ``None`` to take the current quote. ``sl``/``tp`` of ``None`` mean
    none. ``client_order_id`` is written into the order's comment and is how an ambiguous
    outcome is resolved later, so it must be unique per order.
    """

    symbol: str
    side: OrderSide
    volume: float
    client_order_id: str
    magic: int
    kind: OrderKind = OrderKind.MARKET
    price: float | None = None
    sl: float | None = None
    tp: float | None = None
    deviation_points: int = 20
    position_ticket: int | None = None
    """Close (part of) this position instead of opening one (market orders only)."""

    def __post_init__(self) -> None:
        if not CLIENT_ORDER_ID_PATTERN.match(self.client_order_id):
            raise ValueError(
                f"client_order_id {self.client_order_id!r} must be 1-25 characters of "
                "[A-Za-z0-9_-]: it is stored in the MT5 comment (31-character limit)"
            )
        if not self.symbol:
            raise ValueError("symbol is required")
        if not self.volume > 0:
            raise ValueError(f"volume must be > 0, got {self.volume!r}")
        if self.magic < 0:
            raise ValueError(f"magic must be >= 0, got {self.magic!r}")
        if self.kind is not OrderKind.MARKET and (self.price is None or self.price <= 0):
            raise ValueError(f"a {self.kind} order needs a price")
        if self.position_ticket is not None and self.kind is not OrderKind.MARKET:
            raise ValueError("closing a position takes a market order")
        if self.deviation_points < 0:
            raise ValueError("deviation_points must be >= 0")


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What became of a trade request.

    ``status`` says what the caller may do next (see :mod:`actors.broker.retcodes`):
    ``DONE`` – it happened; ``REJECTED`` – it did not and will not without a change;
    ``RETRY_PRICE`` / ``WAIT`` – it did not, and may be retried (fresh price / later);
    ``UNKNOWN`` – it may or may not have happened: resolve with ``find_order_fate``, never
    resend. ``sent`` is False when the request never reached ``order_send`` (so nothing can have
    executed).
    """

    status: Outcome
    reason: str
    """A stable machine-readable reason: ``done``, ``requote``, ``invalid_volume``,
    ``ipc_timeout``, ``gateway_timeout``…"""
    client_order_id: str
    sent: bool
    retcode: int | None = None
    description: str = ""
    order: int = 0
    deal: int = 0
    volume: float = 0.0
    price: float = 0.0
    bid: float = 0.0
    ask: float = 0.0
    comment: str = ""
    """The terminal's comment (usually the retcode's text)."""
    request_id: int = 0
    error: tuple[int, str] | None = None
    """``last_error()`` when ``order_send`` returned ``None`` or a preceding read failed."""
    attempts: int = 0
    type_filling: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is Outcome.DONE


class FateStatus(StrEnum):
    FILLED = "filled"
    """A deal was executed for the order (the position may since have closed)."""
    PENDING = "pending"
    """The order rests in the book as a pending order."""
    CANCELLED = "cancelled"
    """The order reached the books but ended without a deal (canceled, expired, rejected)."""
    NOT_FOUND = "not_found"
    """Nothing in positions, orders or history carries this client order id."""


@dataclass(frozen=True, slots=True)
class OrderFate:
    """What the terminal's books say about one client order id (magic + comment)."""

    client_order_id: str
    magic: int
    status: FateStatus
    order: int = 0
    position: int = 0
    deals: tuple[int, ...] = ()
    volume: float = 0.0
    price: float = 0.0
    order_state: int | None = None
