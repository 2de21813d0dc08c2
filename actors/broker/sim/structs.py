"""The MetaTrader5 result structures, rebuilt with their real field order.

The real module's results are C ``PyStructSequence`` objects (reference mt5_api.md §1.2, §4):
``tuple`` subclasses with read-only attributes, an ``_asdict()`` that returns a plain ``dict`` in
field order (a nested ``request`` stays a ``TradeRequest``), ``__match_args__``, no ``_fields``, a
``repr`` like ``TradePosition(ticket=…, …)``, a constructor that takes one iterable, and a class
whose ``__module__`` is ``builtins`` so that pickling fails. The types here behave the same way,
so code that works against the simulator also works against the terminal.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ACCOUNT_INFO_FIELDS",
    "BOOK_INFO_FIELDS",
    "ORDER_CHECK_RESULT_FIELDS",
    "ORDER_SEND_RESULT_FIELDS",
    "STRUCT_TYPES",
    "SYMBOL_INFO_FIELDS",
    "TERMINAL_INFO_FIELDS",
    "TICK_FIELDS",
    "TRADE_DEAL_FIELDS",
    "TRADE_ORDER_FIELDS",
    "TRADE_POSITION_FIELDS",
    "TRADE_REQUEST_FIELDS",
    "TRADE_REQUEST_FIELD_TYPES",
    "AccountInfo",
    "BookInfo",
    "OrderCheckResult",
    "OrderSendResult",
    "SymbolInfo",
    "TerminalInfo",
    "Tick",
    "TradeDeal",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
]

ACCOUNT_INFO_FIELDS: tuple[str, ...] = (
    "login",
    "trade_mode",
    "leverage",
    "limit_orders",
    "margin_so_mode",
    "trade_allowed",
    "trade_expert",
    "margin_mode",
    "currency_digits",
    "fifo_close",
    "balance",
    "credit",
    "profit",
    "equity",
    "margin",
    "margin_free",
    "margin_level",
    "margin_so_call",
    "margin_so_so",
    "margin_initial",
    "margin_maintenance",
    "assets",
    "liabilities",
    "commission_blocked",
    "name",
    "server",
    "currency",
    "company",
)

TERMINAL_INFO_FIELDS: tuple[str, ...] = (
    "community_account",
    "community_connection",
    "connected",
    "dlls_allowed",
    "trade_allowed",
    "tradeapi_disabled",
    "email_enabled",
    "ftp_enabled",
    "notifications_enabled",
    "mqid",
    "build",
    "maxbars",
    "codepage",
    "ping_last",
    "community_balance",
    "retransmission",
    "company",
    "name",
    "language",
    "path",
    "data_path",
    "commondata_path",
)

SYMBOL_INFO_FIELDS: tuple[str, ...] = (
    "custom",
    "chart_mode",
    "select",
    "visible",
    "session_deals",
    "session_buy_orders",
    "session_sell_orders",
    "volume",
    "volumehigh",
    "volumelow",
    "time",
    "digits",
    "spread",
    "spread_float",
    "ticks_bookdepth",
    "trade_calc_mode",
    "trade_mode",
    "start_time",
    "expiration_time",
    "trade_stops_level",
    "trade_freeze_level",
    "trade_exemode",
    "swap_mode",
    "swap_rollover3days",
    "margin_hedged_use_leg",
    "expiration_mode",
    "filling_mode",
    "order_mode",
    "order_gtc_mode",
    "option_mode",
    "option_right",
    "bid",
    "bidhigh",
    "bidlow",
    "ask",
    "askhigh",
    "asklow",
    "last",
    "lasthigh",
    "lastlow",
    "volume_real",
    "volumehigh_real",
    "volumelow_real",
    "option_strike",
    "point",
    "trade_tick_value",
    "trade_tick_value_profit",
    "trade_tick_value_loss",
    "trade_tick_size",
    "trade_contract_size",
    "trade_accrued_interest",
    "trade_face_value",
    "trade_liquidity_rate",
    "volume_min",
    "volume_max",
    "volume_step",
    "volume_limit",
    "swap_long",
    "swap_short",
    "margin_initial",
    "margin_maintenance",
    "session_volume",
    "session_turnover",
    "session_interest",
    "session_buy_orders_volume",
    "session_sell_orders_volume",
    "session_open",
    "session_close",
    "session_aw",
    "session_price_settlement",
    "session_price_limit_min",
    "session_price_limit_max",
    "margin_hedged",
    "price_change",
    "price_volatility",
    "price_theoretical",
    "price_greeks_delta",
    "price_greeks_theta",
    "price_greeks_gamma",
    "price_greeks_vega",
    "price_greeks_rho",
    "price_greeks_omega",
    "price_sensitivity",
    "basis",
    "category",
    "currency_base",
    "currency_profit",
    "currency_margin",
    "bank",
    "description",
    "exchange",
    "formula",
    "isin",
    "name",
    "page",
    "path",
)

TICK_FIELDS: tuple[str, ...] = (
    "time",
    "bid",
    "ask",
    "last",
    "volume",
    "time_msc",
    "flags",
    "volume_real",
)

TRADE_POSITION_FIELDS: tuple[str, ...] = (
    "ticket",
    "time",
    "time_msc",
    "time_update",
    "time_update_msc",
    "type",
    "magic",
    "identifier",
    "reason",
    "volume",
    "price_open",
    "sl",
    "tp",
    "price_current",
    "swap",
    "profit",
    "symbol",
    "comment",
    "external_id",
)

TRADE_ORDER_FIELDS: tuple[str, ...] = (
    "ticket",
    "time_setup",
    "time_setup_msc",
    "time_done",
    "time_done_msc",
    "time_expiration",
    "type",
    "type_time",
    "type_filling",
    "state",
    "magic",
    "position_id",
    "position_by_id",
    "reason",
    "volume_initial",
    "volume_current",
    "price_open",
    "sl",
    "tp",
    "price_current",
    "price_stoplimit",
    "symbol",
    "comment",
    "external_id",
)

TRADE_DEAL_FIELDS: tuple[str, ...] = (
    "ticket",
    "order",
    "time",
    "time_msc",
    "type",
    "entry",
    "magic",
    "position_id",
    "reason",
    "volume",
    "price",
    "commission",
    "swap",
    "profit",
    "fee",
    "symbol",
    "comment",
    "external_id",
)

TRADE_REQUEST_FIELDS: tuple[str, ...] = (
    "action",
    "magic",
    "order",
    "symbol",
    "volume",
    "price",
    "stoplimit",
    "sl",
    "tp",
    "deviation",
    "type",
    "type_filling",
    "type_time",
    "expiration",
    "comment",
    "position",
    "position_by",
)

ORDER_SEND_RESULT_FIELDS: tuple[str, ...] = (
    "retcode",
    "deal",
    "order",
    "volume",
    "price",
    "bid",
    "ask",
    "comment",
    "request_id",
    "retcode_external",
    "request",
)

ORDER_CHECK_RESULT_FIELDS: tuple[str, ...] = (
    "retcode",
    "balance",
    "equity",
    "profit",
    "margin",
    "margin_free",
    "margin_level",
    "comment",
    "request",
)

BOOK_INFO_FIELDS: tuple[str, ...] = (
    "type",
    "price",
    "volume",
    "volume_dbl",
)

TRADE_REQUEST_FIELD_TYPES: dict[str, type] = {
    "action": int,
    "magic": int,
    "order": int,
    "symbol": str,
    "volume": float,
    "price": float,
    "stoplimit": float,
    "sl": float,
    "tp": float,
    "deviation": int,
    "type": int,
    "type_filling": int,
    "type_time": int,
    "expiration": int,
    "comment": str,
    "position": int,
    "position_by": int,
}
"""The Python type the real module demands for each request key (reference §7.1, §7.3)."""


class _StructSequence(tuple):
    """Base of the struct types: a tuple whose items are also named attributes."""

    __slots__ = ()
    _field_names: tuple[str, ...] = ()

    def __new__(cls, sequence: Iterable[Any], dict: Any = None) -> _StructSequence:
        values = tuple(sequence)
        if len(values) != len(cls._field_names):
            raise TypeError(
                f"{cls.__name__}() takes a {len(cls._field_names)}-sequence "
                f"({len(values)}-sequence given)"
            )
        return tuple.__new__(cls, values)

    def _asdict(self) -> dict[str, Any]:
        """Convert named tuple object to dictionary (the real module's own wording)."""
        return dict(zip(self._field_names, self, strict=True))

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={v!r}" for n, v in zip(self._field_names, self, strict=True))
        return f"{type(self).__name__}({body})"


def _struct_type(name: str, doc: str, field_names: tuple[str, ...]) -> type[_StructSequence]:
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__doc__": doc,
        "__match_args__": field_names,
        "_field_names": field_names,
    }
    for index, field_name in enumerate(field_names):
        namespace[field_name] = property(operator.itemgetter(index))
    struct = type(name, (_StructSequence,), namespace)
    # The real types live in ``builtins`` as far as pickle can tell, so pickling them fails;
    # the copies do the same, so nothing that works here breaks on the terminal.
    struct.__module__ = "builtins"
    struct.__qualname__ = name
    return struct


