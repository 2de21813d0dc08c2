"""The order desk alone, without Thespian: each event in, the effects out, and the rules of
"never twice" (write-ahead before send, answers from the record, no new order while one is
unresolved, stale write-aheads not sent)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actors.broker.desk import (
    WRITE_AHEAD_DEADLINE_S,
    CancelOrder,
    Conditions,
    Effect,
    LookUp,
    OrderDesk,
    Persist,
    PollSoon,
    ReadBooks,
    Reply,
    ResolveSoon,
    Send,
    SetStops,
    WriteAhead,
    approval_refusal,
)
from actors.broker.gate import GateState
from actors.broker.intents import IntentStatus
from messages.books import OrderRecord, PositionRecord
from messages.market import Side
from messages.orders import FateStatus, OrderFate, OrderOutcome, Outcome
from messages.trading import (
    Approval,
    CloseAll,
    ClosePosition,
    ModifyPosition,
    OrderReport,
    PlaceOrder,
)

MAGIC = 234000
NOW = 1_700_000_000.0
ME = "the RiskManager"
READY = Conditions(connected=True, reconciled=True, may_trade=True, gate=GateState(),
                   market_time=NOW, risk=ME)


def _order(coid: str = "E1", request_id: str = "r1", **approval: Any) -> PlaceOrder:
    order = PlaceOrder(request_id, coid, f"D{coid}", "EURUSD", Side.BUY, 0.1, 1.09, 1.11)
    fields: dict[str, Any] = {"client_order_id": coid, "decision_id": f"D{coid}",
                              "strategy": "s", "symbol": "EURUSD", "side": Side.BUY,
                              "volume": 0.1, "risk_money": 10.0, "expires_at": NOW + 30}
    fields.update(approval)
    return dataclasses.replace(order, approval=Approval(**fields))


def _position(ticket: int = 7, magic: int = MAGIC, comment: str = "E1") -> PositionRecord:
    return PositionRecord(
        ticket=ticket, time=0, time_msc=0, time_update=0, time_update_msc=0, type=0,
        magic=magic, identifier=ticket, reason=3, volume=0.1, price_open=1.1, sl=1.09,
        tp=1.11, price_current=1.1, swap=0.0, profit=0.0, symbol="EURUSD", comment=comment,
        external_id="",
    )  # fmt: skip


def _pending(ticket: int, magic: int = MAGIC) -> OrderRecord:
    return OrderRecord(
        ticket=ticket, time_setup=0, time_setup_msc=0, time_done=0, time_done_msc=0,
        time_expiration=0, type=2, type_time=0, type_filling=0, state=1, magic=magic,
        position_id=0, position_by_id=0, reason=3, volume_initial=0.1, volume_current=0.1,
        price_open=1.0, sl=0.0, tp=0.0, price_current=1.1, price_stoplimit=0.0,
        symbol="EURUSD", comment="", external_id="",
    )  # fmt: skip


def _outcome(status: Outcome, coid: str = "E1", **fields: Any) -> OrderOutcome:
    return OrderOutcome(status, str(status), coid, sent=True, **fields)


def _of(effects: list[Effect], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def _only(effects: list[Effect], kind: type) -> Any:
    (found,) = _of(effects, kind)
    return found


def _place_until_send(desk: OrderDesk, order: PlaceOrder) -> Send:
    ahead = _only(desk.place(order, ME, READY, NOW), WriteAhead)
    assert ahead.intent.status is IntentStatus.SENDING
    return _only(desk.written(ahead.job_id, order.client_order_id, True, None, READY, NOW),
                 Send)


def test_an_order_is_sent_only_after_its_write_ahead_and_reported_once() -> None:
    desk = OrderDesk(MAGIC)
    effects = desk.place(_order(), ME, READY, NOW)
    assert [type(e) for e in effects] == [WriteAhead]  # nothing sent before SharedState has it
    ahead = effects[0]
    sent = desk.written(ahead.job_id, "E1", True, None, READY, NOW)
    send = _only(sent, Send)
    assert (send.intent.client_order_id, send.intent.kind, send.intent.sl) == ("E1", "open", 1.09)
    done = desk.sent(send.job_id, "E1", _outcome(Outcome.DONE, order=42, price=1.1, volume=0.1),
                     READY, NOW)
    assert _only(done, Persist).intent.status is IntentStatus.DONE
    report = _only(done, Reply).report
    assert (report.status, report.ticket, report.price, report.request_id) == ("done", 42, 1.1,
                                                                               "r1")
    assert _of(done, PollSoon) and not desk.jobs


def test_the_desk_says_when_a_write_ahead_is_awaited() -> None:
    desk = OrderDesk(MAGIC)
    assert not desk.awaiting_write_ahead
    ahead = _only(desk.place(_order(), ME, READY, NOW), WriteAhead)
    assert desk.awaiting_write_ahead  # the broker's own reads wait: the Send comes next
    send = _only(desk.written(ahead.job_id, "E1", True, None, READY, NOW), Send)
    assert not desk.awaiting_write_ahead
    desk.sent(send.job_id, "E1", _outcome(Outcome.DONE, order=42), READY, NOW)
    assert not desk.awaiting_write_ahead


def test_a_known_client_order_id_is_answered_from_its_record_and_never_sent_again() -> None:
    desk = OrderDesk(MAGIC)
    send = _place_until_send(desk, _order())
    desk.sent(send.job_id, "E1", _outcome(Outcome.DONE, order=42), READY, NOW)
    retry = desk.place(_order(request_id="r2"), ME, READY, NOW)
    assert not _of(retry, Send) and not _of(retry, WriteAhead)
    report = _only(retry, Reply).report
    assert (report.request_id, report.status, report.ticket) == ("r2", "done", 42)


def test_orders_are_refused_without_a_record_while_disconnected_or_halted() -> None:
    desk = OrderDesk(MAGIC)
    for conditions, reason in (
        (Conditions(False, False, False, GateState(), risk=ME), "disconnected"),
        (Conditions(True, False, True, GateState(), risk=ME), "not_reconciled"),
        (Conditions(True, True, True, GateState("HALTED"), risk=ME), "trading_halted"),
        (Conditions(True, True, True, GateState(kill_switch=True), risk=ME), "kill_switch"),
    ):
        report = _only(desk.place(_order(), ME, conditions, NOW), Reply).report
        assert (report.status, report.reason) == ("refused", reason)
    assert len(desk.ledger) == 0
    bad = _only(desk.place(_order(coid="not a valid id!"), ME, READY, NOW), Reply).report
    assert bad.status == "refused" and bad.reason.startswith("invalid: client_order_id")


def test_an_unknown_outcome_blocks_new_orders_until_the_books_resolve_it() -> None:
    desk = OrderDesk(MAGIC)
    send = _place_until_send(desk, _order())
    unknown = desk.sent(send.job_id, "E1", _outcome(Outcome.UNKNOWN), READY, NOW)
    assert _only(unknown, Reply).report.status == "unknown"  # interim
    assert _of(unknown, ResolveSoon)
    blocked = _only(desk.place(_order("E2"), ME, READY, NOW), Reply).report
    assert (blocked.status, blocked.reason) == ("refused", "unresolved_order")
    assert [i.client_order_id for i in desk.to_resolve()] == ["E1"]
    fate = OrderFate("E1", MAGIC, FateStatus.FILLED, order=42, position=42, volume=0.1,
                     price=1.1)
    resolved = desk.fate_found("E1", fate, NOW, 0.0)
    assert _only(resolved, Persist).intent.status is IntentStatus.DONE
    final = _only(desk.report_jobs(), Reply).report
    assert (final.request_id, final.status, final.ticket) == ("r1", "done", 42)
    assert desk.report_jobs() == []  # reported once
    assert _of(desk.place(_order("E2"), ME, READY, NOW), WriteAhead)


def test_a_refused_write_ahead_frees_the_id_and_a_late_one_is_never_sent() -> None:
    desk = OrderDesk(MAGIC)
    ahead = _only(desk.place(_order(), ME, READY, NOW), WriteAhead)
    failed = desk.written(ahead.job_id, "E1", False, "disk full", READY, NOW)
    assert _only(failed, Reply).report.reason == "state_write_failed" and "E1" not in desk.ledger
    ahead = _only(desk.place(_order(), ME, READY, NOW), WriteAhead)
    late = desk.written(ahead.job_id, "E1", True, None, READY,
                        NOW + WRITE_AHEAD_DEADLINE_S + 1)
    assert not _of(late, Send)
    assert _only(late, Persist).intent.status is IntentStatus.REFUSED
    assert _only(late, Reply).report.reason == "write_ahead_late"


def test_a_close_looks_the_position_up_and_answers_a_gone_or_foreign_one() -> None:
    desk = OrderDesk(MAGIC)
    close = ClosePosition("c1", "op-1", 7, None, "operator")
    lookup = _only(desk.close(close, ME, READY, NOW), LookUp).lookup
    gone = desk.looked_up(lookup, (), READY, NOW)
    assert _only(gone, Reply).report.reason == "already_closed" and _of(gone, PollSoon)
    foreign = desk.looked_up(lookup, (_position(magic=1),), READY, NOW)
    assert _only(foreign, Reply).report.reason == "foreign_position"
    failed = desk.looked_up(lookup, None, READY, NOW)
    assert _only(failed, Reply).report.reason == "terminal_unavailable"
    assert len(desk.ledger) == 0
    ahead = _only(desk.looked_up(lookup, (_position(),), READY, NOW), WriteAhead)
    assert (ahead.intent.kind, ahead.intent.side, ahead.intent.ticket) == ("close", "SELL", 7)
    # A close reduces risk: it goes out while trading is halted.
    halted = Conditions(True, True, True, GateState("HALTED"))
    assert _of(desk.written(ahead.job_id, ahead.intent.client_order_id, True, None, halted, NOW),
               Send)


def test_close_all_cancels_our_pending_orders_and_closes_only_our_positions() -> None:
    desk = OrderDesk(MAGIC)
    read = _only(desk.close_all(CloseAll("a", "op-all", "operator"), ME, READY), ReadBooks)
    effects = desk.books_read(read.lookup, (_position(7), _position(8, magic=1)),
                              (_pending(70), _pending(80, magic=1)), READY, NOW)
    assert [e.ticket for e in _of(effects, CancelOrder)] == [70]
    assert [e.intent.ticket for e in _of(effects, WriteAhead)] == [7]
    nothing = desk.books_read(read.lookup, (), (), READY, NOW)
    assert _only(nothing, Reply).report.reason == "nothing_to_close"


def _close_all(desk: OrderDesk, outcomes: dict[int, OrderOutcome]) -> OrderReport:
    """A close-all of our positions ``outcomes`` names, each close answered so."""
    read = _only(desk.close_all(CloseAll("a", "op-all", "operator"), ME, READY), ReadBooks)
    effects = desk.books_read(read.lookup, tuple(_position(t) for t in outcomes), (), READY, NOW)
    for ahead in _of(effects, WriteAhead):
        effects = desk.written(ahead.job_id, ahead.intent.client_order_id, True, None, READY, NOW)
    while not _of(effects, Reply):
        send = _only(effects, Send)
        coid = send.intent.client_order_id
        outcome = dataclasses.replace(outcomes[send.intent.ticket], client_order_id=coid)
        effects = desk.sent(send.job_id, coid, outcome, READY, NOW)
    return _only(effects, Reply).report


def test_a_close_all_refused_only_for_a_passing_reason_says_it_may_be_retried() -> None:
    done = _outcome(Outcome.DONE, volume=0.1)
    frozen = OrderOutcome(Outcome.WAIT, "frozen", "", sent=True, retcode=10029)
    no_money = OrderOutcome(Outcome.REJECTED, "no_money", "", sent=True, retcode=10019)
    report = _close_all(OrderDesk(MAGIC), {7: done, 8: frozen})
    assert (report.status, report.reason, report.closed) == ("rejected", "8: frozen", (7,))
    assert report.retry_later
    mixed = _close_all(OrderDesk(MAGIC), {7: no_money, 8: frozen})
    assert mixed.status == "rejected" and not mixed.retry_later
    assert not _close_all(OrderDesk(MAGIC), {7: done}).retry_later


def test_a_retried_modify_gets_the_first_answer() -> None:
    desk = OrderDesk(MAGIC)
    modify = ModifyPosition("m1", "op-m", 7, 1.095, None)
    lookup = _only(desk.modify(modify, ME, READY), LookUp).lookup
    stops = _only(desk.looked_up(lookup, (_position(),), READY, NOW), SetStops)
    assert (stops.sl, stops.tp) == (1.095, 1.11)  # None keeps the current take profit
    first = _only(desk.stops_set(stops, _outcome(Outcome.DONE), None), Reply).report
    assert first.status == "done" and first.symbol == "EURUSD"
    again = desk.modify(ModifyPosition("m2", "op-m", 7, 1.095, None), ME, READY)
    report = _only(again, Reply).report
    assert (report.request_id, report.status) == ("m2", "done")


@pytest.mark.parametrize(("sl", "refused"), [
    (1.095, False),  # trailed towards the price
    (1.09, False),  # unchanged
    (None, False),  # kept
    (1.085, True),  # moved away: more risk than approved
    (0.0, True),  # removed
])
def test_a_modify_never_widens_the_stop(sl: float | None, refused: bool) -> None:
    desk = OrderDesk(MAGIC)
    lookup = _only(desk.modify(ModifyPosition("m1", "op-m", 7, sl, 1.12), "a strategy", READY),
                   LookUp).lookup
    effects = desk.looked_up(lookup, (_position(),), READY, NOW)  # a buy with its SL at 1.09
    if refused:
        report = _only(effects, Reply).report
        assert (report.status, report.reason) == ("refused", "STOPS_WIDENED")
        assert not _of(effects, SetStops)
    else:
        assert _only(effects, SetStops).tp == 1.12


def test_a_sell_widens_its_stop_upwards_and_a_stopless_position_may_get_one() -> None:
    sell = dataclasses.replace(_position(), type=1, sl=1.11, tp=1.09)
    desk = OrderDesk(MAGIC)
    up = _only(desk.modify(ModifyPosition("m1", "op-up", 7, 1.115, None), ME, READY), LookUp)
    assert _only(desk.looked_up(up.lookup, (sell,), READY, NOW), Reply).report.reason == \
        "STOPS_WIDENED"
    bare = dataclasses.replace(_position(), sl=0.0)
    first = _only(desk.modify(ModifyPosition("m2", "op-sl", 7, 1.05, None), ME, READY), LookUp)
    assert _only(desk.looked_up(first.lookup, (bare,), READY, NOW), SetStops).sl == 1.05


@pytest.mark.parametrize(("sender", "order", "code"), [
    ("a strategy", _order(), "NOT_FROM_RISK"),
    (ME, dataclasses.replace(_order(), approval=None), "NOT_APPROVED"),
    (ME, _order(client_order_id="E2"), "APPROVAL_MISMATCH"),
    (ME, _order(symbol="GBPUSD"), "APPROVAL_MISMATCH"),
    (ME, _order(side=Side.SELL), "APPROVAL_MISMATCH"),
    (ME, _order(volume=0.05), "APPROVAL_MISMATCH"),
    (ME, _order(expires_at=NOW - 0.001), "APPROVAL_EXPIRED"),
])  # fmt: skip
def test_an_opening_order_without_a_valid_approval_is_rejected_untouched(
    sender: str, order: PlaceOrder, code: str,
) -> None:
    desk = OrderDesk(MAGIC)
    effects = desk.place(order, sender, READY, NOW)
    report = _only(effects, Reply).report
    assert (report.status, report.reason, report.client_order_id) == ("rejected", code, "E1")
    assert not _of(effects, WriteAhead) and not _of(effects, Send) and len(desk.ledger) == 0
    assert str(approval_refusal(order, sender, ME, NOW)) == code


def test_no_risk_manager_means_no_opening_order() -> None:
    desk = OrderDesk(MAGIC)
    nobody = dataclasses.replace(READY, risk=None)
    assert _only(desk.place(_order(), ME, nobody, NOW), Reply).report.reason == "NOT_FROM_RISK"
    assert _of(desk.place(_order(), ME, READY, NOW), WriteAhead)
    unchecked = dataclasses.replace(READY, risk=None, require_approval=False)
    assert _of(desk.place(_order("E2"), "a test client", unchecked, NOW), WriteAhead)


def test_a_broker_going_away_answers_every_waiting_job() -> None:
    desk = OrderDesk(MAGIC)
    send = _place_until_send(desk, _order())  # perhaps sent
    lookup = _only(desk.close(ClosePosition("r2", "op-2", 7, None, "x"), ME, READY, NOW),
                   LookUp).lookup
    assert _of(desk.looked_up(lookup, (_position(),), READY, NOW), WriteAhead)  # not sent
    assert len(desk.jobs) == 2 and send
    replies = {r.report.request_id: r.report for r in _of(desk.abandon_all("unavailable"),
                                                          Reply)}
    assert (replies["r1"].status, replies["r1"].reason) == ("unknown", "unavailable")
    assert replies["r2"].status == "refused" and not desk.jobs


def test_settled_intents_are_forgotten_unless_a_job_or_a_tracked_position_needs_them() -> None:
    desk = OrderDesk(MAGIC)
    for coid, ticket in (("E1", 41), ("E2", 42), ("E3", 43)):
        send = _place_until_send(desk, _order(coid, request_id=f"r{coid}"))
        desk.sent(send.job_id, coid, _outcome(Outcome.DONE, coid, order=ticket), READY, NOW)
    assert desk.forget_settled(NOW, tracked=()) == 0  # changed at NOW: not before it
    stuck = _place_until_send(desk, _order("E4", request_id="r4"))
    assert desk.forget_settled(NOW + 1, tracked=()) == 0  # E4 is on its way: keep its context
    desk.sent(stuck.job_id, "E4", _outcome(Outcome.REJECTED, "E4"), READY, NOW)
    assert desk.forget_settled(NOW + 1, tracked={42}) == 3
    assert [i.client_order_id for i in desk.ledger.all()] == ["E2"]


def test_an_order_that_cannot_be_looked_up_is_refused_with_nothing_written() -> None:
    effects = OrderDesk(MAGIC).unreadable("r9", ME, "E9", "SharedState did not answer")
    report = _only(effects, Reply).report
    assert (report.status, report.reason, report.client_order_id) == (
        "refused", "state_unavailable", "E9")
    assert not _of(effects, WriteAhead) and not _of(effects, Send)
