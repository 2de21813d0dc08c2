"""The account's books as a terminal reports them: account, terminal, positions, orders, deals.

The gateway converts every struct the MetaTrader5 module (or mt5linux, or the simulator)
returns into one of these at once, cast to builtin types, so nothing downstream holds a
``PyStructSequence`` (which cannot be pickled) or an RPyC proxy (which dies with its
connection). Times are the terminal's: epoch seconds or milliseconds of the broker's *server*
clock (reference mt5_api.md §8.3).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AccountRecord", "DealRecord", "OrderRecord", "PositionRecord", "TerminalRecord"]


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
