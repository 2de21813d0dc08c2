"""A ``MetaTrader5``-shaped module object bound to one simulated terminal.

:func:`build_module` returns a real ``types.ModuleType`` named ``MetaTrader5`` with the 32
functions of the package (reference mt5_api.md §2), its 223 constants, its struct types and the
``Buy``/``Sell``/``Close`` helpers, all driving one :class:`~actors.broker.sim.terminal.
SimTerminal`. It reproduces the module's own behaviour (§1.2, §7.3): no exceptions for
operational failures but ``None``/``False`` with the reason in ``last_error()``; ``(-10004, 'No
IPC connection')`` before ``initialize()`` and after ``shutdown()``; keyword-only filters and
positional-only dates; and the strict type checks of trade requests, e.g. ``sl=0`` →
``(-2, 'Invalid "sl" argument')``.

:func:`register_module` installs the object in ``sys.modules`` as ``MetaTrader5``, so code that
does ``import MetaTrader5`` — the adapter's real-terminal path, or an RPyC classic server as
mt5linux runs it — gets the simulator. The terminal itself stays reachable as ``module._sim``
(for fault switches), a name the real package does not have.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from actors.broker.sim import constants as c
from actors.broker.sim.config import SimConfig
from actors.broker.sim.market import MarketError
from actors.broker.sim.structs import (
    STRUCT_TYPES,
    TRADE_REQUEST_FIELD_TYPES,
    TRADE_REQUEST_FIELDS,
)
from actors.broker.sim.terminal import (
    TERMINAL_BUILD,
    TERMINAL_RELEASE_DATE,
    SimTerminal,
    TerminalError,
)
from actors.runtime.clock import Clock

__all__ = [
    "FUNCTION_NAMES",
    "MODULE_NAME",
    "build_module",
    "create_sim_module",
    "register_module",
    "unregister_module",
]

MODULE_NAME = "MetaTrader5"
PACKAGE_VERSION = "5.0.6231"

FUNCTION_NAMES: tuple[str, ...] = (
    "initialize",
    "login",
    "shutdown",
    "version",
    "last_error",
    "account_info",
    "terminal_info",
    "symbols_total",
    "symbols_get",
    "symbol_info",
    "symbol_info_tick",
    "symbol_select",
    "market_book_add",
    "market_book_get",
    "market_book_release",
    "copy_rates_from",
    "copy_rates_from_pos",
    "copy_rates_range",
    "copy_ticks_from",
    "copy_ticks_range",
    "orders_total",
    "orders_get",
    "positions_total",
    "positions_get",
    "history_orders_total",
    "history_orders_get",
    "history_deals_total",
    "history_deals_get",
    "order_calc_margin",
    "order_calc_profit",
    "order_check",
    "order_send",
)
"""The 32 functions of the real module, in the order of the reference's table."""

# The docstrings compiled into the real module (reference §2.1), used as ours.
_SIGNATURES: dict[str, str] = {
    "initialize": 'initialize([path],[server="SERVER"],[login=LOGIN],[password="PASSWORD"])',
    "login": 'login(login,[server="SERVER"],[password="PASSWORD"])',
    "shutdown": "shutdown()",
    "version": "version()",
    "last_error": "last_error()",
    "account_info": "account_info()",
    "terminal_info": "terminal_info()",
    "symbols_total": "symbols_total()",
    "symbols_get": 'symbols_get([group="GROUP"])',
    "symbol_info": "symbol_info(symbol)",
    "symbol_info_tick": "symbol_info_tick(symbol)",
    "symbol_select": "symbol_select(symbol,[enable])",
    "market_book_add": "market_book_add(symbol)",
    "market_book_get": "market_book_get(symbol)",
    "market_book_release": "market_book_release(symbol)",
    "copy_rates_from": "copy_rates_from(symbol, timeframe, date_from, count)",
    "copy_rates_from_pos": "copy_rates_from_pos(symbol, timeframe, start_pos, count)",
    "copy_rates_range": "copy_rates_range(symbol, timeframe, date_from, date_to)",
    "copy_ticks_from": "copy_ticks_from(symbol, date_from, count, flags)",
    "copy_ticks_range": "copy_ticks_range(symbol, date_from, date_to, flags)",
    "orders_total": "orders_total()",
    "orders_get": 'orders_get([symbol="SYMBOL"],[ticket=TICKET],[group="GROUP"])',
    "positions_total": "positions_total()",
    "positions_get": 'positions_get([symbol="SYMBOL"],[ticket=TICKET],[group="GROUP"])',
    "history_orders_total": "history_orders_total(date_from, date_to)",
    "history_orders_get": (
        'history_orders_get([date_from, date_to, [group="GROUP"]],[position=POSITION],'
        "[ticket=TICKET])"
    ),
    "history_deals_total": "history_deals_total(date_from, date_to)",
    "history_deals_get": (
        'history_deals_get([date_from, date_to, [group="GROUP"]],[position=POSITION],'
        "[ticket=TICKET])"
    ),
    "order_calc_margin": "order_calc_margin(action, symbol, volume, price)",
    "order_calc_profit": "order_calc_profit(action, symbol, volume, price_open, price_close)",
    "order_check": "order_check(request)",
    "order_send": "order_send(request)",
}

