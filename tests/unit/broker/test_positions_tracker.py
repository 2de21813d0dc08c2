"""Position tracking between polls, the dashboard rows, the broker day's P&L, and closed trades
built from deals."""

from __future__ import annotations

import dataclasses

import pytest

from actors.broker.positions_tracker import (
    ChangeGate,
    PositionTracker,
    TrackedPosition,
    account_row,
    build_trade_closed,
    day_realised,
    position_row,
    risk_at_stop,
    server_day_start,
    tracked_from_deals,
)
from messages.books import AccountRecord, DealRecord, PositionRecord
from messages.codec import to_wire
from messages.events import AccountUpdate, PositionUpdate

OFFSET_S = 7200.0
OPENED_MSC = 1_700_050_000_000


def _position(ticket: int = 10, type_: int = 0, price_current: float = 1.1000,
              **changes: object) -> PositionRecord:
    base = PositionRecord(
        ticket=ticket, time=OPENED_MSC // 1000, time_msc=OPENED_MSC, time_update=0,
        time_update_msc=0, type=type_, magic=7, identifier=ticket, reason=3, volume=0.2,
        price_open=1.1000, sl=1.0950, tp=1.1100, price_current=price_current, swap=-0.5,
        profit=3.456, symbol="EURUSD", comment="E1", external_id="",
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def _deal(ticket: int, entry: int, price: float, volume: float, *, position: int = 10,
          time_msc: int = OPENED_MSC, reason: int = 3, profit: float = 0.0,
          commission: float = -0.7, swap: float = 0.0, type_: int = 0,
          comment: str = "") -> DealRecord:
    return DealRecord(
        ticket=ticket, order=ticket, time=time_msc // 1000, time_msc=time_msc, type=type_,
        entry=entry, magic=7, position_id=position, reason=reason, volume=volume, price=price,
        commission=commission, swap=swap, profit=profit, fee=0.0, symbol="EURUSD",
        comment=comment, external_id="",
    )  # fmt: skip


def _identify(position: PositionRecord) -> tuple[str, str]:
    return position.comment, "D-" + position.comment


def test_a_new_position_is_adopted_with_its_ids_and_its_extremes_follow_the_price() -> None:
    tracker = PositionTracker()
    first = tracker.observe([_position(price_current=1.0990)], _identify)
    (adopted,) = first.adopted
    assert (adopted.client_order_id, adopted.decision_id) == ("E1", "D-E1")
    assert (adopted.worst_price, adopted.best_price) == (1.0990, 1.1000)
    tracker.observe([_position(price_current=1.1030)], _identify)
    tracker.observe([_position(price_current=1.1010)], _identify)
    kept = tracker.get(10)
    assert kept is not None and (kept.worst_price, kept.best_price) == (1.0990, 1.1030)


def test_a_sell_position_has_its_adverse_side_above() -> None:
    tracker = PositionTracker()
    for price in (1.1010, 1.0970, 1.1005):
        tracker.observe([_position(type_=1, price_current=price)], _identify)
    kept = tracker.get(10)
    assert kept is not None and (kept.worst_price, kept.best_price) == (1.1010, 1.0970)


def test_a_changed_stop_or_a_new_extreme_is_reported_as_changed_nothing_else() -> None:
    tracker = PositionTracker()
    tracker.observe([_position()], _identify)
    assert tracker.observe([_position()], _identify).changed == ()
    moved = tracker.observe([_position(sl=1.0990)], _identify).changed
    assert [t.sl for t in moved] == [1.0990]
    assert tracker.observe([_position(price_current=1.2)], _identify).changed[0].best_price == 1.2


def test_a_vanished_position_is_closed_once_its_report_is_under_way() -> None:
    tracker = PositionTracker()
    tracker.observe([_position(10), _position(11)], _identify)
    closed = tracker.observe([_position(11)], _identify).closed
    assert [t.ticket for t in closed] == [10]
    tracker.reporting.add(10)
    assert tracker.observe([_position(11)], _identify).closed == ()
    tracker.forget(10)
    assert 10 not in tracker and 10 not in tracker.reporting


def test_tracked_records_round_trip_and_broken_ones_are_named() -> None:
    tracked = TrackedPosition.adopt(_position(), "E1", "D1")
    tracker = PositionTracker()
    broken = tracker.load({"broker.position.10": tracked.to_record(),
                           "broker.position.x": {"ticket": 1}})
    assert broken == ["broker.position.x"] and tracker.get(10) == tracked


def test_rows_carry_the_seed_fields() -> None:
    tracked = TrackedPosition.adopt(_position(), "E1", "D1")
    row = position_row(_position(type_=1), tracked, "SmaCross")
    assert to_wire(PositionUpdate(timestamp="t", positions=(row,)))["positions"] == [{
        "ticket": 10, "symbol": "EURUSD", "type": 1, "direction": "SELL", "volume": 0.2,
        "entry_price": 1.1, "price_current": 1.1, "sl_price": 1.095, "tp_price": 1.11,
        "profit": 3.46, "swap": row.swap, "client_order_id": "E1", "decision_id": "D1",
        "strategy": "SmaCross"}]  # the seed's fields, and whose it is


def test_the_account_row_has_day_pl_and_margin_fields() -> None:
    account = AccountRecord(
        login=1, trade_mode=0, leverage=100, limit_orders=0, margin_so_mode=0,
        trade_allowed=True, trade_expert=True, margin_mode=2, currency_digits=2,
        fifo_close=False, balance=10_000.0, credit=0.0, profit=-12.34, equity=9987.66,
        margin=110.0, margin_free=9877.0, margin_level=9079.7, margin_so_call=50.0,
        margin_so_so=30.0, margin_initial=0.0, margin_maintenance=0.0, assets=0.0,
        liabilities=0.0, commission_blocked=0.0, name="n", server="s", currency="USD",
        company="c",
    )  # fmt: skip
    row = account_row(account, day_pl=25.0 + account.profit)
    assert to_wire(AccountUpdate(timestamp="t", account=row))["account"] == {
        "balance": 10000.0, "equity": 9987.66, "profit": -12.34, "currency": "USD",
        "leverage": 100, "day_pl": 12.66, "margin": 110.0, "margin_free": 9877.0,
        "margin_level": 9079.7}


def test_day_realised_counts_trading_deals_of_the_server_day_only() -> None:
    day = server_day_start(OPENED_MSC / 1000)
    deals = [
        _deal(1, 1, 1.1, 0.1, time_msc=(day - 10) * 1000, profit=100.0),  # yesterday
        _deal(2, 1, 1.1, 0.1, time_msc=(day + 10) * 1000, profit=20.0, swap=-1.0),
        _deal(3, 0, 1.1, 0.1, time_msc=(day + 20) * 1000),  # entry: its commission counts
        dataclasses.replace(_deal(4, 0, 0.0, 0.0, time_msc=(day + 30) * 1000, profit=500.0,
                                  commission=0.0), type=2),  # a deposit is not a result
    ]
    assert day_realised(deals, day) == round(20.0 - 0.7 - 1.0 - 0.7, 2)
    assert day % 86_400 == 0 and day <= OPENED_MSC / 1000 < day + 86_400


def test_a_closed_trade_from_its_deals() -> None:
    tracked = TrackedPosition.adopt(_position(price_current=1.0980), "E1", "D1")
    deals = [
        _deal(1, 0, 1.1000, 0.2),
        _deal(2, 1, 1.1050, 0.1, time_msc=OPENED_MSC + 60_000, profit=50.0, type_=1),
        _deal(3, 1, 1.1100, 0.1, time_msc=OPENED_MSC + 120_000, profit=100.0, swap=-1.2,
              reason=5, type_=1),
        _deal(4, 0, 1.3, 1.0, position=99),  # another position's deal
    ]
    trade = build_trade_closed(tracked, deals, OFFSET_S)
    assert trade is not None
    assert (trade.ticket, trade.direction, trade.volume) == (10, "BUY", 0.2)
    assert trade.entry_price == pytest.approx(1.1) and trade.exit_price == pytest.approx(1.1075)
    assert (trade.commission, trade.swap) == (-2.1, -1.2)
    assert trade.profit == pytest.approx(150.0 - 2.1 - 1.2)
    assert trade.opened_at == OPENED_MSC / 1000 - OFFSET_S
    assert trade.closed_at == (OPENED_MSC + 120_000) / 1000 - OFFSET_S
    assert trade.exit_reason == "TP"
    assert (trade.max_adverse_price, trade.max_favourable_price) == (1.0980, 1.1100)
    assert (trade.client_order_id, trade.decision_id) == ("E1", "D1")


def test_a_trade_closed_late_in_the_utc_evening_counts_on_the_servers_next_day() -> None:
    """22:30 UTC on a UTC+2 server is 00:30 there: the next broker day, whose loss limit the
    trade counts against (and /api/journal/daily groups it with)."""
    evening_utc = 1_700_087_400  # 2023-11-15 22:30 UTC
    tracked = TrackedPosition.adopt(_position(), "E1", "D1")
    server_msc = int((evening_utc + OFFSET_S) * 1000)
    deals = [_deal(1, 0, 1.1, 0.2), _deal(2, 1, 1.1, 0.2, time_msc=server_msc, type_=1)]
    trade = build_trade_closed(tracked, deals, OFFSET_S)
    assert trade is not None and trade.closed_at == evening_utc
    assert trade.broker_day == "2023-11-16"


@pytest.mark.parametrize(("reason", "comment", "expected"), [
    (4, "", "SL"), (6, "", "SO"), (3, "x-close", "trailing stop"), (3, "other", "client"),
])
def test_the_exit_reason(reason: int, comment: str, expected: str) -> None:
    tracked = TrackedPosition.adopt(_position(), "E1", "D1")
    deals = [_deal(1, 0, 1.1, 0.2),
             _deal(2, 1, 1.09, 0.2, reason=reason, comment=comment, type_=1)]
    purposes = {"x-close": "trailing stop"}
    trade = build_trade_closed(tracked, deals, 0.0, lambda c: purposes.get(c, ""))
    assert trade is not None and trade.exit_reason == expected


def test_no_exit_deal_yet_means_no_trade_yet() -> None:
    tracked = TrackedPosition.adopt(_position(), "E1", "D1")
    assert build_trade_closed(tracked, [_deal(1, 0, 1.1, 0.2)], 0.0) is None


def test_the_change_gate_passes_only_changes() -> None:
    gate = ChangeGate()
    assert gate.changed("a", (1,)) and not gate.changed("a", (1,)) and gate.changed("a", ())
    gate.forget("a")
    assert gate.changed("a", ())


def test_a_loss_beyond_the_stop_is_recorded_as_such() -> None:
    tracked = TrackedPosition.adopt(_position(), "E1", "D1")
    planned = risk_at_stop(1.1000, 1.0950, 0.2, 0.00001, 1.0)  # 500 points × 0.2 lots × 1.0
    assert planned == 100.0 and risk_at_stop(1.1, 0.0, 0.2, 0.00001, 1.0) == 0.0
    gapped = [_deal(1, 0, 1.1, 0.2, commission=0.0),
              _deal(2, 1, 1.0930, 0.2, reason=4, profit=-140.0, commission=0.0, type_=1)]
    trade = build_trade_closed(tracked, gapped, 0.0, planned_risk=planned)
    assert trade is not None
    assert (trade.planned_risk, trade.realised, trade.loss_beyond_stop) == (100.0, -140.0, 40.0)
    within = [gapped[0], dataclasses.replace(gapped[1], profit=-60.0)]
    trade = build_trade_closed(tracked, within, 0.0, planned_risk=planned)
    assert trade is not None and (trade.realised, trade.loss_beyond_stop) == (-60.0, 0.0)


def test_a_position_never_seen_open_is_rebuilt_from_its_deals() -> None:
    deals = [_deal(1, 0, 1.1, 0.2, type_=1, comment="E5"), _deal(2, 1, 1.09, 0.2)]
    tracked = tracked_from_deals(10, deals, lambda ticket, comment: (comment, "D5", 1.11, 1.08))
    assert tracked is not None
    assert (tracked.direction, tracked.volume, tracked.entry_price, tracked.sl) == (
        "SELL", 0.2, 1.1, 1.11)
    assert (tracked.client_order_id, tracked.decision_id) == ("E5", "D5")
    assert tracked_from_deals(10, deals[1:], lambda t, c: ("", "", 0.0, 0.0)) is None
