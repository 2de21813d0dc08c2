"""Dashboard rows for tests that feed POSITION_UPDATE and ACCOUNT_UPDATE events by hand: whole,
typed rows with plain defaults, so each test names only the fields it checks."""

from __future__ import annotations

from typing import Any

from messages.events import AccountRow, PositionRow
from messages.market import Side

__all__ = ["account_row", "position_row"]


def account_row(**fields: Any) -> AccountRow:
    values: dict[str, Any] = {"balance": 10_000.0, "equity": 10_000.0, "profit": 0.0,
                              "currency": "USD", "leverage": 100, "day_pl": 0.0}
    return AccountRow(**{**values, **fields})


def position_row(**fields: Any) -> PositionRow:
    values: dict[str, Any] = {"ticket": 1, "symbol": "EURUSD", "type": 0, "direction": Side.BUY,
                              "volume": 0.1, "entry_price": 1.1, "price_current": 1.1,
                              "sl_price": 1.09, "tp_price": 1.12, "profit": 0.0}
    return PositionRow(**{**values, **fields})
