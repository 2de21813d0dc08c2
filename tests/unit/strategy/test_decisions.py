"""The Strategy's decisions about a candidate, without an actor: when to block, whose
research counts, the order it submits, and what a report becomes."""

from __future__ import annotations

import pytest

from actors.strategy.decisions import (
    DEFAULT_OWN_CONFIDENCE,
    GiveUp,
    OrderPlan,
    SubmittedOrder,
    blocked_reason,
    mark_blocked,
    order_outcome,
    own_research,
    plan_order,
)
from actors.strategy.signals import ScanResult, ScanStatus
from messages.events import OrderRejected, TradeExecution
from messages.market import Side, TickRecord
from messages.research import Action
from messages.risk import PreScanInput
from messages.trading import BrokerSnapshot, MarketData, OrderReport, ResearchReply, TradingGate

ACTIVE = TradingGate("ACTIVE", False, "")
TICK = TickRecord(0, bid=1.10000, ask=1.10020, last=0.0, volume=0, time_msc=0, flags=0,
                  volume_real=0.0)
MARKET = PreScanInput("EURUSD", 0.0, TICK.bid, TICK.ask, None, (), 0.0, False)


def snapshot(connected: bool = True, reconciled: bool = True) -> BrokerSnapshot:
    return BrokerSnapshot("r", connected, reconciled, 0.0, None, (), ())


def candidate(side: Side = Side.BUY, confidence: float | None = None,
              sl: float | None = 0.0010, tp: float | None = 0.0020) -> ScanResult:
    return ScanResult("EURUSD", ScanStatus.CANDIDATE, f"CANDIDATE {side.value}: cross",
                      direction=side, score=1.0, sl_distance=sl, tp_distance=tp,
                      confidence=confidence)


def research(action: str, confidence: float = 70.0) -> ResearchReply:
    return ResearchReply("r", "d1", "EURUSD", Action(action), confidence, "because", "rules")


def data() -> MarketData:
    return MarketData("r", 0.0, {"EURUSD": TICK}, {}, {})


@pytest.mark.parametrize(("broker", "gate", "expected"), [
    (snapshot(), ACTIVE, None),
    (snapshot(connected=False), ACTIVE, ("BROKER_DISCONNECTED", "broker disconnected")),
    (snapshot(reconciled=False), ACTIVE,
     ("BROKER_NOT_RECONCILED", "broker not reconciled yet")),
    (snapshot(), TradingGate("ACTIVE", True, "5 losses"),
     ("KILL_SWITCH", "kill switch latched (5 losses)")),
    (snapshot(), TradingGate("PAUSED", False, "operator"), ("MODE_PAUSED", "trading paused")),
    (snapshot(), TradingGate("ACTIVE", False, "", ("DAILY_LOSS",), "daily loss limit"),
     ("DAILY_LOSS", "new entries blocked (daily loss limit)")),
    (snapshot(), TradingGate("ACTIVE", False, "", ("DAY_STOPPED", "DAILY_TRADE_LIMIT")),
     ("DAY_STOPPED+DAILY_TRADE_LIMIT",
      "new entries blocked (DAY_STOPPED, DAILY_TRADE_LIMIT)")),
])
def test_new_entries_are_blocked_with_the_reason_a_user_reads(
        broker: BrokerSnapshot, gate: TradingGate, expected: tuple[str, str] | None) -> None:
    blocked = blocked_reason(broker, gate)
    assert (None if blocked is None else (blocked.code, blocked.words)) == expected


def test_a_blocked_candidate_is_shown_as_risk_block_and_other_results_are_left_alone() -> None:
    blocked = mark_blocked(candidate(), "trading paused")
    assert (blocked.status, blocked.reason) == (ScanStatus.RISK_BLOCK,
                                                "RISK BLOCK: trading paused")
    quiet = ScanResult("GBPUSD", ScanStatus.NO_SETUP, "NO SETUP: flat")
    assert mark_blocked(quiet, "trading paused") is quiet


def test_a_strategy_s_own_confidence_is_its_research() -> None:
    reply = own_research(candidate(confidence=82.0), "d1", "SmaCross")
    assert reply is not None
    assert (reply.action, reply.confidence, reply.source) == ("BUY", 82.0, "strategy")
    assert reply.reason == "SmaCross: CANDIDATE BUY: cross"
    plain = own_research(candidate(), "d1", "SmaCross")  # no facts to reason from either
    assert plain is not None and plain.confidence == DEFAULT_OWN_CONFIDENCE


def test_research_that_does_not_confirm_the_side_places_nothing() -> None:
    assert plan_order(candidate(Side.BUY), research("SELL"), data(), None, MARKET, 0, 1,
                      None) is None
    assert plan_order(candidate(Side.BUY), research("HOLD"), data(), None, MARKET, 0, 1,
                      None) is None


def test_a_buy_is_priced_at_the_ask_and_a_sell_at_the_bid_with_the_signal_s_distances() -> None:
    buy = plan_order(candidate(Side.BUY), research("BUY", 75.0), data(), None, MARKET, 0, 1,
                     2.5)
    assert isinstance(buy, OrderPlan)
    assert (buy.side, buy.entry) == (Side.BUY, TICK.ask)
    assert buy.stop_loss == pytest.approx(TICK.ask - 0.0010)
    assert buy.take_profit == pytest.approx(TICK.ask + 0.0020)
    assert buy.order.confidence == 75.0 and buy.order.commission_per_lot == 2.5
    sell = plan_order(candidate(Side.SELL), research("SELL"), data(), None, MARKET, 0, 1, None)
    assert isinstance(sell, OrderPlan)
    assert sell.entry == TICK.bid
    assert sell.stop_loss == pytest.approx(TICK.bid + 0.0010)
    assert sell.take_profit == pytest.approx(TICK.bid - 0.0020)
    assert sell.order.commission_per_lot is None  # unknown: the RiskManager's cost rule denies


def test_a_candidate_is_given_up_past_the_cycle_s_orders_or_without_a_price() -> None:
    assert plan_order(candidate(), research("BUY"), data(), None, MARKET, 1, 1,
                      None) == GiveUp("max orders per cycle reached")
    no_tick = MarketData("r", 0.0, {}, {}, {})
    assert plan_order(candidate(), research("BUY"), no_tick, None, MARKET, 0, 1,
                      None) == GiveUp("no price or stop distances")
    assert plan_order(candidate(sl=None), research("BUY"), data(), None, MARKET, 0, 1,
                      None) == GiveUp("no price or stop distances")


def test_a_fill_becomes_an_execution_with_the_filled_volume_and_a_refusal_a_rejection() -> None:
    order = SubmittedOrder("d1", "EURUSD", Side.SELL, volume=0.3)
    done = order_outcome(order, OrderReport("r", "done", "", ticket=7, price=1.1, volume=0.2),
                         "2026-12-02T10:00:00Z", "SmaCross")
    assert isinstance(done, TradeExecution)
    assert (done.direction, done.lot, done.ticket, done.strategy) == ("SELL", 0.2, 7,
                                                                     "SmaCross")
    unsized = order_outcome(order, OrderReport("r", "done", "", ticket=8, price=1.1),
                            "t", "SmaCross")
    assert unsized.lot == 0.3  # the report without a volume: the approved one
    refused = order_outcome(order, OrderReport("r", "rejected", "no money", retcode=10019),
                            "t", "SmaCross")
    assert isinstance(refused, OrderRejected)
    assert (refused.code, refused.reason, refused.retcode) == ("REJECTED", "no money", 10019)
