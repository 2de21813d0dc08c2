"""Trading semantics of the simulated terminal: retcodes, triggers, arithmetic, swaps, restart."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from actors.broker.sim import constants as c
from actors.broker.sim.module import build_module
from actors.runtime.clock import ManualClock
from tests.unit.broker.conftest import (
    DAY_S,
    SATURDAY_UTC,
    SERVER_OFFSET_S,
    TerminalFactory,
    market_request,
)


def pending_request(mt5: Any, symbol: str, order_type: int, price: float, **extra: Any) -> dict:
    request = {
        "action": c.TRADE_ACTION_PENDING,
        "symbol": symbol,
        "volume": 0.1,
        "type": order_type,
        "price": price,
        "magic": 4242,
        "comment": "pending",
        "type_time": c.ORDER_TIME_GTC,
        "type_filling": c.ORDER_FILLING_RETURN,
    }
    request.update(extra)
    return request


def point_of(mt5: Any, symbol: str) -> float:
    return mt5.symbol_info(symbol).point


# ---- retcodes -------------------------------------------------------------------------------


def test_market_order_done_opens_a_position(mt5: Any) -> None:
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1)
    result = mt5.order_send(request)
    assert result.retcode == c.TRADE_RETCODE_DONE
    assert result.comment == "Request executed" and result.request_id > 0
    assert result.volume == 0.1 and result.price == result.ask
    (position,) = mt5.positions_get(ticket=result.order)
    assert position.ticket == position.identifier == result.order
    assert position.reason == c.POSITION_REASON_EXPERT and position.magic == 4242
    assert position.price_current == mt5.symbol_info_tick("EURUSD").bid
    (order,) = mt5.history_orders_get(ticket=result.order)
    assert order.state == c.ORDER_STATE_FILLED and order.position_id == result.order
    (deal,) = mt5.history_deals_get(ticket=result.order)
    assert deal.ticket == result.deal and deal.entry == c.DEAL_ENTRY_IN
    assert deal.type == c.DEAL_TYPE_BUY and deal.position_id == result.order
    assert mt5.positions_total() == 1 and mt5.orders_total() == 0


@pytest.mark.parametrize(
    ("symbol", "changes", "retcode"),
    [
        ("EURUSD", {"volume": 0.015}, c.TRADE_RETCODE_INVALID_VOLUME),
        ("EURUSD", {"volume": 0.001}, c.TRADE_RETCODE_INVALID_VOLUME),
        ("EURUSD", {"volume": 101.0}, c.TRADE_RETCODE_INVALID_VOLUME),
        ("EURUSD", {"volume": 50.0}, c.TRADE_RETCODE_NO_MONEY),
        ("EURUSD", {"type_filling": c.ORDER_FILLING_RETURN}, c.TRADE_RETCODE_INVALID_FILL),
        ("EURUSD", {"type_filling": c.ORDER_FILLING_BOC}, c.TRADE_RETCODE_INVALID_FILL),
        ("EURUSD", {"position": 123}, c.TRADE_RETCODE_INVALID),
        ("EURUSD", {"type": c.ORDER_TYPE_BUY_LIMIT}, c.TRADE_RETCODE_INVALID),
        ("EURUSD", {"action": 2}, c.TRADE_RETCODE_INVALID),
        ("NOPE", {}, c.TRADE_RETCODE_INVALID),
        ("EURCHF", {}, c.TRADE_RETCODE_TRADE_DISABLED),
        ("EURCAD", {}, c.TRADE_RETCODE_CLOSE_ONLY),
        ("EURNZD", {}, c.TRADE_RETCODE_SHORT_ONLY),
        ("GBPCAD", {"volume": 0.6}, c.TRADE_RETCODE_LIMIT_VOLUME),
        ("GBPCHF", {"price": 0.0}, c.TRADE_RETCODE_INVALID_PRICE),
    ],
)
def test_market_order_rejections(mt5: Any, symbol: str, changes: dict, retcode: int) -> None:
    base_symbol = symbol if symbol != "NOPE" else "EURUSD"
    request = market_request(mt5, base_symbol, c.ORDER_TYPE_BUY, 0.1)
    request.update(changes, symbol=symbol)
    result = mt5.order_send(request)
    assert result.retcode == retcode
    assert result.deal == 0 and result.order == 0
    assert result.comment == c.RETCODE_COMMENTS[retcode]
    assert mt5.positions_total() == 0
    check = mt5.order_check(request)
    assert check.retcode == retcode


def test_long_only_rejects_sells_and_instant_execution_requotes(mt5: Any) -> None:
    assert (
        mt5.order_send(market_request(mt5, "EURAUD", c.ORDER_TYPE_SELL, 0.1)).retcode
        == c.TRADE_RETCODE_LONG_ONLY
    )
    assert (
        mt5.order_send(market_request(mt5, "EURAUD", c.ORDER_TYPE_BUY, 0.1)).retcode
        == c.TRADE_RETCODE_DONE
    )
    request = market_request(mt5, "GBPCHF", c.ORDER_TYPE_BUY, 0.1, deviation=5)
    request["price"] = round(request["price"] - 0.001, 5)
    result = mt5.order_send(request)
    assert result.retcode == c.TRADE_RETCODE_REQUOTE
    tick = mt5.symbol_info_tick("GBPCHF")
    assert (result.bid, result.ask) == (tick.bid, tick.ask) and result.request_id > 0
    request = market_request(mt5, "GBPCHF", c.ORDER_TYPE_BUY, 0.1, deviation=5)
    assert mt5.order_send(request).retcode == c.TRADE_RETCODE_DONE


def test_stops_are_checked_on_the_right_side(mt5: Any) -> None:
    tick = mt5.symbol_info_tick("EURUSD")
    # A buy's stops are measured from the bid: an SL at the bid or above it is invalid.
    for sl, tp in ((tick.bid, 0.0), (round(tick.bid + 0.001, 5), 0.0), (0.0, tick.bid)):
        request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, sl=sl, tp=tp)
        assert mt5.order_send(request).retcode == c.TRADE_RETCODE_INVALID_STOPS
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.1, sl=round(tick.bid + 0.0001, 5))
    if request["sl"] <= tick.ask:
        assert mt5.order_send(request).retcode == c.TRADE_RETCODE_INVALID_STOPS
    # GBPAUD has a 20-point stops level: 10 points away is too close, 30 is fine.
    gbp = mt5.symbol_info_tick("GBPAUD")
    point = point_of(mt5, "GBPAUD")
    close = market_request(mt5, "GBPAUD", c.ORDER_TYPE_BUY, 0.1, sl=round(gbp.bid - 10 * point, 5))
    assert mt5.order_send(close).retcode == c.TRADE_RETCODE_INVALID_STOPS
    far = market_request(mt5, "GBPAUD", c.ORDER_TYPE_BUY, 0.1, sl=round(gbp.bid - 300 * point, 5))
    assert mt5.order_send(far).retcode == c.TRADE_RETCODE_DONE


def test_close_modify_and_their_rejections(mt5: Any) -> None:
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.2))
    ticket = opened.order
    same_direction = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, position=ticket)
    assert mt5.order_send(same_direction).retcode == c.TRADE_RETCODE_INVALID
    too_much = market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.3, position=ticket)
    assert mt5.order_send(too_much).retcode == c.TRADE_RETCODE_INVALID_CLOSE_VOLUME
    tick = mt5.symbol_info_tick("EURUSD")
    sltp = {
        "action": c.TRADE_ACTION_SLTP,
        "symbol": "EURUSD",
        "position": ticket,
        "sl": round(tick.bid - 0.005, 5),
        "tp": round(tick.bid + 0.005, 5),
    }
    result = mt5.order_send(sltp)
    assert result.retcode == c.TRADE_RETCODE_DONE and result.order == 0 and result.deal == 0
    assert mt5.order_send(sltp).retcode == c.TRADE_RETCODE_NO_CHANGES
    (position,) = mt5.positions_get(ticket=ticket)
    assert (position.sl, position.tp) == (sltp["sl"], sltp["tp"])
    partial = mt5.order_send(
        market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.05, position=ticket)
    )
    assert partial.retcode == c.TRADE_RETCODE_DONE
    (position,) = mt5.positions_get(ticket=ticket)
    assert position.volume == pytest.approx(0.15)
    rest = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.15, position=ticket))
    assert rest.retcode == c.TRADE_RETCODE_DONE and mt5.positions_total() == 0
    deals = mt5.history_deals_get(position=ticket)
    assert [d.entry for d in deals] == [c.DEAL_ENTRY_IN, c.DEAL_ENTRY_OUT, c.DEAL_ENTRY_OUT]
    assert sum(d.volume for d in deals[1:]) == pytest.approx(0.2)
    gone = market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.1, position=ticket)
    assert mt5.order_send(gone).retcode == c.TRADE_RETCODE_INVALID


def test_pending_order_rules(mt5: Any) -> None:
    tick = mt5.symbol_info_tick("EURUSD")
    above = round(tick.ask + 0.002, 5)
    below = round(tick.bid - 0.002, 5)
    wrong_side = pending_request(mt5, "EURUSD", c.ORDER_TYPE_BUY_LIMIT, above)
    assert mt5.order_send(wrong_side).retcode == c.TRADE_RETCODE_INVALID_PRICE
    off_grid = pending_request(mt5, "EURUSD", c.ORDER_TYPE_BUY_LIMIT, below + 0.000001)
    assert mt5.order_send(off_grid).retcode == c.TRADE_RETCODE_INVALID_PRICE
    bad_stop = pending_request(mt5, "EURUSD", c.ORDER_TYPE_BUY_LIMIT, below, sl=above)
    assert mt5.order_send(bad_stop).retcode == c.TRADE_RETCODE_INVALID_STOPS
    past = pending_request(
        mt5, "EURUSD", c.ORDER_TYPE_BUY_LIMIT, below, type_time=c.ORDER_TIME_SPECIFIED,
        expiration=int(tick.time) - 60,
    )  # fmt: skip
    assert mt5.order_send(past).retcode == c.TRADE_RETCODE_INVALID_EXPIRATION
    no_stops = pending_request(mt5, "GBPNZD", c.ORDER_TYPE_SELL_STOP, 0.5)
    assert mt5.order_send(no_stops).retcode == c.TRADE_RETCODE_INVALID_ORDER
    placed = mt5.order_send(pending_request(mt5, "EURUSD", c.ORDER_TYPE_BUY_LIMIT, below))
    assert placed.retcode == c.TRADE_RETCODE_PLACED and placed.order > 0
    (order,) = mt5.orders_get(ticket=placed.order)
    assert order.state == c.ORDER_STATE_PLACED and order.volume_current == 0.1
    modify = {
        "action": c.TRADE_ACTION_MODIFY,
        "order": placed.order,
        "price": round(below - 0.001, 5),
        "sl": 0.0,
        "tp": 0.0,
        "type_time": c.ORDER_TIME_GTC,
    }
    assert mt5.order_send(modify).retcode == c.TRADE_RETCODE_DONE
    assert mt5.order_send(modify).retcode == c.TRADE_RETCODE_NO_CHANGES
    remove = {"action": c.TRADE_ACTION_REMOVE, "order": placed.order}
    assert mt5.order_send(remove).retcode == c.TRADE_RETCODE_DONE
    assert mt5.order_send(remove).retcode == c.TRADE_RETCODE_INVALID
    (history,) = mt5.history_orders_get(ticket=placed.order)
    assert history.state == c.ORDER_STATE_CANCELED


def test_order_limits(make_terminal: TerminalFactory) -> None:
    mt5 = build_module(make_terminal(limit_orders=1, limit_positions=1))
    mt5.initialize()
    tick = mt5.symbol_info_tick("EURUSD")
    below = round(tick.bid - 0.002, 5)
    assert mt5.order_send(pending_request(mt5, "EURUSD", 2, below)).retcode == 10008
    second = pending_request(mt5, "EURUSD", 2, round(below - 0.001, 5))
    assert mt5.order_send(second).retcode == c.TRADE_RETCODE_LIMIT_ORDERS
    assert mt5.order_send(market_request(mt5, "EURUSD", 0, 0.1)).retcode == 10009
    assert (
        mt5.order_send(market_request(mt5, "EURUSD", 0, 0.1)).retcode
        == c.TRADE_RETCODE_LIMIT_POSITIONS
    )


def test_freeze_level_blocks_modification_near_the_market(mt5: Any) -> None:
    tick = mt5.symbol_info_tick("GBPAUD")
    point = point_of(mt5, "GBPAUD")
    sl = round(tick.bid - 150 * point, 5)  # inside the 200-point freeze level
    opened = mt5.order_send(market_request(mt5, "GBPAUD", c.ORDER_TYPE_BUY, 0.1, sl=sl))
    assert opened.retcode == c.TRADE_RETCODE_DONE
    sltp = {"action": c.TRADE_ACTION_SLTP, "position": opened.order, "sl": 0.0, "tp": 0.0}
    assert mt5.order_send(sltp).retcode == c.TRADE_RETCODE_FROZEN


def test_market_closed_on_saturday(mt5: Any, clock: ManualClock) -> None:
    clock.set(SATURDAY_UTC)
    result = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1))
    assert result.retcode == c.TRADE_RETCODE_MARKET_CLOSED
    assert mt5.order_send(market_request(mt5, "BTCUSD", c.ORDER_TYPE_BUY, 0.1)).retcode == 10009
    # The last quote stays Friday's: its server time is before Saturday.
    tick = mt5.symbol_info_tick("EURUSD")
    assert tick.time < SATURDAY_UTC + SERVER_OFFSET_S - 12 * 3600


def test_close_by(mt5: Any) -> None:
    buy = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.3))
    sell = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.1))
    balance = mt5.account_info().balance
    result = mt5.order_send(
        {"action": c.TRADE_ACTION_CLOSE_BY, "position": buy.order, "position_by": sell.order}
    )
    assert result.retcode == c.TRADE_RETCODE_DONE
    (left,) = mt5.positions_get()
    assert left.ticket == buy.order and left.volume == pytest.approx(0.2)
    deals = [d for d in mt5.history_deals_get(ticket=result.order)]
    assert {d.entry for d in deals} == {c.DEAL_ENTRY_OUT_BY}
    expected = round((sell.price - buy.price) * 100_000 * 0.1, 2)
    assert mt5.account_info().balance == pytest.approx(balance + expected, abs=0.011)


# ---- triggers -------------------------------------------------------------------------------


def _advance_until(mt5: Any, clock: ManualClock, done: Any, step: float, limit: int) -> None:
    for _ in range(limit):
        if done():
            return
        clock.advance(step)
    assert done(), "the condition never happened"


@pytest.mark.parametrize("order_type", [c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL])
def test_sl_and_tp_trigger_on_the_right_side_of_the_quote(
    mt5: Any, clock: ManualClock, order_type: int
) -> None:
    tick = mt5.symbol_info_tick("EURUSD")
    is_buy = order_type == c.ORDER_TYPE_BUY
    reference = tick.bid if is_buy else tick.ask
    sign = 1 if is_buy else -1
    sl = round(reference - sign * 0.0008, 5)
    tp = round(reference + sign * 0.0008, 5)
    opened = mt5.order_send(market_request(mt5, "EURUSD", order_type, 0.1, sl=sl, tp=tp))
    assert opened.retcode == c.TRADE_RETCODE_DONE
    _advance_until(mt5, clock, lambda: mt5.positions_total() == 0, 600, 500)
    entry, exit_deal = mt5.history_deals_get(position=opened.order)
    assert exit_deal.entry == c.DEAL_ENTRY_OUT
    assert exit_deal.reason in (c.DEAL_REASON_SL, c.DEAL_REASON_TP)
    level = sl if exit_deal.reason == c.DEAL_REASON_SL else tp
    assert exit_deal.comment.startswith("[sl " if exit_deal.reason == c.DEAL_REASON_SL else "[tp ")
    # The exit is the first tick on which the closing side of the quote touched the level.
    side = "bid" if is_buy else "ask"
    start = datetime.fromtimestamp(entry.time_msc / 1000, UTC)
    end = datetime.fromtimestamp(exit_deal.time_msc / 1000 + 1, UTC)
    ticks = mt5.copy_ticks_range("EURUSD", start, end, c.COPY_TICKS_ALL)
    ticks = ticks[(ticks["time_msc"] > entry.time_msc) & (ticks["time_msc"] <= exit_deal.time_msc)]
    closing = ticks[side]
    hits_sl = closing <= sl if is_buy else closing >= sl
    hits_tp = closing >= tp if is_buy else closing <= tp
    first = int(np.flatnonzero(hits_sl | hits_tp)[0])
    assert first == len(ticks) - 1
    assert exit_deal.price == closing[first]
    assert (closing[first] <= level) if (is_buy == (level == sl)) else (closing[first] >= level)
    (order,) = [
        o for o in mt5.history_orders_get(position=opened.order) if o.ticket != opened.order
    ]
    assert order.reason in (c.ORDER_REASON_SL, c.ORDER_REASON_TP)
    expected = round(sign * (exit_deal.price - entry.price) * 100_000 * 0.1, 2)
    assert exit_deal.profit == pytest.approx(expected, abs=0.011)


def test_pending_orders_trigger_and_fill(mt5: Any, clock: ManualClock) -> None:
    tick = mt5.symbol_info_tick("EURUSD")
    limit_price = round(tick.ask - 0.0005, 5)
    stop_price = round(tick.ask + 0.0005, 5)
    limit = mt5.order_send(pending_request(mt5, "EURUSD", c.ORDER_TYPE_BUY_LIMIT, limit_price))
    stop = mt5.order_send(pending_request(mt5, "EURUSD", c.ORDER_TYPE_BUY_STOP, stop_price))
    _advance_until(mt5, clock, lambda: mt5.orders_total() == 0, 300, 1000)
    for placed, price, is_limit in ((limit, limit_price, True), (stop, stop_price, False)):
        (order,) = mt5.history_orders_get(ticket=placed.order)
        assert order.state == c.ORDER_STATE_FILLED and order.position_id == placed.order
        (deal,) = mt5.history_deals_get(ticket=placed.order)
        assert deal.entry == c.DEAL_ENTRY_IN and deal.type == c.DEAL_TYPE_BUY
        assert (deal.price <= price) if is_limit else (deal.price >= price)
        window = mt5.copy_ticks_range(
            "EURUSD",
            datetime.fromtimestamp(deal.time_msc / 1000 - 1, UTC),
            datetime.fromtimestamp(deal.time_msc / 1000 + 1, UTC),
            c.COPY_TICKS_ALL,
        )
        assert deal.price in set(window["ask"][window["time_msc"] == deal.time_msc])
    tickets = {p.ticket for p in mt5.positions_get()}
    assert {limit.order, stop.order} <= tickets | {
        d.position_id for d in mt5.history_deals_get(position=limit.order)
    }


def test_pending_order_expires(mt5: Any, clock: ManualClock) -> None:
    tick = mt5.symbol_info_tick("EURUSD")
    request = pending_request(
        mt5, "EURUSD", c.ORDER_TYPE_BUY_LIMIT, round(tick.bid - 0.05, 5),
        type_time=c.ORDER_TIME_SPECIFIED, expiration=int(tick.time) + 3600,
    )  # fmt: skip
    placed = mt5.order_send(request)
    assert placed.retcode == c.TRADE_RETCODE_PLACED
    clock.advance(7200)
    assert mt5.orders_total() == 0
    (order,) = mt5.history_orders_get(ticket=placed.order)
    assert order.state == c.ORDER_STATE_EXPIRED


# ---- arithmetic -----------------------------------------------------------------------------


def test_margin_and_profit_match_the_documented_examples(mt5: Any) -> None:
    # Reference §2.8: USD account at 1:100, EURUSD buy 0.1 lot → 109.91 USD, USDJPY → 100.0.
    assert mt5.order_calc_margin(c.ORDER_TYPE_BUY, "EURUSD", 0.1, 1.0991) == 109.91
    assert mt5.order_calc_margin(c.ORDER_TYPE_BUY, "USDJPY", 0.1, 108.0) == 100.0
    # 1 lot, 300 points → 300 USD on EURUSD; USDJPY converts at the closing price.
    assert mt5.order_calc_profit(c.ORDER_TYPE_BUY, "EURUSD", 1.0, 1.1, 1.103) == 300.0
    assert mt5.order_calc_profit(c.ORDER_TYPE_BUY, "USDJPY", 1.0, 108.18, 108.48) == 276.55
    assert mt5.order_calc_profit(c.ORDER_TYPE_SELL, "USDJPY", 1.0, 108.18, 107.88) == 278.09
    # Gold at 1:100 (Forex mode, 100 oz): 1 lot at 2000 → 100 oz / 100 × 2000.
    assert mt5.order_calc_margin(c.ORDER_TYPE_SELL, "XAUUSD", 1.0, 2000.0) == 2000.0
    # US500 CFD with leverage and a 5× margin rate: 1 lot × 1 × 5000 / 100 × 5.
    assert mt5.order_calc_margin(c.ORDER_TYPE_BUY, "US500", 1.0, 5000.0) == 250.0
    # A cross converts through the account currency's pair at its current ask.
    usdjpy_ask = mt5.symbol_info_tick("USDJPY").ask
    expected = round(0.5 * 100_000 * 0.2 / usdjpy_ask, 2)
    assert mt5.order_calc_profit(c.ORDER_TYPE_BUY, "GBPJPY", 0.5, 190.0, 190.2) == expected


def test_account_figures_follow_positions(mt5: Any) -> None:
    before = mt5.account_info()
    assert before.margin == 0.0 and before.margin_level == 0.0
    assert before.equity == before.balance == 10_000.0
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 1.0))
    hedge = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 0.4))
    account = mt5.account_info()
    (buy,) = mt5.positions_get(ticket=opened.order)
    (sell,) = mt5.positions_get(ticket=hedge.order)
    assert account.profit == pytest.approx(buy.profit + sell.profit, abs=0.011)
    assert account.equity == pytest.approx(account.balance + account.profit, abs=0.011)
    # Hedged legs: only the larger leg is charged.
    buy_margin = mt5.order_calc_margin(c.ORDER_TYPE_BUY, "EURUSD", 1.0, buy.price_open)
    assert account.margin == pytest.approx(buy_margin, abs=0.02)
    assert account.margin_free == pytest.approx(account.equity - account.margin, abs=0.011)
    assert account.margin_level == pytest.approx(account.equity / account.margin * 100, abs=0.01)
    check = mt5.order_check(market_request(mt5, "USDJPY", c.ORDER_TYPE_BUY, 1.0))
    assert check.retcode == 0 and check.comment == "Done"
    assert check.margin == pytest.approx(account.margin + 1000.0, abs=0.02)
    assert check.margin_free == pytest.approx(check.equity - check.margin, abs=0.011)


def test_realised_profit_and_commission_reach_the_balance(make_terminal: TerminalFactory) -> None:
    mt5 = build_module(make_terminal(commission_per_lot=3.5))
    mt5.initialize()
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_SELL, 1.0))
    closed = mt5.order_send(
        market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 1.0, position=opened.order)
    )
    entry, exit_deal = mt5.history_deals_get(position=opened.order)
    assert entry.commission == exit_deal.commission == -3.5
    assert exit_deal.profit == round((opened.price - closed.price) * 100_000, 2)
    assert mt5.account_info().balance == pytest.approx(10_000 - 7.0 + exit_deal.profit)


def test_swaps_are_charged_at_rollover_triple_on_wednesday(mt5: Any, clock: ManualClock) -> None:
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 1.0))
    server_day = int((clock.now() + SERVER_OFFSET_S) // DAY_S)
    thursday_midnight_utc = (server_day + 1) * DAY_S - SERVER_OFFSET_S
    clock.set(thursday_midnight_utc - 60)
    (position,) = mt5.positions_get(ticket=opened.order)
    assert position.swap == 0.0
    clock.set(thursday_midnight_utc + 60)
    (position,) = mt5.positions_get(ticket=opened.order)
    # swap_long -7.2 points × 0.00001 × 100,000 × 1 lot × 3 nights (Wednesday's rollover).
    assert position.swap == pytest.approx(-21.6)
    clock.set(thursday_midnight_utc + DAY_S + 60)
    (position,) = mt5.positions_get(ticket=opened.order)
    assert position.swap == pytest.approx(-28.8)
    account = mt5.account_info()
    assert account.equity == pytest.approx(
        account.balance + position.profit + position.swap, abs=0.011
    )
    closed = mt5.order_send(market_request(mt5, "EURUSD", 1, 1.0, position=opened.order))
    (exit_deal,) = mt5.history_deals_get(ticket=closed.order)
    assert exit_deal.swap == pytest.approx(-28.8)
    assert mt5.account_info().balance == pytest.approx(10_000 + exit_deal.profit - 28.8, abs=0.011)


def test_stop_out_closes_the_worst_position(make_terminal: TerminalFactory) -> None:
    mt5 = build_module(make_terminal(balance=200.0, leverage=500))
    mt5.initialize()
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.85))
    small = mt5.order_send(market_request(mt5, "USDJPY", c.ORDER_TYPE_BUY, 0.01))
    assert opened.retcode == small.retcode == c.TRADE_RETCODE_DONE
    assert mt5.account_info().margin_level > 30.0
    mt5._sim.deposit(-150.0, "Withdrawal")
    account = mt5.account_info()
    assert [p.ticket for p in mt5.positions_get()] == [small.order]
    (exit_deal,) = [d for d in mt5.history_deals_get(position=opened.order) if d.entry == 1]
    assert exit_deal.reason == c.DEAL_REASON_SO and exit_deal.comment.startswith("[so ")
    assert account.margin_level == 0.0 or account.margin_level >= 30.0


# ---- persistence ----------------------------------------------------------------------------


def test_deals_filed_by_a_terminal_of_schema_1_are_read_with_their_seconds(
        make_terminal: TerminalFactory, tmp_path: Any) -> None:
    """sim.db of schema 1 had no ``time`` column in ``deals``: it is added once, on open."""
    data_dir = tmp_path / "old"
    first = make_terminal(data_dir=data_dir)
    mt5 = build_module(first)
    mt5.initialize()
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1))
    deals = mt5.history_deals_get(ticket=opened.order)
    first.close()
    with sqlite3.connect(data_dir / "sim.db") as db:  # as schema 1 wrote it
        kept = ", ".join(f'"{row[1]}"' for row in db.execute("PRAGMA table_info(deals)")
                         if row[1] != "time")
        db.execute(f"CREATE TABLE old_deals AS SELECT {kept} FROM deals")
        db.execute("DROP TABLE deals")
        db.execute("ALTER TABLE old_deals RENAME TO deals")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")

    second = make_terminal(data_dir=data_dir)
    mt5 = build_module(second)
    mt5.initialize()
    assert deals and mt5.history_deals_get(ticket=opened.order) == deals
    assert deals[0].time == deals[0].time_msc // 1000
    with sqlite3.connect(data_dir / "sim.db") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            "2",)
    second.close()


def test_account_survives_a_restart(make_terminal: TerminalFactory, tmp_path: Any) -> None:
    data_dir = tmp_path / "persist"
    first = make_terminal(data_dir=data_dir)
    mt5 = build_module(first)
    mt5.initialize()
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.3))
    tick = mt5.symbol_info_tick("EURUSD")
    pending = mt5.order_send(pending_request(mt5, "EURUSD", 2, round(tick.bid - 0.01, 5)))
    closed = mt5.order_send(market_request(mt5, "USDJPY", c.ORDER_TYPE_SELL, 0.1))
    mt5.order_send(market_request(mt5, "USDJPY", c.ORDER_TYPE_BUY, 0.1, position=closed.order))
    account = mt5.account_info()
    positions = mt5.positions_get()
    orders = mt5.orders_get()
    deals = mt5.history_deals_get(ticket=opened.order)
    first.close()
    assert (data_dir / "sim.db").exists()

    second = make_terminal(data_dir=data_dir, balance=99.0)
    mt5 = build_module(second)
    mt5.initialize()
    assert mt5.account_info().balance == account.balance
    assert mt5.positions_get() == positions
    assert mt5.orders_get() == orders
    assert mt5.history_deals_get(ticket=opened.order) == deals
    again = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1))
    assert again.order > max(opened.order, pending.order, closed.order)
    assert again.deal > max(d.ticket for d in deals)
