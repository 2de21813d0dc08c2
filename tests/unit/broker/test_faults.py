"""Fault switches of the simulated terminal, set in the config and changed at run time."""

from __future__ import annotations

from typing import Any

import pytest

from actors.broker.sim import constants as c
from actors.broker.sim.faults import FaultConfig
from actors.broker.sim.module import build_module
from tests.unit.broker.conftest import TerminalFactory, market_request


def test_fault_config_validates_rates() -> None:
    with pytest.raises(ValueError, match="requote_rate"):
        FaultConfig(requote_rate=1.5)
    with pytest.raises(ValueError, match="call_delay_s"):
        FaultConfig(call_delay_s=-1)


def test_faults_from_config(make_terminal: TerminalFactory) -> None:
    mt5 = build_module(make_terminal(faults=FaultConfig(algo_trading_off=True)))
    assert mt5.initialize()
    assert mt5.terminal_info().trade_allowed is False
    result = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1))
    assert result.retcode == c.TRADE_RETCODE_CLIENT_DISABLES_AT
    assert result.comment == "AutoTrading disabled by client" and result.request_id == 0


def test_disconnect_and_ipc_timeout(mt5: Any) -> None:
    mt5._sim.set_faults(disconnect=True)
    assert mt5.account_info() is None
    assert mt5.last_error() == (-10004, "No IPC connection")
    assert mt5.symbol_select("EURUSD") is False
    assert mt5.initialize() is False
    mt5._sim.set_faults(disconnect=False, ipc_timeout=True)
    assert mt5.copy_rates_from_pos("EURUSD", 1, 0, 10) is None
    assert mt5.last_error() == (-10005, "IPC timeout")
    mt5._sim.set_faults(FaultConfig())
    assert mt5.account_info() is not None and mt5.last_error() == (1, "Success")


@pytest.mark.parametrize(
    ("switch", "retcode"),
    [
        ({"requote_rate": 1.0}, c.TRADE_RETCODE_REQUOTE),
        ({"price_off_rate": 1.0}, c.TRADE_RETCODE_PRICE_OFF),
        ({"no_money": True}, c.TRADE_RETCODE_NO_MONEY),
        ({"algo_trading_off": True}, c.TRADE_RETCODE_CLIENT_DISABLES_AT),
        ({"trade_server_down": True}, c.TRADE_RETCODE_CONNECTION),
    ],
)
def test_trade_faults(mt5: Any, switch: dict, retcode: int) -> None:
    mt5._sim.set_faults(**switch)
    result = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1))
    assert result.retcode == retcode
    assert mt5.positions_total() == 0
    if retcode == c.TRADE_RETCODE_REQUOTE:
        assert result.bid > 0 and result.ask > result.bid
    mt5._sim.set_faults(FaultConfig())
    assert mt5.order_send(market_request(mt5, "EURUSD", 0, 0.1)).retcode == 10009


def test_the_next_closes_and_stop_changes_of_a_position_are_refused_as_frozen(
        mt5: Any) -> None:
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1))
    assert opened.retcode == c.TRADE_RETCODE_DONE
    (position,) = mt5.positions_get()
    mt5._sim.set_faults(frozen_position_requests=2)
    close = market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.1, position=position.ticket)
    assert mt5.order_send(close).retcode == c.TRADE_RETCODE_FROZEN
    # Opening is not refused, nor counted: the switch freezes the positions there are.
    assert mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1)).retcode == 10009
    stops = {"action": c.TRADE_ACTION_SLTP, "position": position.ticket, "symbol": "EURUSD",
             "sl": round(position.price_open - 0.01, 5), "tp": 0.0}
    assert mt5.order_send(stops).retcode == c.TRADE_RETCODE_FROZEN
    assert mt5.positions_total() == 2 and mt5._sim.fault_config.frozen_position_requests == 0
    assert mt5.order_send(close).retcode == c.TRADE_RETCODE_DONE
    assert mt5.positions_total() == 1


def test_requote_rate_is_seeded(make_terminal: TerminalFactory, tmp_path: Any) -> None:
    outcomes = []
    for run in range(2):
        terminal = make_terminal(
            data_dir=tmp_path / f"run{run}", faults=FaultConfig(requote_rate=0.5)
        )
        mt5 = build_module(terminal)
        mt5.initialize()
        request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.01)
        outcomes.append([mt5.order_send(request).retcode for _ in range(30)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {c.TRADE_RETCODE_DONE, c.TRADE_RETCODE_REQUOTE}


def test_timeout_after_execution_hides_a_done_trade(mt5: Any) -> None:
    mt5._sim.set_faults(timeout_after_execution=True)
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, comment="coid-1")
    assert mt5.order_send(request) is None
    assert mt5.last_error() == (-10005, "IPC timeout")
    (position,) = mt5.positions_get()
    assert position.comment == "coid-1"
