"""The Strategy's decisions about a candidate, from the scan to its order's fate.

A candidate goes: the RiskManager's pre-scan check, research (the Researcher, or the
strategy's own confidence), then an order submitted to the RiskManager, then the broker's
report. Each step here is a pure function of what arrived that returns what to do next; the
Strategy actor (:mod:`actors.strategy.actor`) only carries it out, asks the next peer and
writes the journal.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.strategy.market_inputs import order_input
from actors.strategy.signals import ScanResult, ScanStatus
from messages.books import AccountRecord
from messages.events import OrderRejected, TradeExecution
from messages.market import Side
from messages.research import Action
from messages.risk import OrderInput, PreScanInput
from messages.trading import (
    BrokerSnapshot,
    MarketData,
    OrderReport,
    ResearchReply,
    TradingGate,
)

__all__ = [
    "DEFAULT_OWN_CONFIDENCE",
    "Blocked",
    "GiveUp",
    "OrderPlan",
    "SubmittedOrder",
    "blocked_reason",
    "mark_blocked",
    "order_outcome",
    "own_research",
    "plan_order",
]

DEFAULT_OWN_CONFIDENCE = 60.0
"""The confidence of a signal whose strategy gives the Researcher nothing to reason from."""


@dataclass(frozen=True, slots=True)
class Blocked:
    """Why no new entry may be taken this cycle."""

    code: str
    """For counting: BROKER_DISCONNECTED, BROKER_NOT_RECONCILED, KILL_SWITCH, MODE_<mode>, or
    the RiskManager's blocking codes joined by '+' (e.g. DAY_STOPPED)."""
    words: str
    """What a user reads."""


def blocked_reason(snapshot: BrokerSnapshot, gate: TradingGate) -> Blocked | None:
    """Why no new entry may be taken this cycle, or None when trading is allowed."""
    if not snapshot.connected:
        return Blocked("BROKER_DISCONNECTED", "broker disconnected")
    if not snapshot.reconciled:
        return Blocked("BROKER_NOT_RECONCILED", "broker not reconciled yet")
    if gate.kill_switch:
        return Blocked("KILL_SWITCH", f"kill switch latched ({gate.reason})")
    if gate.mode != "ACTIVE":
        return Blocked(f"MODE_{gate.mode}", f"trading {gate.mode.lower()}")
    if gate.blocked_by:
        return Blocked("+".join(gate.blocked_by),
                       f"new entries blocked ({gate.blocked or ', '.join(gate.blocked_by)})")
    return None


def mark_blocked(result: ScanResult, why: str) -> ScanResult:
    """While trading is not allowed, a candidate is shown as blocked by risk, not as a signal
    that nothing acts on."""
    if not result.is_candidate:
        return result
    return ScanResult(result.symbol, ScanStatus.RISK_BLOCK,
                      f"{ScanStatus.RISK_BLOCK.value}: {why}", facts=result.facts)


def own_research(candidate: ScanResult, decision_id: str, strategy: str) -> ResearchReply | None:
    """The research of a strategy sure of itself (its own confidence), or of one that gives
    the Researcher no facts to reason from; None when the Researcher should be asked."""
    if candidate.confidence is None and candidate.facts is not None:
        return None
    assert candidate.direction is not None
    confidence = (candidate.confidence if candidate.confidence is not None
                  else DEFAULT_OWN_CONFIDENCE)
    return ResearchReply("", decision_id, candidate.symbol, Action(candidate.direction.value),
                         confidence, f"{strategy}: {candidate.reason}", "strategy")


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """Submit this order to the RiskManager: prices from the scan's tick, and the inputs its
    rules judge."""

    side: Side
    entry: float
    stop_loss: float
    take_profit: float
    confidence: float
    order: OrderInput


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Abandon the candidate, for this reason (journaled)."""

    reason: str


def plan_order(candidate: ScanResult, research: ResearchReply, data: MarketData,
               account: AccountRecord | None, market: PreScanInput, orders_so_far: int,
               max_orders: int, commission_per_lot: float | None,
               ) -> OrderPlan | GiveUp | None:
    """What to do once research has answered: None when it does not confirm the signal's
    side, a :class:`GiveUp`, or the :class:`OrderPlan`. SL and TP are the signal's distances
    from the side's price (ask for a buy, bid for a sell); the broker re-bases them on the
    fill."""
    direction = candidate.direction
    assert direction is not None
    if research.action.direction is not direction:
        return None
    if orders_so_far >= max_orders:
        return GiveUp("max orders per cycle reached")
    tick = data.ticks.get(candidate.symbol)
    if tick is None or candidate.sl_distance is None or candidate.tp_distance is None:
        return GiveUp("no price or stop distances")
    entry = tick.ask if direction is Side.BUY else tick.bid
    stop_loss = entry - direction.sign * candidate.sl_distance
    take_profit = entry + direction.sign * candidate.tp_distance
    m1 = {symbol: bars for symbol in data.bars
          if (bars := data.bars_of(symbol, "M1")) is not None}
    order = order_input(market, direction, entry, stop_loss, take_profit, m1, account,
                        research.confidence, commission_per_lot)
    return OrderPlan(direction, entry, stop_loss, take_profit, research.confidence, order)


@dataclass(slots=True)
class SubmittedOrder:
    """An order submitted to the RiskManager, until its fate is known."""

    decision_id: str
    symbol: str
    side: Side
    volume: float = 0.0  # the approved volume, once approved
    abandoned: bool = False  # the RiskManager was late; the candidate was given up


def order_outcome(order: SubmittedOrder, report: OrderReport, timestamp: str, strategy: str,
                  ) -> TradeExecution | OrderRejected:
    """The event a final report makes: the execution, or why the order did not fill."""
    latency_ms = None if report.latency_s is None else round(report.latency_s * 1000.0, 3)
    if report.status == "done":
        return TradeExecution(
            timestamp=timestamp, symbol=order.symbol, direction=order.side.value,
            price=report.price, lot=report.volume or order.volume, ticket=report.ticket,
            decision_id=order.decision_id, strategy=strategy, latency_ms=latency_ms)
    return OrderRejected(
        timestamp=timestamp, symbol=order.symbol, direction=order.side.value,
        code=report.status.upper(), reason=report.reason, retcode=report.retcode,
        decision_id=order.decision_id, strategy=strategy, latency_ms=latency_ms)

