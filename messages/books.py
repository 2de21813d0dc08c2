"""The account's books as a terminal reports them: account, terminal, positions, orders, deals.

The gateway converts every struct the MetaTrader5 module (or mt5linux, or the simulator)
returns into one of these at once, cast to builtin types, so nothing downstream holds a
``PyStructSequence`` (which cannot be pickled) or an RPyC proxy (which dies with its
connection). Times are the terminal's: epoch seconds or milliseconds of the broker's *server*
clock (reference mt5_api.md §8.3).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEAL_ENTRY_IN",
    "DEAL_ENTRY_INOUT",
    "DEAL_ENTRY_OUT",
    "DEAL_ENTRY_OUT_BY",
    "DEAL_TYPE_BUY",
    "DEAL_TYPE_SELL",
    "AccountRecord",
    "DealRecord",
    "OrderRecord",
    "PositionRecord",
    "TerminalRecord",
]


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


DEAL_TYPE_BUY, DEAL_TYPE_SELL = 0, 1  # the trading deals; 2 and up are balance, credit, …
DEAL_ENTRY_IN, DEAL_ENTRY_OUT, DEAL_ENTRY_INOUT, DEAL_ENTRY_OUT_BY = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class DealRecord:
    """One ``history_deals_get()`` item: all 18 fields, and what a role asks of a deal."""

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

    @property
    def is_trade(self) -> bool:
        """A buy or a sell (not a deposit, credit or other balance operation)."""
        return self.type in (DEAL_TYPE_BUY, DEAL_TYPE_SELL)

    @property
    def opens(self) -> bool:
        """It opened (or added to) a position; every other entry closes some of one."""
        return self.entry == DEAL_ENTRY_IN

    @property
    def net_profit(self) -> float:
        """Its result in the account's currency: profit, commission, swap and fee."""
        return self.profit + self.commission + self.swap + self.fee