AccountInfo = _struct_type(
    "AccountInfo", "This is a structure for storing account information", ACCOUNT_INFO_FIELDS
)
TerminalInfo = _struct_type(
    "TerminalInfo", "This is a structure for storing terminal information", TERMINAL_INFO_FIELDS
)
SymbolInfo = _struct_type(
    "SymbolInfo", "This is a structure for storing symbol information", SYMBOL_INFO_FIELDS
)
Tick = _struct_type("Tick", "This is a structure for storing latest symbol prices", TICK_FIELDS)
TradePosition = _struct_type("TradePosition", "Trade position structure", TRADE_POSITION_FIELDS)
TradeOrder = _struct_type("TradeOrder", "Trade order structure", TRADE_ORDER_FIELDS)
TradeDeal = _struct_type("TradeDeal", "Trade deal structure", TRADE_DEAL_FIELDS)
TradeRequest = _struct_type("TradeRequest", "Trade request structure", TRADE_REQUEST_FIELDS)
OrderSendResult = _struct_type(
    "OrderSendResult", "order_send result structure", ORDER_SEND_RESULT_FIELDS
)
OrderCheckResult = _struct_type(
    "OrderCheckResult", "order_check result structure", ORDER_CHECK_RESULT_FIELDS
)
BookInfo = _struct_type(
    "BookInfo", "This is a structure for storing Depth of Market information", BOOK_INFO_FIELDS
)

STRUCT_TYPES: dict[str, type[_StructSequence]] = {
    "AccountInfo": AccountInfo,
    "TerminalInfo": TerminalInfo,
    "SymbolInfo": SymbolInfo,
    "Tick": Tick,
    "TradePosition": TradePosition,
    "TradeOrder": TradeOrder,
    "TradeDeal": TradeDeal,
    "TradeRequest": TradeRequest,
    "OrderSendResult": OrderSendResult,
    "OrderCheckResult": OrderCheckResult,
    "BookInfo": BookInfo,
}
