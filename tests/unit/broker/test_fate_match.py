"""Finding an order whose comment the broker rewrote, by its shape: magic, symbol, side, volume,
time window; never an order already known as another's, nor one carrying another's id."""

from __future__ import annotations

import dataclasses

from actors.broker.fate_match import OrderShape, match_fate
from messages.books import DealRecord, OrderRecord, PositionRecord
from messages.market import Side
from messages.orders import FateStatus

MAGIC = 234000
T0 = 1_700_000_000_000
SHAPE = OrderShape("EURUSD", Side.BUY, 0.1, T0 - 5000, T0 + 60_000)


def order(ticket: int, *, time_msc: int = T0, state: int = 4, volume: float = 0.1,
          comment: str = "#broker", order_type: int = 0, position: int = 0) -> OrderRecord:
    return OrderRecord(
        ticket=ticket, time_setup=time_msc // 1000, time_setup_msc=time_msc, time_done=0,
        time_done_msc=0, time_expiration=0, type=order_type, type_time=0, type_filling=0,
        state=state, magic=MAGIC, position_id=position or ticket, position_by_id=0, reason=3,
        volume_initial=volume, volume_current=0.0, price_open=1.1, sl=0.0, tp=0.0,
        price_current=1.1, price_stoplimit=0.0, symbol="EURUSD", comment=comment,
        external_id="",
    )  # fmt: skip


def deal(ticket: int, of_order: int, *, entry: int = 0, position: int = 0,
         comment: str = "#broker") -> DealRecord:
    return DealRecord(
        ticket=ticket, order=of_order, time=T0 // 1000, time_msc=T0, type=0, entry=entry,
        magic=MAGIC, position_id=position or of_order, reason=3, volume=0.1, price=1.10005,
        commission=0.0, swap=0.0, profit=0.0, fee=0.0, symbol="EURUSD", comment=comment,
        external_id="",
    )  # fmt: skip


def test_the_order_of_that_shape_is_found_with_its_fill() -> None:
    fate = match_fate("E1", MAGIC, SHAPE, (), (order(7),), (deal(70, 7),))
    assert fate is not None and fate.status is FateStatus.FILLED
    assert (fate.order, fate.position, fate.deals, fate.price) == (7, 7, (70,), 1.10005)


def test_other_orders_are_never_taken_for_it() -> None:
    books = (order(5, comment="E0"), order(6), order(8, volume=0.2),
             order(9, time_msc=T0 - 60_000), order(10, order_type=1))
    deals = tuple(deal(50 + o.ticket, o.ticket) for o in books)
    known = dataclasses.replace(SHAPE, taken=frozenset({6}), others=frozenset({"E0"}))
    assert match_fate("E1", MAGIC, known, (), books, deals) is None
    assert match_fate("E1", MAGIC, SHAPE, (), books, deals).order == 5  # type: ignore[union-attr]


def test_a_cancelled_order_and_a_position_the_history_does_not_show_yet() -> None:
    cancelled = match_fate("E1", MAGIC, SHAPE, (), (order(7, state=2),), ())
    assert cancelled is not None and cancelled.status is FateStatus.CANCELLED
    position = PositionRecord(
        ticket=11, time=T0 // 1000, time_msc=T0 + 10, time_update=0, time_update_msc=0, type=0,
        magic=MAGIC, identifier=11, reason=3, volume=0.1, price_open=1.1, sl=0.0, tp=0.0,
        price_current=1.1, swap=0.0, profit=0.0, symbol="EURUSD", comment="#11", external_id="",
    )  # fmt: skip
    fate = match_fate("E1", MAGIC, SHAPE, (position,), (), ())
    assert fate is not None and (fate.status, fate.position, fate.volume) == (
        FateStatus.FILLED, 11, 0.1)
    by_deal = match_fate("E1", MAGIC, SHAPE, (), (), (deal(70, 7),))
    assert by_deal is not None and (by_deal.status, by_deal.order) == (FateStatus.FILLED, 7)


def test_a_close_is_known_by_the_position_it_closes() -> None:
    close = OrderShape("EURUSD", Side.SELL, None, T0 - 5000, T0 + 60_000, position=7)
    books = (order(20, order_type=1, position=8), order(21, order_type=1, position=7))
    deals = (deal(90, 20, entry=1, position=8), deal(91, 21, entry=1, position=7))
    fate = match_fate("x1", MAGIC, close, (), books, deals)
    assert fate is not None and (fate.order, fate.position) == (21, 7)
