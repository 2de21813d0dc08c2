"""A position that opens and closes between two polls is all in the terminal's history: the
deals and orders of ``history_*_get(from, to)`` carry its magic number and booked comment."""

from __future__ import annotations

from typing import Any

import pytest

from actors.broker.sim import constants as c
from actors.broker.sim.module import build_module
from actors.runtime.clock import ManualClock
from tests.unit.broker.conftest import TerminalFactory, market_request

POLL_S = 60.0


@pytest.mark.parametrize(
    ("rewrite", "booked"),
    [("off", "E20240101-7"), ("truncate", "E2024010"), ("replace", None)],
)
def test_a_tp_one_point_away_closes_before_the_next_poll_and_history_has_every_deal(
    make_terminal: TerminalFactory, clock: ManualClock, rewrite: str, booked: str | None
) -> None:
    # An ECN-style account: no stops level, so a TP one point away is accepted.
    terminal = make_terminal(stops_level_scale=0.0, comment_rewrite=rewrite,
                             comment_rewrite_length=8)  # fmt: skip
    mt5 = build_module(terminal)
    assert mt5.initialize()
    last_poll = mt5.symbol_info_tick("EURUSD").time  # the broker's previous poll, server time
    assert mt5.positions_get() == ()
    point = mt5.symbol_info("EURUSD").point
    bid = mt5.symbol_info_tick("EURUSD").bid
    request = market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1, magic=234000,
                             comment="E20240101-7", tp=round(bid + point, 5))  # fmt: skip
    opened = mt5.order_send(request)
    assert opened.retcode == c.TRADE_RETCODE_DONE

    clock.advance(POLL_S)  # the next poll: the TP was touched in between
    assert mt5.positions_get() == ()
    now = mt5.symbol_info_tick("EURUSD").time
    deals = [d for d in mt5.history_deals_get(last_poll, now) if d.position_id == opened.order]
    entry, exit_ = deals
    assert entry.entry == c.DEAL_ENTRY_IN and entry.order == opened.order
    assert exit_.entry == c.DEAL_ENTRY_OUT and exit_.reason == c.DEAL_REASON_TP
    assert entry.magic == exit_.magic == 234000
    assert entry.comment == (booked if booked is not None else f"#{opened.order}")
    assert exit_.comment == f"[tp {request['tp']:.5f}]"
    assert last_poll <= entry.time <= exit_.time <= now
    assert exit_.price >= request["tp"] and exit_.profit > 0
    orders = [o for o in mt5.history_orders_get(last_poll, now) if o.position_id == opened.order]
    assert [o.reason for o in orders] == [c.ORDER_REASON_EXPERT, c.ORDER_REASON_TP]
    assert {o.magic for o in orders} == {234000}
    assert orders[0].comment == entry.comment
    assert mt5.history_deals_total(last_poll, now) >= 2


def test_deals_at_the_edges_of_a_range_are_in_it_and_ranges_after_them_are_empty(
    make_terminal: TerminalFactory, clock: ManualClock
) -> None:
    mt5: Any = build_module(make_terminal())
    assert mt5.initialize()
    opened = mt5.order_send(market_request(mt5, "EURUSD", c.ORDER_TYPE_BUY, 0.1))
    (deal,) = mt5.history_deals_get(ticket=opened.order)
    # Ranges are whole seconds, both ends included: a poll from the deal's second finds it.
    assert deal.ticket in [d.ticket for d in mt5.history_deals_get(deal.time, deal.time)]
    assert deal.ticket not in [d.ticket for d in mt5.history_deals_get(deal.time + 1, 2**31)]
