"""The account's state inside the simulated terminal: its open positions and orders.

These are the terminal's own mutable records, one field per MT5 property (server times in
milliseconds), changed in place as a trade server changes its own (a partial close, a moved
stop, a swap charge); the module builds the real struct types (``TradePosition``,
``TradeOrder``) from them when asked. A deal never changes once filed, so the terminal files
it as the one deal record every role uses (:class:`messages.books.DealRecord`). ``store.py``
persists them; ``books.py`` changes them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AccountState", "Order", "Position"]


@dataclass(slots=True)
class AccountState:
    """What the account keeps between runs besides its positions, orders and deals."""

    login: int
    currency: str
    leverage: int
    balance: float
    credit: float
    next_order_ticket: int
    next_deal_ticket: int
    processed_until_ms: int
    """Server time up to which triggers, swaps and expiries have been applied."""
    last_rollover_day: int
    """The last server day whose opening rollover (swap charge) has been applied."""
    replay_shift_s: int = 0
    """Seconds added to replayed bar times (kept so that a restart sees the same prices)."""


@dataclass(slots=True)
class Position:
    ticket: int
    time_msc: int
    time_update_msc: int
    type: int
    magic: int
    identifier: int
    reason: int
    volume: float
    price_open: float
    sl: float
    tp: float
    swap: float
    symbol: str
    comment: str
    external_id: str = ""


@dataclass(slots=True)
class Order:
    ticket: int
    time_setup_msc: int
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
    external_id: str = ""
