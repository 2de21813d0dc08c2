"""The MT5Broker actor in one process (simpleSystemBase) with the real SharedState and the
simulated terminal on temporary files: the write-ahead, answers from the record, unknown
outcomes, closed-trade reports, reconciliation after a crash, and fail-closed refusals. The
terminal's own books (``sim.db``) are the oracle of "sent at most once"."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from thespian.actors import ActorExitRequest, ActorSystem

from actors.app.settings import Settings, load_settings
from actors.broker.deal_reader import CURSOR_KEY
from actors.broker.gateway import open_gateway
from actors.broker.intents import Intent, IntentStatus, close_all_order_id, intent_key
from actors.broker.sim_clock import MARKET_TIME_FILE, MarketTimeFile
from actors.runtime.clock import ManualClock
from actors.shared_state.keys import POSITION_PREFIX
from actors.shared_state.store import KeyValueStore
from bench.order_client import terminal_books
from messages.commands import JournalQuery, Publish, StateGet, StateGetAll, StateReply, StateSet
from messages.market import Side
from messages.orders import OrderIntent
from messages.supervision import ChildCrashed, Configure, Peers, Started
from messages.trading import (
    Approval,
    BrokerReady,
    BrokerSnapshot,
    BrokerSnapshotRequest,
    CloseAll,
    ClosePosition,
    DealsObserved,
    MarketData,
    MarketDataRequest,
    OrderReport,
    PlaceOrder,
    ReconnectBroker,
    SetSimFaults,
    SimFaultsReply,
    TradeClosed,
    TradingGate,
)
from tests.support.actors import Recorder, ask_for
from tests.unit.broker.conftest import WEDNESDAY_UTC

ASK = 10.0
MAGIC = 234000


def _settings(data_dir: Path, *extra: str) -> Settings:
    return load_settings(assignments=[
        f"runtime.data_dir='{data_dir}'", f"sim.start={WEDNESDAY_UTC}",
        "broker.poll_interval_s=0.05", "broker.reconnect_initial_s=0.05",
        "broker.reconnect_max_s=0.2", *extra,
    ], environ={})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Forward:
    to: Any
    message: Any


class RiskStandIn(Recorder):
    """The RiskManager's place in the directory: it keeps what it is sent, and sends what the
    test tells it to, so the broker sees the RiskManager as the sender."""

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, Forward):
            self.send(message.to, message.message)
        else:
            super().receiveMessage(message, sender)


def approval_for(order: PlaceOrder, **changes: Any) -> Approval:
    fields: dict[str, Any] = {
        "client_order_id": order.client_order_id, "decision_id": order.decision_id,
        "strategy": "test", "symbol": order.symbol, "side": order.side,
        "volume": order.volume, "risk_money": 10.0, "expires_at": time.time() + 60,
    }  # fmt: skip
    fields.update(changes)
    return Approval(**fields)


class Harness:
    """SharedState for real, Recorders for the broadcaster and the roles the broker informs."""

    def __init__(self, system: ActorSystem, settings: Settings) -> None:
        self.system = system
        self.settings = settings
        self.directory: dict[str, Any] = {
            role: system.createActor(Recorder)
            for role in ("broadcaster", "strategy.Confluence", "critic")
        }
        self.directory["risk"] = system.createActor(RiskStandIn)
        self.directory["shared_state"] = system.createActor(
            "actors.shared_state.actor.SharedStateActor")
        ask_for(system, self.directory["shared_state"],
                 Configure("shared_state", settings, os.getpid()), Started)
        self.broker: Any = None

    def start_broker(self) -> Any:
        self.broker = self.system.createActor("actors.broker.actor.MT5BrokerActor")
        self.directory["broker"] = self.broker
        ask_for(self.system, self.broker,
                 Configure("broker", self.settings, os.getpid(), peers=self.directory), Started)
        self.system.tell(self.broker, Peers(dict(self.directory)))
        self.wait(lambda s: s.connected and s.reconciled, "the broker to reconcile")
        return self.broker

    def stop_broker(self) -> None:
        self.system.tell(self.broker, ActorExitRequest())
        self.system.listen(0.05)

    def snapshot(self) -> BrokerSnapshot:
        return ask_for(self.system, self.broker, BrokerSnapshotRequest("s"), BrokerSnapshot)

    def wait(self, predicate: Callable[[BrokerSnapshot], bool], what: str) -> BrokerSnapshot:
        """Asking lets simpleSystemBase run the broker's timers (connect, polls)."""
        deadline = time.monotonic() + ASK
        while time.monotonic() < deadline:
            snapshot = self.snapshot()
            if predicate(snapshot):
                return snapshot
            self.system.listen(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    def ask(self, message: Any, expected: type = OrderReport) -> Any:
        return ask_for(self.system, self.broker, message, expected)

    def order(self, coid: str, side: str = "BUY", request_id: str = "r",
              decision_id: str = "") -> PlaceOrder:
        unapproved = PlaceOrder(request_id, coid, decision_id or f"D{coid}", "EURUSD",
                                Side(side), 0.1, 0.0, 0.0)
        return dataclasses.replace(unapproved, approval=approval_for(unapproved))

    def place(self, coid: str, side: str = "BUY", request_id: str = "r",
              decision_id: str = "") -> OrderReport:
        """An approved order, sent by the RiskManager; its (next) report."""
        return self.from_risk(self.order(coid, side, request_id, decision_id))

    def reports_to_risk(self, request_id: str) -> list[OrderReport]:
        return [m for m in self.of_type("risk", OrderReport) if m.request_id == request_id]

    def from_risk(self, message: Any) -> OrderReport:
        """Send ``message`` to the broker from the RiskManager; the report it gets next."""
        before = len(self.reports_to_risk(message.request_id))
        self.system.tell(self.directory["risk"], Forward(self.broker, message))
        return self.next_report(message.request_id, before)

    def next_report(self, request_id: str, seen: int) -> OrderReport:
        reports = self.until(lambda: self.reports_to_risk(request_id)[seen:],
                             f"a report of {request_id}")
        return reports[0]

    def received(self, role: str) -> list[Any]:
        return self.system.ask(self.directory[role], "dump", ASK)

    def of_type(self, role: str, kind: type) -> list[Any]:
        return [m for m in self.received(role) if isinstance(m, kind)]

    def events(self, kind: str) -> list[Any]:
        return [e for m in self.of_type("broadcaster", Publish) for e in m.events
                if kind == e.TYPE]

    def state(self, message: Any) -> StateReply:
        return ask_for(self.system, self.directory["shared_state"], message, StateReply)

    def books(self, coid: str) -> dict[str, int]:
        return terminal_books(self.settings.data_path, coid)

    def until(self, condition: Callable[[], Any], what: str) -> Any:
        deadline = time.monotonic() + ASK
        while time.monotonic() < deadline:
            self.snapshot()  # lets the broker poll
            result = condition()
            if result:
                return result
        raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def harness(system: ActorSystem, tmp_path: Path) -> Iterator[Harness]:
    started = Harness(system, _settings(tmp_path))
    yield started
    if started.broker is not None:
        started.stop_broker()


def test_an_order_is_recorded_before_it_is_sent_and_a_retry_is_answered_from_the_record(
    harness: Harness,
) -> None:
    harness.start_broker()
    first = harness.place("E1", request_id="r1")
    assert first.status == "done" and first.ticket and first.price > 0
    record = harness.state(StateGet(request_id="g", key=intent_key("E1"))).value
    assert (record["status"], record["ticket"], record["decision_id"]) == ("done", first.ticket,
                                                                          "DE1")
    retry = harness.place("E1", request_id="r2")
    assert (retry.request_id, retry.status, retry.ticket) == ("r2", "done", first.ticket)
    assert harness.books("E1") == {"entries": 1, "exits": 0, "positions": 1}
    ready = harness.of_type("strategy.Confluence", BrokerReady)
    assert ready and (ready[-1].connected, ready[-1].reconciled) == (True, True)
    profile = ready[-1].profile
    assert profile is not None and (profile.kind, profile.server, profile.account) == (
        "sim", harness.settings.sim.server, harness.settings.sim.login)
    assert profile.server_utc_offset_s == 2 * 3600 and profile.fault_switches
    status = harness.events("BROKER_STATUS")[-1]
    assert (status.state, status.kind, status.connected, status.server_utc_offset_s) == (
        "connected", "sim", True, 2 * 3600)
    assert harness.snapshot().profile == profile


def test_a_close_reports_the_trade_once_everywhere_and_a_retry_sends_nothing(
    harness: Harness,
) -> None:
    harness.start_broker()
    opened = harness.place("E2", decision_id="DEC2")
    harness.until(lambda: harness.events("POSITION_UPDATE")
                  and harness.events("POSITION_UPDATE")[-1].positions, "POSITION_UPDATE")
    close = ClosePosition("c1", "op-close-2", opened.ticket, None, "take profit now")
    closed = harness.ask(close)
    assert closed.status == "done" and closed.ticket == opened.ticket
    trades = harness.until(lambda: harness.of_type("critic", TradeClosed), "TradeClosed")
    (trade,) = trades
    assert (trade.ticket, trade.decision_id, trade.client_order_id) == (opened.ticket, "DEC2",
                                                                        "E2")
    assert trade.exit_reason == "take profit now" and trade.direction == "BUY"
    assert harness.of_type("risk", TradeClosed) == harness.of_type("strategy.Confluence",
                                                                   TradeClosed)
    assert [e.ticket for e in harness.events("POSITION_CLOSED")] == [opened.ticket]
    journal = harness.state(JournalQuery(request_id="j", kind="trade", key="EURUSD"))
    assert [entry["record"]["ticket"] for entry in journal.value] == [opened.ticket]
    assert journal.value[0]["decision_id"] == "DEC2"
    dealt = {d.ticket for m in harness.of_type("risk", DealsObserved) for d in m.deals}
    assert len(dealt) == 2  # the entry and the exit, each once
    again = harness.ask(ClosePosition("c2", "op-close-2", opened.ticket, None, "retry"))
    other = harness.ask(ClosePosition("c3", "op-close-3", opened.ticket, None, "second"))
    assert (again.status, again.request_id) == ("done", "c2")
    assert (other.status, other.reason) == ("done", "already_closed")
    assert harness.books(closed.client_order_id) == {"entries": 0, "exits": 1, "positions": 0}
    harness.snapshot()
    assert len(harness.of_type("critic", TradeClosed)) == 1
    assert harness.events("POSITION_UPDATE")[-1].positions == ()


def test_an_unknown_outcome_is_resolved_from_the_books_and_reported_again(
    system: ActorSystem, tmp_path: Path,
) -> None:
    # Resolution rounds 1 s apart: E4 is decided (after its look-up) while E3 is unresolved.
    harness = Harness(system, _settings(tmp_path, "broker.poll_interval_s=5"))
    harness.start_broker()
    faults = harness.ask(SetSimFaults("f", {"timeout_after_execution": True}), SimFaultsReply)
    assert faults.status == 200 and faults.faults["timeout_after_execution"]
    first = harness.place("E3", request_id="r3")
    assert first.status == "unknown"
    refused = harness.place("E4")
    assert (refused.status, refused.reason) == ("refused", "unresolved_order")
    # The final report arrives on its own, under the same request id.
    final = harness.next_report("r3", 1)
    assert (final.request_id, final.status, final.reason) == ("r3", "done", "done")
    assert final.ticket and harness.books("E3") == {"entries": 1, "exits": 0, "positions": 1}
    assert harness.books("E4")["entries"] == 0
    harness.stop_broker()


def test_a_restarted_broker_resolves_what_it_left_and_adopts_its_positions(
    harness: Harness,
) -> None:
    # Crash leftovers: two intents recorded as "sending". One reached the terminal (the
    # process died before it heard back); the other never did.
    settings = harness.settings
    gateway = open_gateway("sim", sim_config=settings.sim, data_dir=settings.data_path,
                           clock=ManualClock(WEDNESDAY_UTC))
    sent = gateway.place_order(OrderIntent("EURUSD", Side.SELL, 0.2, "SENT1", MAGIC))
    gateway.close()
    assert sent.ok
    for coid in ("SENT1", "LOST1"):
        intent = Intent(coid, "open", IntentStatus.SENDING, "EURUSD", "SELL", 0.2, "old",
                        time.time(), market_time=WEDNESDAY_UTC, decision_id=f"D-{coid}")
        assert harness.state(StateSet(request_id=coid, key=intent_key(coid),
                                      value=intent.to_record())).ok
    harness.start_broker()
    intents = harness.state(StateGetAll(request_id="all", prefix="broker.intent.")).value
    assert intents[intent_key("SENT1")]["status"] == "done"
    assert intents[intent_key("SENT1")]["ticket"] == sent.order
    assert (intents[intent_key("LOST1")]["status"],
            intents[intent_key("LOST1")]["reason"]) == ("rejected", "not_executed")
    snapshot = harness.snapshot()
    assert [p.ticket for p in snapshot.positions] == [sent.order]
    retried = harness.place("SENT1", side="SELL")
    lost = harness.place("LOST1", side="SELL")
    assert (retried.status, retried.ticket) == ("done", sent.order)
    assert (lost.status, lost.reason) == ("rejected", "not_executed")
    assert harness.books("SENT1")["entries"] == 1 and harness.books("LOST1")["entries"] == 0
    # After another restart the trade still carries its decision.
    harness.stop_broker()
    harness.start_broker()
    harness.ask(ClosePosition("c", "close-sent1", sent.order, None, "done with it"))
    (trade,) = harness.until(lambda: harness.of_type("critic", TradeClosed), "TradeClosed")
    assert (trade.decision_id, trade.direction, trade.volume) == ("D-SENT1", "SELL", 0.2)


def test_orders_are_refused_while_halted_or_disconnected_and_flow_again_after(
    harness: Harness,
) -> None:
    harness.start_broker()
    opened = harness.place("E5")
    harness.system.tell(harness.broker, TradingGate("HALTED", False, "daily loss"))
    halted = harness.place("E6")
    assert (halted.status, halted.reason) == ("refused", "trading_halted")
    harness.system.tell(harness.broker, TradingGate("ACTIVE", True, "kill switch"))
    assert harness.place("E6").reason == "kill_switch"
    harness.system.tell(harness.broker, TradingGate("ACTIVE", False, ""))
    harness.ask(SetSimFaults("f", {"disconnect": True}), SimFaultsReply)
    harness.wait(lambda s: not s.connected, "the broker to notice the disconnection")
    status = harness.events("BROKER_STATUS")[-1]
    assert status.state == "disconnected" and "-10004" in status.detail
    assert harness.place("E6").reason == "disconnected"
    last_ready = harness.of_type("strategy.Confluence", BrokerReady)[-1]
    assert (last_ready.connected, last_ready.reconciled) == (False, False)
    harness.ask(SetSimFaults("f", {"disconnect": False}), SimFaultsReply)
    harness.wait(lambda s: s.connected and s.reconciled, "the broker to reconnect")
    assert harness.place("E6").status == "done"
    assert harness.events("BROKER_STATUS")[-1].state == "connected"
    assert [harness.books(c)["entries"] for c in ("E5", "E6")] == [1, 1]
    assert opened.status == "done"


def test_algo_trading_off_degrades_the_broker_and_refuses_orders(harness: Harness) -> None:
    harness.start_broker()
    harness.ask(SetSimFaults("f", {"algo_trading_off": True}), SimFaultsReply)
    harness.until(lambda: harness.events("BROKER_STATUS")[-1].state == "degraded", "degraded")
    assert "algo trading" in harness.events("BROKER_STATUS")[-1].detail
    assert harness.place("E7").reason == "terminal_not_trading"
    harness.ask(SetSimFaults("f", {"algo_trading_off": False}), SimFaultsReply)
    harness.until(lambda: harness.events("BROKER_STATUS")[-1].state == "connected", "recovery")
    assert harness.place("E7").status == "done"


def test_a_bad_fault_switch_is_refused_by_name(harness: Harness) -> None:
    harness.start_broker()
    reply = harness.ask(SetSimFaults("f", {"disconect": True}), SimFaultsReply)
    assert reply.status == 400 and "'disconect'" in reply.detail


def test_market_data_for_the_whole_universe_in_one_reply(harness: Harness) -> None:
    harness.start_broker()
    data = harness.ask(MarketDataRequest("m", (), ("M5", "H1"), 30), MarketData)
    assert set(data.bars) == set(harness.settings.sim.symbols) and data.errors == {}
    assert all(len(bars["M5"]) == 30 and len(bars["H1"]) == 30 for bars in data.bars.values())
    assert abs(data.server_time - WEDNESDAY_UTC) < 60  # market time, UTC
    # With the broker's measured offset, the newest bar is the last closed one, in UTC.
    assert data.server_utc_offset_s == 2 * 3600
    newest_open_utc = float(data.bars["EURUSD"]["M5"]["time"][-1]) - data.server_utc_offset_s
    assert data.server_time - 600 < newest_open_utc + 300 <= data.server_time


def test_an_opening_order_needs_the_risk_managers_valid_approval(harness: Harness) -> None:
    harness.start_broker()
    order = harness.order("E8", request_id="r8")
    # Not from the RiskManager (here: from the test, as a strategy's bug would send it).
    direct = harness.ask(order)
    refused = {"NOT_FROM_RISK": direct}
    for code, message in (
        ("NOT_APPROVED", dataclasses.replace(order, approval=None)),
        ("APPROVAL_MISMATCH", dataclasses.replace(order, volume=0.2)),
        ("APPROVAL_MISMATCH", dataclasses.replace(order, side=Side.SELL)),
        ("APPROVAL_MISMATCH", dataclasses.replace(order, symbol="GBPUSD")),
        ("APPROVAL_MISMATCH", dataclasses.replace(
            order, approval=approval_for(order, client_order_id="E9"))),
        ("APPROVAL_EXPIRED", dataclasses.replace(
            order, approval=approval_for(order, expires_at=time.time() - 1))),
    ):
        report = harness.from_risk(message)
        assert (report.status, report.reason) == ("rejected", code), message
        refused[code] = report
    assert direct.status == "rejected" and set(refused) == {
        "NOT_FROM_RISK", "NOT_APPROVED", "APPROVAL_MISMATCH", "APPROVAL_EXPIRED"}
    # Nothing reached the terminal and nothing was recorded.
    assert harness.books("E8") == {"entries": 0, "exits": 0, "positions": 0}
    assert not harness.state(StateGet(request_id="g", key=intent_key("E8"))).found
    # The same order with its approval, a smaller volume than approved, goes out once.
    smaller = dataclasses.replace(order, volume=0.05, request_id="r8b")
    accepted = harness.from_risk(smaller)
    assert accepted.status == "done" and accepted.volume == 0.05
    assert harness.books("E8") == {"entries": 1, "exits": 0, "positions": 1}


def test_a_halted_risk_manager_still_lets_a_close_through(harness: Harness) -> None:
    harness.start_broker()
    opened = harness.place("E10")
    harness.system.tell(harness.broker, TradingGate("HALTED", True, "daily loss limit"))
    assert harness.place("E11").reason == "kill_switch"
    closed = harness.from_risk(ClosePosition("c10", "op-close-10", opened.ticket, None,
                                             "close all"))
    assert (closed.status, closed.ticket) == ("done", opened.ticket)
    assert harness.books(closed.client_order_id) == {"entries": 0, "exits": 1, "positions": 0}


def test_the_broker_measures_its_servers_clock(system: ActorSystem, tmp_path: Path) -> None:
    harness = Harness(system, _settings(tmp_path, "sim.server_time='+03:00'"))
    harness.start_broker()
    try:
        profile = harness.snapshot().profile
        assert profile is not None and profile.server_utc_offset_s == 3 * 3600
        assert harness.events("BROKER_STATUS")[-1].server_utc_offset_s == 3 * 3600
        saved = harness.state(StateGet(request_id="o", key="broker.server_utc_offset")).value
        assert saved["offset_s"] == 3 * 3600
        # When it took effect, for deals from before a switch: from the first measurement.
        assert [entry[2] for entry in saved["history"]] == [3 * 3600]
        assert profile.server_offset_history == tuple(map(tuple, saved["history"]))
    finally:
        harness.stop_broker()


def _trades_of(harness: Harness, ticket: int) -> dict[str, list[TradeClosed]]:
    return {role: [t for t in harness.of_type(role, TradeClosed) if t.ticket == ticket]
            for role in ("critic", "risk", "strategy.Confluence")}


def test_a_position_never_seen_open_is_reported_once_from_its_deals(harness: Harness) -> None:
    harness.start_broker()
    harness.place("E20")  # the broker has read deals: its cursor is saved
    harness.until(lambda: harness.state(StateGet(request_id="c", key=CURSOR_KEY)).found,
                  "the deal cursor")
    harness.stop_broker()
    # While it is away, a position of ours opens and closes: no poll ever sees it open.
    settings = harness.settings
    resumed = MarketTimeFile(settings.data_path / MARKET_TIME_FILE).load()
    assert resumed is not None
    gateway = open_gateway("sim", sim_config=settings.sim, data_dir=settings.data_path,
                           clock=ManualClock(resumed + 5))
    opened = gateway.place_order(OrderIntent("EURUSD", Side.BUY, 0.3, "AWAY1", MAGIC,
                                             sl=1.0, tp=2.0))
    assert opened.ok
    assert gateway.close_position(opened.order, client_order_id="AWAY1x", magic=MAGIC).ok
    gateway.close()
    harness.start_broker()
    trades = harness.until(lambda: _trades_of(harness, opened.order)["critic"], "TradeClosed")
    (trade,) = trades
    assert (trade.symbol, trade.direction, trade.volume, trade.client_order_id) == (
        "EURUSD", "BUY", 0.3, "AWAY1")
    assert trade.realised == trade.profit and trade.planned_risk > 0
    assert trade.loss_beyond_stop == 0.0  # it closed long before its stop
    journal = harness.state(JournalQuery(request_id="j", kind="trade", key="EURUSD")).value
    assert [e["record"]["ticket"] for e in journal].count(opened.order) == 1
    dealt = [d.ticket for m in harness.of_type("risk", DealsObserved) for d in m.deals
             if d.position_id == opened.order]
    assert len(dealt) == 2 and len(set(dealt)) == 2  # entry and exit, each once
    # Another restart reports nothing again.
    harness.stop_broker()
    harness.start_broker()
    harness.place("E21")
    harness.snapshot()
    assert {role: len(found) for role, found in _trades_of(harness, opened.order).items()} == {
        "critic": 1, "risk": 1, "strategy.Confluence": 1}


def test_a_take_profit_hit_between_polls_is_reported_once(system: ActorSystem,
                                                          tmp_path: Path) -> None:
    harness = Harness(system, _settings(tmp_path, "sim.speed=60"))
    harness.start_broker()
    try:
        refusals = []
        for attempt in range(10):  # at 60x the price may pass the target before the order lands
            data = harness.ask(MarketDataRequest("m", ("EURUSD",), ("M1",), 5), MarketData)
            tick, spec = data.ticks["EURUSD"], data.specs["EURUSD"]
            tp = round(tick.bid + (spec.trade_stops_level + 1) * spec.point, spec.digits)
            opened = harness.from_risk(dataclasses.replace(harness.order(f"E3{attempt}"), tp=tp))
            if opened.status == "done":
                break
            assert opened.reason in ("invalid_stops", "STOPS_TOO_CLOSE"), opened  # not filled
            refusals.append(opened)
        assert opened.status == "done", refusals
        (trade,) = harness.until(lambda: _trades_of(harness, opened.ticket)["critic"],
                                 "the take profit")
        assert trade.exit_reason == "TP" and trade.realised == trade.profit
        harness.snapshot()
        assert {role: len(found) for role, found in _trades_of(harness, opened.ticket).items()
                } == {"critic": 1, "risk": 1, "strategy.Confluence": 1}
        closed = [e for e in harness.events("POSITION_CLOSED") if e.ticket == opened.ticket]
        assert len(closed) == 1
    finally:
        harness.stop_broker()


def test_a_rewritten_comment_is_resolved_by_the_orders_shape_and_never_resent(
    system: ActorSystem, tmp_path: Path,
) -> None:
    harness = Harness(system, _settings(tmp_path, "sim.comment_rewrite='replace'"))
    harness.start_broker()
    try:
        faults = harness.ask(SetSimFaults("f", {"timeout_after_execution": True}),
                             SimFaultsReply)
        assert faults.status == 200
        first = harness.place("E40", request_id="r40", decision_id="DEC40")
        assert first.status == "unknown"
        final = harness.next_report("r40", 1)
        assert (final.status, final.reason) == ("done", "done") and final.ticket
        harness.ask(SetSimFaults("f", {"timeout_after_execution": False}), SimFaultsReply)
        (position,) = harness.wait(lambda s: len(s.positions) == 1, "the position").positions
        assert position.ticket == final.ticket and position.comment != "E40"  # rewritten
        retry = harness.place("E40", request_id="r41")
        assert (retry.status, retry.ticket) == ("done", final.ticket)
        assert len(harness.snapshot().positions) == 1  # not sent again
        def named() -> bool:
            updates = harness.events("POSITION_UPDATE")
            rows = updates[-1].positions if updates else ()
            return bool(rows) and (rows[0].client_order_id, rows[0].decision_id) == (
                "E40", "DEC40")

        harness.until(named, "the position shown under its order's ids")
        harness.from_risk(ClosePosition("c40", "op-close-40", final.ticket, None, "done"))
        (trade,) = harness.until(lambda: _trades_of(harness, final.ticket)["critic"],
                                 "TradeClosed")
        assert (trade.client_order_id, trade.decision_id) == ("E40", "DEC40")
    finally:
        harness.stop_broker()


def test_a_wrong_password_stops_connecting_until_the_operator_says_so(
    system: ActorSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_ACCOUNT_PASSWORD", "right horse battery")
    monkeypatch.setenv("ENSEMBLE_MT5_PASSWORD", "wrong")
    harness = Harness(system, _settings(tmp_path, "sim.password_env='SIM_ACCOUNT_PASSWORD'"))
    harness.broker = harness.system.createActor("actors.broker.actor.MT5BrokerActor")
    harness.directory["broker"] = harness.broker
    ask_for(system, harness.broker, Configure("broker", harness.settings, os.getpid(),
                                              peers=harness.directory), Started)
    system.tell(harness.broker, Peers(dict(harness.directory)))
    try:
        status = harness.until(lambda: [e for e in harness.events("BROKER_STATUS")
                                        if e.state == "auth_failed"], "auth_failed")[0]
        assert "Authorization failed" in status.detail and "-6" in status.detail
        assert "$ENSEMBLE_MT5_PASSWORD" in status.detail and "reconnect" in status.detail
        assert harness.place("E50").reason == "disconnected"  # no new entries
        # Well past the reconnect backoff (0.05..0.2 s): no attempt was made again.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            harness.snapshot()
        assert [e.state for e in harness.events("BROKER_STATUS")] == ["auth_failed"]
        monkeypatch.setenv("ENSEMBLE_MT5_PASSWORD", "right horse battery")
        reply = harness.ask(ReconnectBroker("again"), BrokerSnapshot)
        assert reply.connected
        harness.wait(lambda s: s.reconciled, "the broker to reconcile")
        assert harness.place("E50").status == "done"
    finally:
        harness.stop_broker()


def test_a_hung_terminal_crashes_the_broker_after_answering_what_waits(
    system: ActorSystem, tmp_path: Path,
) -> None:
    harness = Harness(system, _settings(tmp_path, "broker.call_timeout_s=0.3",
                                        "broker.order_timeout_s=0.3",
                                        "broker.poll_interval_s=30"))
    harness.start_broker()
    try:
        assert harness.ask(SetSimFaults("f", {"call_delay_s": 1.5}), SimFaultsReply).status == 200
        system.tell(harness.directory["risk"], Forward(harness.broker, harness.order("E60",
                                                                        request_id="r60")))
        crashed = ask_for(system, harness.broker, BrokerSnapshotRequest("s"), ChildCrashed)
        assert crashed.name == "broker" and "GatewayWedged" in crashed.reason
        # The hung call was the order's first read: nothing reached order_send.
        (report,) = harness.reports_to_risk("r60")
        assert (report.status, report.reason) == ("refused", "unavailable")
        record = harness.state(StateGet(request_id="g", key=intent_key("E60"))).value
        assert (record["status"], record["reason"]) == ("rejected", "gateway_busy")
        assert harness.books("E60")["entries"] == 0
    finally:
        harness.broker = None


def test_a_starting_broker_loads_only_live_records_and_answers_an_old_order_from_its_record(
    system: ActorSystem, tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    store = KeyValueStore(settings.data_path / "state.db")
    try:
        for n in range(3000):  # a long past: resolved orders and reported trades
            store.set(intent_key(f"E{n}"), Intent(
                f"E{n}", "open", IntentStatus.DONE if n % 2 else IntentStatus.REJECTED,
                "EURUSD", "BUY", 0.1, f"r{n}", 1.0, decision_id=f"D{n}",
                ticket=50_000 + n if n % 2 else None).to_record())
            store.set(f"broker.reported.{50_000 + n}", {"at": "2020-01-01T00:00:00Z"})
        store._db.execute("UPDATE kv SET updated_at = '2020-01-01T00:00:00.000000Z'")
        store.set(intent_key("ERECENT"), Intent(
            "ERECENT", "open", IntentStatus.REJECTED, "EURUSD", "BUY", 0.1, "r", time.time(),
            reason="no_money").to_record())
    finally:
        store.close()
    harness = Harness(system, settings)
    with structlog.testing.capture_logs() as logs:
        harness.start_broker()
    try:
        (loaded,) = [e for e in logs if e["event"] == "broker records loaded"]
        assert (loaded["intents"], loaded["tracked"], loaded["unresolved"]) == (1, 0, 0)
        # An old order asked about again is read back and answered from its record.
        retried = harness.place("E7", request_id="again")
        assert (retried.status, retried.ticket) == ("done", 50_007)
        refused = harness.place("E8", request_id="again-8")
        assert refused.status == "rejected"
        assert harness.books("E7")["entries"] == 0 and harness.books("E8")["entries"] == 0
        fresh = harness.place("EFRESH")
        assert fresh.status == "done" and harness.books("EFRESH")["entries"] == 1
    finally:
        harness.stop_broker()


def test_a_close_all_retried_after_its_records_left_memory_is_answered_from_them(
    system: ActorSystem, tmp_path: Path,
) -> None:
    """A close-all's per-position closes are looked up in SharedState like any other order:
    one whose record is older than the hour the broker keeps, of a position it does not
    track (adopted again at start), is answered from that record and not sent again."""
    settings = _settings(tmp_path)
    harness = Harness(system, settings)
    harness.start_broker()
    opened = harness.place("E1")
    assert opened.status == "done" and opened.ticket
    harness.stop_broker()
    coid = close_all_order_id("op-close-all", opened.ticket)
    store = KeyValueStore(settings.data_path / "state.db")
    try:  # the first close-all, long ago: its close of this position was rejected
        store.set(intent_key(coid), Intent(
            coid, "close", IntentStatus.REJECTED, "EURUSD", "SELL", None, "first", 1.0,
            ticket=opened.ticket, op_id="op-close-all", purpose="flatten",
            reason="market_closed").to_record())
        store.delete(f"{POSITION_PREFIX}{opened.ticket}")
        store._db.execute("UPDATE kv SET updated_at = '2020-01-01T00:00:00.000000Z' "
                          "WHERE key = ?", (intent_key(coid),))
    finally:
        store.close()
    with structlog.testing.capture_logs() as logs:
        harness.start_broker()
    try:
        (loaded,) = [e for e in logs if e["event"] == "broker records loaded"]
        assert loaded["tracked"] == 0  # the position is adopted after the records are read
        retried = harness.from_risk(CloseAll("late", "op-close-all", "flatten"))
        assert (retried.status, retried.reason) == ("rejected", f"{opened.ticket}: market_closed")
        assert harness.books(coid)["entries"] == 0
        assert harness.books("E1")["positions"] == 1  # still open: nothing was sent
    finally:
        harness.stop_broker()
