"""A real broker's habits in the simulator: stops and freeze levels, slippage and requotes,
and comments rewritten on the books."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actors.app.settings import ConfigError, load_settings
from actors.broker.sim import constants as c
from actors.broker.sim.module import build_module
from actors.broker.sim.universe import DEFAULT_UNIVERSE
from actors.runtime.clock import ManualClock
from tests.unit.broker.conftest import WEDNESDAY_UTC, TerminalFactory, market_request


def module_for(make_terminal: TerminalFactory, **config: Any) -> Any:
    mt5 = build_module(make_terminal(universe=dict(DEFAULT_UNIVERSE), **config))
    assert mt5.initialize()
    return mt5


def sltp(position: int, sl: float, tp: float = 0.0) -> dict[str, Any]:
    return {"action": c.TRADE_ACTION_SLTP, "position": position, "sl": sl, "tp": tp}


# ---- stops and freeze levels ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "stops", "freeze"),
    [("EURUSD", 10, 5), ("USDJPY", 10, 5), ("EURGBP", 20, 10), ("XAUUSD", 50, 20),
     ("US500", 100, 30), ("BTCUSD", 1000, 300), ("USOIL", 20, 5)],
)  # fmt: skip
def test_symbols_show_the_stops_and_freeze_levels_of_their_asset_class(
    make_terminal: TerminalFactory, tmp_path: Path, symbol: str, stops: int, freeze: int
) -> None:
    info = module_for(make_terminal).symbol_info(symbol)
    assert (info.trade_stops_level, info.trade_freeze_level) == (stops, freeze)
    ecn = module_for(make_terminal, data_dir=tmp_path / "ecn", stops_level_scale=0.0)
    scaled = ecn.symbol_info(symbol)
    assert (scaled.trade_stops_level, scaled.trade_freeze_level) == (0, 0)


def test_stops_closer_than_the_stops_level_are_refused_on_send_and_on_modify(
    make_terminal: TerminalFactory,
) -> None:
    mt5 = module_for(make_terminal)
    point = mt5.symbol_info("EURUSD").point
    bid = mt5.symbol_info_tick("EURUSD").bid
    for sl, tp in ((bid - 9 * point, 0.0), (0.0, bid + 9 * point)):
        request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, sl=round(sl, 5),
                                 tp=round(tp, 5))  # fmt: skip
        result = mt5.order_send(request)
        assert result.retcode == c.TRADE_RETCODE_INVALID_STOPS
        assert result.comment == "Invalid stops" and result.request_id == 0
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1,
                             sl=round(bid - 10 * point, 5), tp=round(bid + 10 * point, 5))
    opened = mt5.order_send(request)
    assert opened.retcode == c.TRADE_RETCODE_DONE
    # Modify: the SL moved 3 points from the bid is inside the stops level.
    bid = mt5.symbol_info_tick("EURUSD").bid
    assert mt5.order_send(sltp(opened.order, round(bid - 3 * point, 5))).retcode == 10016
    assert mt5.order_send(sltp(opened.order, round(bid - 40 * point, 5))).retcode == 10009
    # Pending orders: the price and its stops both keep the stops level.
    ask = mt5.symbol_info_tick("EURUSD").ask
    pending = {"action": c.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.1,
               "type": c.ORDER_TYPE_BUY_LIMIT, "price": round(ask - 5 * point, 5),
               "type_filling": c.ORDER_FILLING_RETURN}  # fmt: skip
    assert mt5.order_send(pending).retcode == c.TRADE_RETCODE_INVALID_PRICE
    pending.update(price=round(ask - 50 * point, 5), sl=round(ask - 55 * point, 5))
    assert mt5.order_send(pending).retcode == c.TRADE_RETCODE_INVALID_STOPS


def test_an_ecn_account_without_stops_level_takes_a_tp_one_point_away(
    make_terminal: TerminalFactory,
) -> None:
    mt5 = module_for(make_terminal, stops_level_scale=0.0)
    tick = mt5.symbol_info_tick("EURUSD")
    point = mt5.symbol_info("EURUSD").point
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, tp=round(tick.bid + point, 5))
    assert mt5.order_send(request).retcode == c.TRADE_RETCODE_DONE
    # The right side of the price is still required.
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, tp=tick.bid)
    assert mt5.order_send(request).retcode == c.TRADE_RETCODE_INVALID_STOPS


def test_freeze_level_refuses_modify_and_close_near_the_market(mt5: Any) -> None:
    # GBPAUD here has a 200-point freeze level over a 20-point stops level.
    point = mt5.symbol_info("GBPAUD").point
    bid = mt5.symbol_info_tick("GBPAUD").bid
    sl = round(bid - 150 * point, 5)  # outside the stops level, inside the freeze level
    opened = mt5.order_send(market_request(mt5, "GBPAUD", c.ORDER_TYPE_BUY, 0.1, sl=sl))
    assert opened.retcode == c.TRADE_RETCODE_DONE
    frozen = mt5.order_send(sltp(opened.order, round(sl - 100 * point, 5)))
    assert frozen.retcode == c.TRADE_RETCODE_FROZEN and frozen.request_id > 0
    close = market_request(mt5, "GBPAUD", c.ORDER_TYPE_SELL, 0.1, position=opened.order)
    assert mt5.order_send(close).retcode == c.TRADE_RETCODE_FROZEN
    assert mt5.positions_total() == 1
    # A position whose stops are outside the freeze level closes.
    far = mt5.order_send(market_request(mt5, "GBPAUD", c.ORDER_TYPE_BUY, 0.1,
                                        sl=round(bid - 400 * point, 5)))  # fmt: skip
    close = market_request(mt5, "GBPAUD", c.ORDER_TYPE_SELL, 0.1, position=far.order)
    assert mt5.order_send(close).retcode == c.TRADE_RETCODE_DONE


# ---- slippage, requotes, prices changed -----------------------------------------------------


def _fills(mt5: Any, clock: ManualClock, count: int) -> list[tuple[int, float, float, int]]:
    """(server ms of the request, ask seen, fill price, retcode) of ``count`` buys, 7 s apart."""
    fills = []
    for _ in range(count):
        clock.advance(7.0)
        request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.01, deviation=0)
        sent_ms = mt5._sim.now_ms()
        result = mt5.order_send(request)
        fills.append((sent_ms, request["price"], result.price, result.retcode))
    return fills


def test_market_fills_slip_with_the_execution_delay_and_the_same_seed_slips_alike(
    make_terminal: TerminalFactory, clock: ManualClock, tmp_path: Path
) -> None:
    mt5 = module_for(make_terminal, execution_delay_ms=2000.0)
    fills = _fills(mt5, clock, 20)
    assert all(retcode == c.TRADE_RETCODE_DONE for *_, retcode in fills)
    slipped = [fill for _, seen, fill, _ in fills if fill != seen]
    assert slipped and len(slipped) < len(fills)  # market execution ignores deviation=0
    clock.advance(10.0)
    for sent_ms, seen, fill, _ in fills:
        # Each fill is the ask of the last tick the market printed within 3 s of the request.
        ticks = mt5.copy_ticks_range("EURUSD", (sent_ms - 60_000) / 1000, (sent_ms + 3000) / 1000,
                                     c.COPY_TICKS_ALL)  # fmt: skip
        assert fill in set(ticks["ask"][ticks["time_msc"] >= sent_ms]) | {seen}
    clock.set(WEDNESDAY_UTC)
    again = module_for(make_terminal, data_dir=tmp_path / "again", execution_delay_ms=2000.0)
    assert _fills(again, clock, 20) == fills
    clock.set(WEDNESDAY_UTC)
    prompt = module_for(make_terminal, data_dir=tmp_path / "prompt")
    assert all(seen == fill for _, seen, fill, _ in _fills(prompt, clock, 20))


@pytest.mark.parametrize(
    ("mode", "retcode"),
    [("instant", c.TRADE_RETCODE_REQUOTE), ("request", c.TRADE_RETCODE_PRICE_CHANGED)],
)
def test_beyond_the_deviation_instant_execution_requotes_and_request_execution_says_changed(
    make_terminal: TerminalFactory, clock: ManualClock, mode: str, retcode: int
) -> None:
    mt5 = module_for(make_terminal, execution_mode=mode, execution_delay_ms=2000.0)
    assert mt5.symbol_info("EURUSD").trade_exemode == {"instant": 1, "request": 0}[mode]
    fills = _fills(mt5, clock, 20)
    refused = [f for f in fills if f[3] == retcode]
    done = [f for f in fills if f[3] == c.TRADE_RETCODE_DONE]
    assert refused and done and len(refused) + len(done) == len(fills)
    assert all(seen == fill for _, seen, fill, _ in done)  # deviation 0: only exact fills
    clock.advance(7.0)
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.01, deviation=0)
    request["price"] = round(request["price"] - 0.002, 5)
    result = mt5.order_send(request)
    assert result.retcode == retcode and result.request_id > 0
    assert result.ask > 0 and result.bid > 0 and result.comment == c.RETCODE_COMMENTS[retcode]


# ---- comments the broker rewrites -----------------------------------------------------------


def test_a_truncating_broker_cuts_the_comment_on_orders_deals_and_positions(
    make_terminal: TerminalFactory,
) -> None:
    mt5 = module_for(make_terminal, comment_rewrite="truncate", comment_rewrite_length=8)
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, comment="E1234567890")
    result = mt5.order_send(request)
    assert result.retcode == c.TRADE_RETCODE_DONE and result.request.comment == "E1234567890"
    (position,) = mt5.positions_get(ticket=result.order)
    (order,) = mt5.history_orders_get(ticket=result.order)
    (deal,) = mt5.history_deals_get(ticket=result.order)
    assert position.comment == order.comment == deal.comment == "E1234567"


def test_a_replacing_broker_puts_its_own_comment_everywhere(
    make_terminal: TerminalFactory,
) -> None:
    mt5 = module_for(make_terminal, comment_rewrite="replace")
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, comment="E42"))
    (position,) = mt5.positions_get(ticket=opened.order)
    assert position.comment == f"#{opened.order}"
    close = market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.1, position=opened.order,
                           comment="E42-close")  # fmt: skip
    closed = mt5.order_send(close)
    assert closed.retcode == c.TRADE_RETCODE_DONE
    deals = mt5.history_deals_get(position=opened.order)
    assert [d.comment for d in deals] == [f"#{opened.order}", f"#{closed.order}"]
    assert all("E42" not in o.comment for o in mt5.history_orders_get(position=opened.order))
    ask = mt5.symbol_info_tick("EURUSD").ask
    point = mt5.symbol_info("EURUSD").point
    placed = mt5.order_send({
        "action": c.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.1,
        "type": c.ORDER_TYPE_BUY_LIMIT, "price": round(ask - 100 * point, 5), "comment": "E43",
        "type_filling": c.ORDER_FILLING_RETURN,
    })  # fmt: skip
    assert placed.retcode == c.TRADE_RETCODE_PLACED
    assert mt5.orders_get(ticket=placed.order)[0].comment == f"#{placed.order}"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("sim.comment_rewrite=upper", "sim.comment_rewrite must be one of 'off'"),
        ("sim.comment_rewrite_length=0", "sim.comment_rewrite_length must be within 1..255"),
        ("sim.stops_level_scale=-1", "sim.stops_level_scale must be within 0..100"),
        ("sim.execution_mode=fast", "sim.execution_mode must be one of 'market'"),
        ("sim.execution_delay_ms=20000", "sim.execution_delay_ms must be within 0..10000"),
    ],
)
def test_bad_realism_settings_are_refused_with_their_key_and_range(
    assignment: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(assignments=[assignment], environ={})
    assert message in str(error.value)
