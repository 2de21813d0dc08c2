"""The simulated module against the reference: names, conventions, structs, constants, errors."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from actors.broker.sim import constants as c
from actors.broker.sim.market import RATES_DTYPE, TICKS_DTYPE
from actors.broker.sim.module import FUNCTION_NAMES
from actors.broker.sim.structs import STRUCT_TYPES, TRADE_REQUEST_FIELDS
from tests.unit.broker.conftest import (
    market_request,
    reference_constants,
    reference_struct_fields,
)

REFERENCE_FUNCTIONS = {
    "initialize", "login", "shutdown", "version", "last_error", "account_info", "terminal_info",
    "symbols_total", "symbols_get", "symbol_info", "symbol_info_tick", "symbol_select",
    "market_book_add", "market_book_get", "market_book_release", "copy_rates_from",
    "copy_rates_from_pos", "copy_rates_range", "copy_ticks_from", "copy_ticks_range",
    "orders_total", "orders_get", "positions_total", "positions_get", "history_orders_total",
    "history_orders_get", "history_deals_total", "history_deals_get", "order_calc_margin",
    "order_calc_profit", "order_check", "order_send",
}  # fmt: skip


def test_module_has_the_32_functions(mt5: Any) -> None:
    assert set(FUNCTION_NAMES) == REFERENCE_FUNCTIONS
    assert len(REFERENCE_FUNCTIONS) == 32
    for name in REFERENCE_FUNCTIONS:
        function = getattr(mt5, name)
        assert callable(function)
        assert function.__doc__.startswith(f"{name}(")
    assert mt5.__name__ == "MetaTrader5"
    for helper in ("Buy", "Sell", "Close"):
        assert callable(getattr(mt5, helper))


def test_every_constant_has_its_real_value(mt5: Any) -> None:
    expected = reference_constants()
    assert len(expected) == 223
    assert len(c.MT5_CONSTANTS) == 223
    for name, value in expected.items():
        assert getattr(mt5, name) == value, name
    samples = {
        "TIMEFRAME_H4": 16388, "TIMEFRAME_W1": 32769, "TIMEFRAME_MN1": 49153,
        "TRADE_ACTION_DEAL": 1, "TRADE_ACTION_PENDING": 5, "TRADE_ACTION_SLTP": 6,
        "TRADE_ACTION_CLOSE_BY": 10, "ORDER_FILLING_RETURN": 2, "ORDER_FILLING_BOC": 3,
        "TRADE_RETCODE_DONE": 10009, "TRADE_RETCODE_INVALID_FILL": 10030,
        "RES_E_INTERNAL_FAIL_CONNECT": -10004, "COPY_TICKS_ALL": -1, "DEAL_TAX": 17,
    }  # fmt: skip
    for name, value in samples.items():
        assert getattr(mt5, name) == value


def test_module_does_not_export_mql5_only_flags(mt5: Any) -> None:
    for name in ("SYMBOL_FILLING_FOK", "SYMBOL_ORDER_MARKET", "TRADE_RETCODE_HEDGE_PROHIBITED"):
        assert not hasattr(mt5, name)


def test_struct_field_orders_match_the_reference() -> None:
    expected = reference_struct_fields()
    assert set(expected) == set(STRUCT_TYPES)
    for name, fields in expected.items():
        assert list(STRUCT_TYPES[name].__match_args__) == fields, name
    assert len(expected["SymbolInfo"]) == 96
    assert list(TRADE_REQUEST_FIELDS) == expected["TradeRequest"]


def test_structs_behave_like_struct_sequences(mt5: Any) -> None:
    tick = mt5.symbol_info_tick("EURUSD")
    assert isinstance(tick, tuple) and len(tick) == 8
    assert tick[1] == tick.bid and tick._asdict()["ask"] == tick.ask
    assert list(tick._asdict()) == list(type(tick).__match_args__)
    assert not hasattr(tick, "_fields")
    assert repr(tick).startswith("Tick(time=")
    assert type(tick)(list(tick)) == tick
    with pytest.raises(AttributeError):
        tick.bid = 1.0  # type: ignore[misc]
    with pytest.raises(pickle.PicklingError):
        pickle.dumps(tick)
    result = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1))
    as_dict = result._asdict()
    assert type(as_dict["request"]).__name__ == "TradeRequest"
    assert as_dict["request"].symbol == "EURUSD"


def test_calls_fail_without_connection_and_after_shutdown(terminal: Any) -> None:
    from actors.broker.sim.module import build_module

    mt5 = build_module(terminal)
    assert mt5.account_info() is None
    assert mt5.last_error() == (-10004, "No IPC connection")
    assert mt5.positions_total() is None
    assert mt5.initialize() is True
    assert mt5.last_error() == (1, "Success")
    assert mt5.account_info().login == terminal.account.login
    mt5.shutdown()
    assert mt5.symbol_info_tick("EURUSD") is None
    assert mt5.last_error()[0] == -10004


def test_initialize_with_the_wrong_login_fails(terminal: Any) -> None:
    from actors.broker.sim.module import build_module

    mt5 = build_module(terminal)
    assert mt5.initialize(login=1, password="x", server=terminal.config.server) is False
    assert mt5.last_error() == (-6, "Terminal: Authorization failed")
    assert mt5.initialize(login="1") is False
    assert mt5.last_error() == (-2, 'Invalid "login" argument')


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sl", 0),
        ("sl", None),
        ("tp", 1),
        ("volume", None),
        ("volume", 1),
        ("price", "1.1"),
        ("deviation", 2.0),
        ("magic", "x"),
        ("magic", -1),
        ("type", 0.0),
        ("symbol", b"EURUSD"),
        ("comment", "x" * 32),
        ("position", np.int64(1)),
    ],
)
def test_module_argument_checks(mt5: Any, key: str, value: Any) -> None:
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1)
    request[key] = value
    assert mt5.order_send(request) is None
    assert mt5.last_error() == (-2, f'Invalid "{key}" argument')
    assert mt5.order_check(request) is None
    assert mt5.positions_total() == 0


def test_module_accepts_float_subclasses_and_a_31_character_comment(mt5: Any) -> None:
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, comment="c" * 31)
    request["volume"] = np.float64(0.1)
    assert mt5.order_send(request).retcode == c.TRADE_RETCODE_DONE


def test_module_call_conventions(mt5: Any) -> None:
    assert mt5.order_send([("action", 1)]) is None
    assert mt5.last_error() == (-2, "Invalid arguments")
    # Filters are keyword-only; history dates positional-only.
    assert mt5.positions_get("EURUSD") is None
    assert mt5.last_error()[0] == -2
    assert mt5.positions_get(symbol="EURUSD") == ()
    assert mt5.orders_get(group="*USD*") == ()
    now = datetime.fromtimestamp(mt5._sim.now_ms() / 1000, UTC)
    assert mt5.history_deals_get(date_from=now, date_to=now) is None
    assert mt5.last_error()[0] == -2
    assert mt5.history_deals_get(datetime(2020, 1, 1, tzinfo=UTC), now) != ()
    assert mt5.history_deals_get() is None
    assert mt5.symbol_select("EURUSD") is True
    assert mt5.symbols_get("*JPY*")
    assert all("JPY" in s.name for s in mt5.symbols_get(group="*JPY*"))
    assert mt5.symbols_total() == 40
    version = mt5.version()
    assert isinstance(version, tuple) and version[0] == 500


def test_terminal_side_errors(mt5: Any) -> None:
    assert mt5.symbol_info("NOPE") is None
    assert mt5.last_error() == (-4, "Terminal: Not found")
    assert mt5.copy_rates_from_pos("EURUSD", 32768, 0, 10) is None
    assert mt5.last_error() == (-2, "Terminal: Invalid params")
    assert mt5.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 100_000) is None
    assert mt5.last_error() == (-2, "Terminal: Invalid params")
    assert mt5.copy_ticks_from("EURUSD", datetime(2023, 11, 15, tzinfo=UTC), 10, 99) is None


def test_copy_rates_dtypes_and_order(mt5: Any) -> None:
    assert RATES_DTYPE.itemsize == 60 and TICKS_DTYPE.itemsize == 60
    rates = mt5.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M5, 0, 100)
    assert isinstance(rates, np.ndarray) and rates.dtype == RATES_DTYPE
    assert rates.dtype.names == (
        "time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume",
    )  # fmt: skip
    assert len(rates) == 100
    assert np.all(np.diff(rates["time"]) > 0)
    assert np.all(rates["high"] >= np.maximum(rates["open"], rates["close"]))
    assert np.all(rates["low"] <= np.minimum(rates["open"], rates["close"]))
    start = datetime.fromtimestamp(int(rates["time"][10]), UTC)
    end = datetime.fromtimestamp(int(rates["time"][20]), UTC)
    ranged = mt5.copy_rates_range("EURUSD", mt5.TIMEFRAME_M5, start, end)
    assert np.array_equal(ranged, rates[10:21])
    before = mt5.copy_rates_from("EURUSD", mt5.TIMEFRAME_M5, end, 5)
    assert np.array_equal(before, rates[16:21])
    ticks = mt5.copy_ticks_range("EURUSD", start, end, mt5.COPY_TICKS_ALL)
    assert ticks.dtype == TICKS_DTYPE and len(ticks) > 0
    assert np.all(np.diff(ticks["time_msc"]) >= 0)
    assert np.all(ticks["ask"] > ticks["bid"])
    first = mt5.copy_ticks_from("EURUSD", start, 7, mt5.COPY_TICKS_INFO)
    assert np.array_equal(first, ticks[:7])
    assert len(mt5.copy_ticks_range("EURUSD", start, end, mt5.COPY_TICKS_TRADE)) == 0
