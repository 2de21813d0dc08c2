"""A probe actor that plays the Strategy inside a running daemon, for the order-latency bench.

It reads the market from the MT5Broker (tick, spec and M1 bars, as a scan does), builds the
RiskManager's inputs with the Strategy's own functions, and times each
:class:`~messages.trading.SubmitOrder` until the final :class:`~messages.trading.OrderReport`
comes back through the RiskManager. Each position is then closed (not timed), so every
decision starts from the same empty book. It lives in a module of its own because its messages
must be importable by the daemon's processes (not defined in a bench's ``__main__``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from actors.runtime.base import EnsembleActor, handles
from actors.strategy.market_inputs import order_input, pre_scan_input
from bench.order_client import ProbeResult
from messages.market import Bars, Side
from messages.trading import (
    BrokerSnapshot,
    BrokerSnapshotRequest,
    ClosePosition,
    MarketData,
    MarketDataRequest,
    OrderApproval,
    OrderReport,
    SubmitOrder,
)

__all__ = ["DECISION_PROBE", "DecisionProbe", "DecisionRun"]

DECISION_PROBE = "bench.decision_probe.DecisionProbe"
SYMBOL = "EURUSD"
STOP_POINTS, TARGET_POINTS = 200, 400  # 20 and 40 pips: clear of stops levels and cost gates
# The previous decision's position was just closed, but the RiskManager counts it as open until
# the broker's next deal poll shows its closing deal: a decision denied for holding it is
# decided again (fresh market data) until then, and counted as failed past this long.
SETTLE_S = 10.0
SETTLE_RETRY_S = 0.05
WAIT_FOR_SETTLING = frozenset({"CORRELATED_POSITION", "MAX_POSITIONS", "CURRENCY_EXPOSURE"})


@dataclass(frozen=True, slots=True)
class DecisionRun:
    count: int
    broker: Any
    risk: Any
    symbol: str = SYMBOL


@dataclass(frozen=True, slots=True)
class _DecideAgain:
    pass


@dataclass(slots=True)
class _Running:
    run: DecisionRun
    requester: Any
    started: float = field(default_factory=time.perf_counter)
    account: Any = None
    request_id: str = ""
    decided_at: float = 0.0
    closed_at: float = 0.0
    samples: list[float] = field(default_factory=list)
    sent_legs: list[float] = field(default_factory=list)  # approval sent → broker's report
    failures: list[str] = field(default_factory=list)


class DecisionProbe(EnsembleActor):
    """Decides, submits and times, one order at a time (benchmarks)."""

    role = "DecisionProbe"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._running: _Running | None = None

    @handles(DecisionRun)
    def _on_run(self, run: DecisionRun, sender: Any) -> None:
        self._running = _Running(run, sender)
        self.send(run.broker, BrokerSnapshotRequest(self._new_request()))

    def _new_request(self) -> str:
        assert self._running is not None
        self._running.request_id = uuid.uuid4().hex
        return self._running.request_id

    def _current(self, reply: Any) -> _Running | None:
        running = self._running
        if running is None or getattr(reply, "request_id", None) != running.request_id:
            return None
        return running

    def _next(self) -> None:
        running = self._running
        assert running is not None
        if len(running.samples) + len(running.failures) >= running.run.count:
            self.send(running.requester, ProbeResult(
                tuple(running.samples), tuple(running.failures),
                time.perf_counter() - running.started, tuple(running.sent_legs)))  # fmt: skip
            self._running = None
            return
        self.send(running.run.broker, MarketDataRequest(
            self._new_request(), (running.run.symbol,), ("M1",), 60))  # fmt: skip

    @handles(BrokerSnapshot)
    def _on_snapshot(self, reply: BrokerSnapshot, sender: Any) -> None:
        running = self._current(reply)
        if running is not None:
            running.account = reply.account
            self._next()

    @handles(MarketData)
    def _on_market(self, data: MarketData, sender: Any) -> None:
        running = self._current(data)
        if running is None:
            return
        symbol = running.run.symbol
        tick, spec = data.ticks.get(symbol), data.specs.get(symbol)
        if tick is None or spec is None or "M1" not in data.bars.get(symbol, {}):
            self._fail(running, f"no market for {symbol}: {data.errors}")
            return
        side = Side.BUY if len(running.samples) % 2 == 0 else Side.SELL
        entry = tick.ask if side is Side.BUY else tick.bid
        stop_loss = entry - side.sign * STOP_POINTS * spec.point
        take_profit = entry + side.sign * TARGET_POINTS * spec.point
        market = pre_scan_input(symbol, data.server_time, tick, spec, (), running.account)
        m1 = {symbol: Bars.from_rates(data.bars[symbol]["M1"], data.server_utc_offset_s)}
        order = order_input(market, side, entry, stop_loss, take_profit, m1, running.account,
                            80.0, 0.0)
        decision_id = uuid.uuid4().hex[:16]
        running.decided_at = time.perf_counter()
        self.send(running.run.risk, SubmitOrder(
            self._new_request(), decision_id, "bench", symbol, side, 80.0, entry, stop_loss,
            take_profit, order))  # fmt: skip

    @handles(OrderApproval)
    def _on_approval(self, answer: OrderApproval, sender: Any) -> None:
        running = self._current(answer)
        if running is None or answer.approved:
            return
        if (answer.code in WAIT_FOR_SETTLING
                and time.perf_counter() - running.closed_at < SETTLE_S):
            running.decided_at = 0.0
            self.after(SETTLE_RETRY_S, _DecideAgain())
            return
        self._fail(running, f"denied {answer.code}: {answer.message}")

    @handles(_DecideAgain)
    def _on_decide_again(self, message: _DecideAgain, sender: Any) -> None:
        if self._running is not None:
            self._next()

    @handles(OrderReport)
    def _on_report(self, report: OrderReport, sender: Any) -> None:
        running = self._current(report)
        if running is None or not report.final:
            return  # not ours, or "unknown" with the final report to follow
        if running.decided_at == 0.0:  # the close of the previous decision
            if report.status != "done":
                self._fail(running, f"close {report.status}: {report.reason}")
                return
            running.closed_at = time.perf_counter()
            self._next()
            return
        elapsed = time.perf_counter() - running.decided_at
        running.decided_at = 0.0
        if report.status != "done":
            self._fail(running, f"order {report.status}: {report.reason}")
            return
        running.samples.append(elapsed)
        running.sent_legs.append(report.latency_s or 0.0)
        self.send(running.run.broker, ClosePosition(
            self._new_request(), f"bench-close-{running.request_id}", report.ticket, None,
            "bench"))  # fmt: skip

    def _fail(self, running: _Running, why: str) -> None:
        running.failures.append(why)
        running.decided_at = 0.0
        self._next()