_ORDINALS = ("1st", "2nd", "3rd", "4th", "5th")
_NO_CONNECTION = (c.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
_IPC_TIMEOUT = (c.RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")


class _ArgumentError(Exception):
    """Bad arguments: the call returns its failure value with ``(-2, text)``."""


def _no_keywords(kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise _ArgumentError("Invalid arguments")


def _no_positionals(args: tuple[Any, ...]) -> None:
    if args:
        raise _ArgumentError("Unnamed arguments not allowed")


def _count(args: tuple[Any, ...], exactly: int) -> None:
    if len(args) != exactly:
        raise _ArgumentError("Invalid number of arguments")


def _string(value: Any, position: int) -> str:
    if not isinstance(value, str):
        raise _ArgumentError(f"Invalid {_ORDINALS[position]} unnamed argument")
    return value


def _integer(value: Any, position: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _ArgumentError(f"Invalid {_ORDINALS[position]} unnamed argument")
    return value


def _number(value: Any, position: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _ArgumentError(f"Invalid {_ORDINALS[position]} unnamed argument") from None


def _seconds(value: Any, position: int) -> float:
    """A date argument: a ``datetime`` (``.timestamp()``: a naive one is local time, as in the
    real module) or seconds since 1970."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise _ArgumentError(f"Invalid {_ORDINALS[position]} unnamed argument")


def _keyword(kwargs: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = kwargs.get(name)
    if value is None:
        return None
    if isinstance(value, bool) and kind is int:
        raise _ArgumentError(f'Invalid "{name}" argument')
    if not isinstance(value, kind):
        raise _ArgumentError(f'Invalid "{name}" argument')
    return value


def _check_keywords(kwargs: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    if any(name not in allowed for name in kwargs):
        raise _ArgumentError("Invalid arguments")


def _normalise_request(request: Any, comment_limit: int) -> dict[str, Any]:
    """The module's own checks of a trade request (reference §7.3), then every key filled."""
    if not isinstance(request, dict):
        raise _ArgumentError("Invalid arguments")
    normalised: dict[str, Any] = {}
    for name in TRADE_REQUEST_FIELDS:
        kind = TRADE_REQUEST_FIELD_TYPES[name]
        if name not in request:
            normalised[name] = kind()
            continue
        value = request[name]
        if kind is float:
            valid = isinstance(value, float)
        elif kind is int:
            valid = isinstance(value, int) and not (name == "magic" and value < 0)
        else:
            valid = isinstance(value, str)
            if valid and name == "comment":
                valid = len(value) <= comment_limit and value.isascii()
        if not valid:
            raise _ArgumentError(f'Invalid "{name}" argument')
        normalised[name] = kind(value)
    return normalised


class _SimModuleApi:
    """The module functions' state: the IPC connection flag and ``last_error()``."""

    def __init__(self, terminal: SimTerminal) -> None:
        self.terminal = terminal
        self.connected = False
        self.error: tuple[int, str] = (c.RES_S_OK, "Success")
        self.lock = threading.RLock()

    def call(
        self,
        name: str,
        failure: Any,
        body: Callable[[], Any],
        *,
        needs_connection: bool = True,
    ) -> Any:
        self.terminal.faults.delay_call()
        faults = self.terminal.faults.config
        with self.lock:
            if faults.disconnect:
                self.error = _NO_CONNECTION
                return failure
            if faults.ipc_timeout:
                self.error = _IPC_TIMEOUT
                return failure
            if needs_connection and not self.connected:
                self.error = _NO_CONNECTION
                return failure
            try:
                result = body()
            except _ArgumentError as error:
                self.error = (c.RES_E_INVALID_PARAMS, str(error))
                return failure
            except (TerminalError, MarketError) as error:
                self.error = (error.code, error.description)
                return failure
            self.error = (c.RES_S_OK, "Success")
            return result


def build_module(terminal: SimTerminal) -> types.ModuleType:
    """A fresh ``MetaTrader5`` module object driving ``terminal``."""
    api = _SimModuleApi(terminal)
    module = types.ModuleType(MODULE_NAME, "Simulated MetaTrader 5 terminal (Ensemble).")
    t = terminal
    comment_limit = terminal.config.comment_limit

    def initialize(*args: Any, **kwargs: Any) -> bool:
        def body() -> bool:
            if len(args) > 1:
                raise _ArgumentError("Invalid number of arguments")
            _check_keywords(kwargs, ("path", "login", "password", "server", "timeout", "portable"))
            if args:
                _string(args[0], 0)
            _keyword(kwargs, "path", str)
            login_value = _keyword(kwargs, "login", int)
            password = _keyword(kwargs, "password", str)
            server = _keyword(kwargs, "server", str)
            _keyword(kwargs, "timeout", int)
            _keyword(kwargs, "portable", bool)
            t.authorize(login_value, password, server)
            api.connected = True
            return True

        return api.call("initialize", False, body, needs_connection=False)

    def login(*args: Any, **kwargs: Any) -> bool:
        def body() -> bool:
            if len(args) > 1:
                raise _ArgumentError("Invalid number of arguments")
            _check_keywords(kwargs, ("login", "password", "server", "timeout"))
            value = args[0] if args else kwargs.get("login")
            if isinstance(value, bool) or not isinstance(value, int):
                raise _ArgumentError('Invalid "login" argument')
            password = _keyword(kwargs, "password", str)
            server = _keyword(kwargs, "server", str)
            _keyword(kwargs, "timeout", int)
            t.authorize(value, password, server)
            return True

        return api.call("login", False, body)

    def shutdown(*args: Any, **kwargs: Any) -> None:
        def body() -> None:
            api.connected = False

        api.call("shutdown", None, body, needs_connection=False)

    def version(*args: Any, **kwargs: Any) -> tuple[int, int, str] | None:
        def body() -> tuple[int, int, str]:
            _count(args, 0)
            _no_keywords(kwargs)
            return (500, TERMINAL_BUILD, TERMINAL_RELEASE_DATE)

        return api.call("version", None, body)

    def last_error(*args: Any, **kwargs: Any) -> tuple[int, str]:
        with api.lock:
            return api.error

    def _no_args(name: str, failure: Any, produce: Callable[[], Any]) -> Callable[..., Any]:
        def function(*args: Any, **kwargs: Any) -> Any:
            def body() -> Any:
                _count(args, 0)
                _no_keywords(kwargs)
                return produce()

            return api.call(name, failure, body)

        return function

    account_info = _no_args("account_info", None, t.account_info)
    terminal_info = _no_args("terminal_info", None, t.terminal_info)
    symbols_total = _no_args("symbols_total", None, lambda: len(t.symbol_names))
    orders_total = _no_args("orders_total", None, lambda: len(t.orders_get()))
    positions_total = _no_args("positions_total", None, lambda: len(t.positions_get()))

    def symbols_get(*args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        def body() -> tuple[Any, ...]:
            if len(args) > 1:
                raise _ArgumentError("Invalid number of arguments")
            _check_keywords(kwargs, ("group",))
            group = args[0] if args else kwargs.get("group")
            if group is not None and not isinstance(group, str):
                raise _ArgumentError('Invalid "group" argument')
            from actors.broker.sim.terminal import group_matches

            names = t.symbol_names if group is None else group_matches(group, t.symbol_names)
            return tuple(t.symbol_info(name) for name in names)

        return api.call("symbols_get", None, body)

    def _one_symbol(name: str, failure: Any, produce: Callable[[str], Any]) -> Callable[..., Any]:
        def function(*args: Any, **kwargs: Any) -> Any:
            def body() -> Any:
                _no_keywords(kwargs)
                _count(args, 1)
                return produce(_string(args[0], 0))

            return api.call(name, failure, body)

        return function

    symbol_info = _one_symbol("symbol_info", None, t.symbol_info)
    symbol_info_tick = _one_symbol("symbol_info_tick", None, t.tick)

    def _book_add(symbol: str) -> bool:
        t.spec(symbol)
        return True

    def _book_get(symbol: str) -> tuple[Any, ...]:
        # No depth of market in the simulator: the book holds the best bid and ask only.
        tick = t.tick(symbol)
        book_info = STRUCT_TYPES["BookInfo"]
        return (
            book_info((c.BOOK_TYPE_SELL, tick.ask, 1, 1.0)),
            book_info((c.BOOK_TYPE_BUY, tick.bid, 1, 1.0)),
        )

    market_book_add = _one_symbol("market_book_add", False, _book_add)
    market_book_release = _one_symbol("market_book_release", False, _book_add)
    market_book_get = _one_symbol("market_book_get", None, _book_get)

    def symbol_select(*args: Any, **kwargs: Any) -> bool:
        def body() -> bool:
            _no_keywords(kwargs)
            if len(args) not in (1, 2):
                raise _ArgumentError("Invalid number of arguments")
            symbol = _string(args[0], 0)
            enable = True if len(args) == 1 else args[1]
            if not isinstance(enable, bool):
                raise _ArgumentError("Invalid 2nd unnamed argument")
            return t.select(symbol, enable)

        return api.call("symbol_select", False, body)

    def copy_rates_from(*args: Any, **kwargs: Any) -> Any:
        def body() -> Any:
            _no_keywords(kwargs)
            _count(args, 4)
            return t.rates_from(
                _string(args[0], 0), _integer(args[1], 1), _seconds(args[2], 2),
                _integer(args[3], 3),
            )  # fmt: skip

        return api.call("copy_rates_from", None, body)

    def copy_rates_from_pos(*args: Any, **kwargs: Any) -> Any:
        def body() -> Any:
            _no_keywords(kwargs)
            _count(args, 4)
            return t.rates_from_pos(
                _string(args[0], 0), _integer(args[1], 1), _integer(args[2], 2),
                _integer(args[3], 3),
            )  # fmt: skip

        return api.call("copy_rates_from_pos", None, body)

    def copy_rates_range(*args: Any, **kwargs: Any) -> Any:
        def body() -> Any:
            _no_keywords(kwargs)
            _count(args, 4)
            return t.rates_range(
                _string(args[0], 0), _integer(args[1], 1), _seconds(args[2], 2),
                _seconds(args[3], 3),
            )  # fmt: skip

        return api.call("copy_rates_range", None, body)

    def copy_ticks_from(*args: Any, **kwargs: Any) -> Any:
        def body() -> Any:
            _no_keywords(kwargs)
            _count(args, 4)
            return t.ticks_from(
                _string(args[0], 0), int(_seconds(args[1], 1) * 1000), _integer(args[2], 2),
                _integer(args[3], 3),
            )  # fmt: skip

        return api.call("copy_ticks_from", None, body)

    def copy_ticks_range(*args: Any, **kwargs: Any) -> Any:
        def body() -> Any:
            _no_keywords(kwargs)
            _count(args, 4)
            return t.ticks_range(
                _string(args[0], 0), int(_seconds(args[1], 1) * 1000),
                int(_seconds(args[2], 2) * 1000) + 999, _integer(args[3], 3),
            )  # fmt: skip

        return api.call("copy_ticks_range", None, body)

    def _filtered(name: str, produce: Callable[..., Any]) -> Callable[..., Any]:
        def function(*args: Any, **kwargs: Any) -> Any:
            def body() -> Any:
                _no_positionals(args)
                _check_keywords(kwargs, ("symbol", "group", "ticket"))
                return produce(
                    symbol=_keyword(kwargs, "symbol", str),
                    group=_keyword(kwargs, "group", str),
                    ticket=_keyword(kwargs, "ticket", int),
                )

            return api.call(name, None, body)

        return function

    orders_get = _filtered("orders_get", t.orders_get)
    positions_get = _filtered("positions_get", t.positions_get)

    def _history_total(name: str, produce: Callable[[float, float], int]) -> Callable[..., Any]:
        def function(*args: Any, **kwargs: Any) -> Any:
            def body() -> int:
                _no_keywords(kwargs)
                _count(args, 2)
                return produce(_seconds(args[0], 0), _seconds(args[1], 1))

            return api.call(name, None, body)

        return function

    history_orders_total = _history_total("history_orders_total", t.history_orders_total)
    history_deals_total = _history_total("history_deals_total", t.history_deals_total)

    def _history_get(name: str, produce: Callable[..., Any]) -> Callable[..., Any]:
        def function(*args: Any, **kwargs: Any) -> Any:
            def body() -> Any:
                _check_keywords(kwargs, ("group", "ticket", "position"))
                ticket = _keyword(kwargs, "ticket", int)
                position = _keyword(kwargs, "position", int)
                group = _keyword(kwargs, "group", str)
                if args:
                    _count(args, 2)
                    return produce(_seconds(args[0], 0), _seconds(args[1], 1), group=group)
                if ticket is None and position is None:
                    raise _ArgumentError("Invalid arguments")
                if position is not None and t.faults.take("position_history_timeouts"):
                    raise TerminalError(*_IPC_TIMEOUT)
                return produce(ticket=ticket, position=position)

            return api.call(name, None, body)

        return function

    history_orders_get = _history_get("history_orders_get", t.history_orders_get)
    history_deals_get = _history_get("history_deals_get", t.history_deals_get)

    def order_calc_margin(*args: Any, **kwargs: Any) -> float | None:
        def body() -> float:
            _no_keywords(kwargs)
            _count(args, 4)
            return t.calc_margin(
                _integer(args[0], 0), _string(args[1], 1), _number(args[2], 2),
                _number(args[3], 3),
            )  # fmt: skip

        return api.call("order_calc_margin", None, body)

    def order_calc_profit(*args: Any, **kwargs: Any) -> float | None:
        def body() -> float:
            _no_keywords(kwargs)
            _count(args, 5)
            return t.calc_profit(
                _integer(args[0], 0), _string(args[1], 1), _number(args[2], 2),
                _number(args[3], 3), _number(args[4], 4),
            )  # fmt: skip

        return api.call("order_calc_profit", None, body)

    def order_check(*args: Any, **kwargs: Any) -> Any:
        def body() -> Any:
            _no_keywords(kwargs)
            _count(args, 1)
            return t.order_check(_normalise_request(args[0], comment_limit))

        return api.call("order_check", None, body)

    def order_send(*args: Any, **kwargs: Any) -> Any:
        def body() -> Any:
            _no_keywords(kwargs)
            _count(args, 1)
            result = t.order_send(_normalise_request(args[0], comment_limit))
            executed = result.retcode in (
                c.TRADE_RETCODE_DONE,
                c.TRADE_RETCODE_DONE_PARTIAL,
                c.TRADE_RETCODE_PLACED,
            )
            if executed and t.faults.config.timeout_after_execution:
                # The trade is done on the server, but the answer never reaches the caller.
                raise TerminalError(*_IPC_TIMEOUT)
            return result

        return api.call("order_send", None, body)

    functions = {
        name: value
        for name, value in locals().items()
        if name in FUNCTION_NAMES and callable(value)
    }
    for name, function in functions.items():
        function.__name__ = function.__qualname__ = name
        function.__doc__ = _SIGNATURES[name]
        function.__module__ = MODULE_NAME
        setattr(module, name, function)
    for name, value in c.MT5_CONSTANTS.items():
        setattr(module, name, value)
    for name, struct in STRUCT_TYPES.items():
        setattr(module, name, struct)
    module.__version__ = PACKAGE_VERSION
    module.__author__ = "Ensemble (simulated MetaTrader 5)"
    module._sim = terminal
    _add_helpers(module)
    return module


def _add_helpers(mt5: types.ModuleType) -> None:
    """``Buy``, ``Sell`` and ``Close``, as the real package ships them (reference §2.10):
    market orders that retry up to ten times on requote or off quotes without a given price."""
    retry_codes = (c.TRADE_RETCODE_REQUOTE, c.TRADE_RETCODE_PRICE_OFF)

    def _market(
        symbol: str, volume: float, order_type: int, price: float | None,
        comment: str | None, ticket: int | None,
    ) -> Any:  # fmt: skip
        request: dict[str, Any] = {
            "action": c.TRADE_ACTION_DEAL,
            "symbol": symbol,
            "volume": float(volume),
            "type": order_type,
            "deviation": 10,
            "magic": 0,
        }
        if comment is not None:
            request["comment"] = comment
        if ticket is not None:
            request["position"] = ticket
        if price is not None:
            request["price"] = float(price)
            return mt5.order_send(request)
        result = None
        for _ in range(10):
            tick = mt5.symbol_info_tick(symbol)
            if tick is None:
                return None
            request["price"] = tick.ask if order_type == c.ORDER_TYPE_BUY else tick.bid
            result = mt5.order_send(request)
            if result is None or result.retcode not in retry_codes:
                break
        return result

    def Buy(
        symbol: str, volume: float, price: float | None = None, *,
        comment: str | None = None, ticket: int | None = None,
    ) -> Any:  # fmt: skip
        return _market(symbol, volume, c.ORDER_TYPE_BUY, price, comment, ticket)

    def Sell(
        symbol: str, volume: float, price: float | None = None, *,
        comment: str | None = None, ticket: int | None = None,
    ) -> Any:  # fmt: skip
        return _market(symbol, volume, c.ORDER_TYPE_SELL, price, comment, ticket)

    def Close(
        symbol: str, *, comment: str | None = None, ticket: int | None = None
    ) -> bool | str | None:
        positions = (
            mt5.positions_get(ticket=ticket)
            if ticket is not None
            else mt5.positions_get(symbol=symbol)
        )
        if positions is None:
            return None
        if not positions:
            return False
        done = 0
        for position in positions:
            opposite = (
                c.ORDER_TYPE_SELL if position.type == c.POSITION_TYPE_BUY else c.ORDER_TYPE_BUY
            )
            result = _market(
                position.symbol, position.volume, opposite, None, comment, position.ticket
            )
            if result is not None and result.retcode == c.TRADE_RETCODE_DONE:
                done += 1
        if done == len(positions):
            return True
        return "Partially" if done else False

    mt5.Buy, mt5.Sell, mt5.Close = Buy, Sell, Close


def create_sim_module(
    config: SimConfig, data_dir: str | Path, clock: Clock, **terminal_options: Any
) -> types.ModuleType:
    """Build a terminal for ``config`` persisted in ``data_dir`` and its module object."""
    return build_module(SimTerminal(config, data_dir, clock, **terminal_options))


def register_module(module: types.ModuleType) -> types.ModuleType | None:
    """Make ``import MetaTrader5`` return ``module``; returns what was registered before."""
    previous = sys.modules.get(MODULE_NAME)
    sys.modules[MODULE_NAME] = module
    return previous


def unregister_module(previous: types.ModuleType | None = None) -> None:
    """Undo :func:`register_module` (restoring ``previous`` when given)."""
    if previous is None:
        sys.modules.pop(MODULE_NAME, None)
    else:
        sys.modules[MODULE_NAME] = previous
