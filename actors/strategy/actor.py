"""The Strategy actor: runs one strategy (:mod:`actors.strategy.api`) on a scan loop.

Each cycle, woken by a timer: ask the broker for its state and for the market (ticks and closed
bars of the strategy's symbols, one request each), manage the strategy's open positions (one
rule per position: early cut, break-even with a partial close, trailing stop), ask the strategy
about every symbol, emit SCAN_START and SCAN_SUMMARY with a reason for every symbol, and, when
trading is allowed, take the best signals through the RiskManager's pre-scan check, the
Researcher, and the RiskManager, which sizes and approves the order and sends it to the broker
itself (a strategy never reaches the broker with an opening order); RESEARCH_START,
RESEARCH_RESULT and TRADE_EXECUTION are published on the way, each with the strategy's name.

Nothing here blocks: every conversation is an :meth:`~actors.runtime.base.EnsembleActor.ask_peer`
with a timeout, and every step of a decision is written to the journal under its decision id.
Per-ticket management state lives in SharedState, so a restart forgets no break-even.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from actors.runtime.base import EnsembleActor, handles
from actors.runtime.clock import iso_utc
from actors.strategy.cycle import manage_one, scan_one
from actors.strategy.decisions import (
    Blocked,
    GiveUp,
    OrderPlan,
    SubmittedOrder,
    blocked_reason,
    mark_blocked,
    order_outcome,
    own_research,
    plan_order,
)
from actors.strategy.loader import LoadedStrategy, load_strategies, strategy_child_name
from actors.strategy.management import (
    ManagementAction,
    ManagementDecision,
    TicketState,
    confirm,
    manage_position,
    own_decision,
    ticket_state_from_dict,
    ticket_state_to_dict,
)
from actors.strategy.market_inputs import (
    exposures,
    momentum_view,
    position_view,
    pre_scan_input,
    trading_limits,
)
from actors.strategy.signals import (
    ScanResult,
    rank_candidates,
    scan_summary,
)
from messages.backtest import ScanDone, ScanNow
from messages.books import PositionRecord
from messages.commands import JournalAppend, StateDelete, StateGetAll, StateReply, StateSet
from messages.events import (
    CandidateRow,
    ResearchResult,
    ResearchStart,
    RiskDenials,
    ScanStart,
    ScanSummary,
)
from messages.trading import (
    BrokerReady,
    BrokerSnapshot,
    BrokerSnapshotRequest,
    ClosePosition,
    MarketData,
    MarketDataRequest,
    ModifyPosition,
    OrderApproval,
    OrderReport,
    PreScanCheck,
    PreScanVerdict,
    ResearchReply,
    ResearchRequest,
    SubmitOrder,
    TradeClosed,
    TradingGate,
)

__all__ = ["StrategyActor"]

TICKET_PREFIX = "strategy.ticket."
OWNER_PREFIX = "strategy.owner."
# M1 feeds the RiskManager's correlation check; the management timeframe its momentum view.
ALWAYS_FETCHED = ("M1",)
REPLY_TIMEOUT_S = 10.0
ORDER_TIMEOUT_S = 120.0
FIRST_SCAN_DELAY_S = 2.0


@dataclass(frozen=True, slots=True)
class _ScanDue:
    pass


@dataclass
class _Cycle:
    number: int
    woke_at: float = field(default_factory=time.monotonic)
    snapshot: BrokerSnapshot | None = None
    data: MarketData | None = None
    queue: list[ScanResult] = field(default_factory=list)
    in_research: int = 0
    orders: int = 0
    finished: bool = False
    denials: dict[str, int] = field(default_factory=dict)
    # A cycle a backtest's driver asked for (ScanNow): whom to tell once it is settled.
    key: str = ""
    reply_to: Any = None
    request_id: str = ""
    candidates: int = 0
    only: tuple[str, ...] | None = None
    """A backtest's ScanNow.symbols: scan these and the symbols held, no others."""
    blocked: Blocked | None = None
    gated: int = 0
    """How many candidates ``blocked`` stopped before they reached the RiskManager."""


class StrategyActor(EnsembleActor):
    role = "Strategy"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cycle: _Cycle | None = None
        self.cycles = 0
        self.gate = TradingGate("HALTED", False, "waiting for the RiskManager")
        self.broker_ready = BrokerReady(False, False)
        self.tickets: dict[int, TicketState] = {}
        self._tickets_loaded = False
        self.loaded: LoadedStrategy | None = None
        # ticket → the strategy that opened it; a strategy manages only its own positions.
        self.owners: dict[int, str] = {}
        self._owners_loaded = False
        self.driven = False  # a backtest's driver starts every cycle (ScanNow), no timer
        self._warned_reads: set[str] = set()

    # --- lifecycle ------------------------------------------------------------------------------

    def on_configure(self) -> None:
        settings = self.settings
        every = load_strategies(settings.strategy.plugins, settings.strategy.params, settings)
        mine = [item for item in every if strategy_child_name(item.name) == self.name]
        self.loaded = mine[0] if mine else every[0]
        self.log.info("strategy loaded", strategy=self.loaded.name, spec=self.loaded.spec)
        self._load_tickets()
        # The first scan comes soon, so that a newcomer sees the system work at once.
        self.after(min(FIRST_SCAN_DELAY_S, self._wall_interval()), _ScanDue())

    def on_peers(self) -> None:
        if not (self._tickets_loaded and self._owners_loaded):
            self._load_tickets()

    @property
    def strategy_name(self) -> str:
        return self.loaded.name if self.loaded is not None else ""

    def _symbols(self) -> tuple[str, ...]:
        chosen = self.loaded.symbols if self.loaded is not None else None
        return tuple(chosen) if chosen is not None else tuple(self.settings.strategy.symbols)

    def _timeframes(self) -> tuple[str, ...]:
        """What a cycle fetches first: the strategy's timeframes and the management one, and
        live the RiskManager's M1 too. A backtest fetches that M1 only in a cycle with a
        candidate to submit (:meth:`_with_risk_bars`), at the same market instant: most bars
        have none, and the M1 windows of every symbol cost as much as the strategy's own."""
        assert self.loaded is not None
        wanted = (*self.loaded.strategy.timeframes, *(() if self.driven else ALWAYS_FETCHED),
                  self.settings.strategy.signals.primary_timeframe)
        return tuple(dict.fromkeys(wanted))

    def _load_tickets(self) -> None:
        self.ask_peer("shared_state",
                      lambda rid: StateGetAll(request_id=rid, prefix=TICKET_PREFIX),
                      self._on_tickets, REPLY_TIMEOUT_S)
        self.ask_peer("shared_state",
                      lambda rid: StateGetAll(request_id=rid, prefix=OWNER_PREFIX),
                      self._on_owners, REPLY_TIMEOUT_S)

    def _on_owners(self, reply: StateReply) -> None:
        if not reply.ok:
            return
        for key, value in reply.value.items():
            self.owners.setdefault(int(key.removeprefix(OWNER_PREFIX)), str(value))
        self._owners_loaded = True

    def _owns(self, ticket: int) -> bool:
        """Only the positions this strategy opened. One nobody claims (opened by hand, or by
        a tool, with our magic number) is left to its own stop and target: never touch what
        you did not open."""
        return self.owners.get(ticket) == self.strategy_name

    def _on_tickets(self, reply: StateReply) -> None:
        if not reply.ok:
            return
        for value in reply.value.values():
            state = ticket_state_from_dict(value)
            self.tickets.setdefault(state.ticket, state)
        self._tickets_loaded = True

    def _speed(self) -> float:
        profile = self.broker_ready.profile
        return profile.speed if profile is not None else 1.0  # the broker's, once it is known

    def _wall_interval(self) -> float:
        strategy = self.settings.strategy
        return max(strategy.scan_interval_s / self._speed(), strategy.min_wall_interval_s)

    @handles(TradingGate)
    def _on_gate(self, message: TradingGate, sender: Any) -> None:
        self.gate = message

    @handles(BrokerReady)
    def _on_broker_ready(self, message: BrokerReady, sender: Any) -> None:
        self.broker_ready = message

    @handles(TradeClosed)
    def _on_trade_closed(self, message: TradeClosed, sender: Any) -> None:
        self._forget_ticket(message.ticket)

    def _forget_ticket(self, ticket: int) -> None:
        if self.tickets.pop(ticket, None) is not None or self._tickets_loaded:
            self.ask_peer("shared_state", lambda rid: StateDelete(
                request_id=rid, key=f"{TICKET_PREFIX}{ticket}"), lambda reply: None)
        if self.owners.get(ticket) == self.strategy_name:
            del self.owners[ticket]
            self.ask_peer("shared_state", lambda rid: StateDelete(
                request_id=rid, key=f"{OWNER_PREFIX}{ticket}"), lambda reply: None)

    # --- the cycle ------------------------------------------------------------------------------

    @handles(_ScanDue)
    def _on_scan_due(self, message: _ScanDue, sender: Any) -> None:
        if self.driven:
            return
        self.after(self._wall_interval(), _ScanDue())
        if self.cycle is not None and not self.cycle.finished:
            return  # the previous cycle is still at work; never overlap two
        self._begin_cycle(_Cycle(self.cycles + 1))

    def set_market_time(self, now: float) -> None:
        """A backtest's driver sets the time: it also starts every cycle from now on."""
        self.driven = True
        super().set_market_time(now)

    @handles(ScanNow)
    def _on_scan_now(self, message: ScanNow, sender: Any) -> None:
        """A backtest's driver: one cycle now, answered by ScanDone once it is settled."""
        self.driven = True
        if self.cycle is not None and not self.cycle.finished:
            self.send(sender, ScanDone(message.request_id, self.strategy_name, ok=False,
                                       detail="the previous cycle is still at work"))
            return
        self._begin_cycle(_Cycle(self.cycles + 1, key=message.cycle_key, reply_to=sender,
                                 request_id=message.request_id, only=message.symbols))

    def _settle(self, cycle: _Cycle) -> None:
        """Tell the driver that asked for ``cycle`` once it is finished and every order it
        submitted has its final report."""
        if cycle.reply_to is None or not cycle.finished:
            return
        if self.waiting_on(cycle):
            return  # an order it submitted has no final report yet
        reply_to, cycle.reply_to = cycle.reply_to, None
        blocked = cycle.blocked
        self.send(reply_to, ScanDone(
            cycle.request_id, self.strategy_name, cycle.candidates, cycle.orders,
            gated=cycle.gated, gated_code=blocked.code if blocked else "",
            gated_words=blocked.words if blocked else ""))

    def _decision_id(self, cycle: _Cycle, symbol: str) -> str:
        if not cycle.key:
            return uuid.uuid4().hex[:16]
        text = f"{self.strategy_name}|{cycle.key}|{symbol}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]  # the same backtest, the same ids

    def _begin_cycle(self, cycle: _Cycle) -> None:
        self.cycles = cycle.number
        self.cycle = cycle
        self.ask_peer("broker", lambda rid: BrokerSnapshotRequest(rid),
                      lambda snapshot: self._on_snapshot(cycle, snapshot), REPLY_TIMEOUT_S,
                      lambda: self._fail(cycle, "broker not available"))

    def _on_snapshot(self, cycle: _Cycle, snapshot: BrokerSnapshot) -> None:
        cycle.snapshot = snapshot
        assert self.loaded is not None
        history = max(self.loaded.strategy.history, self.settings.strategy.bars)
        symbols, timeframes = self._symbols(), self._timeframes()
        if cycle.only is not None:
            # Only these may signal (the strategy's candidate_bars); the symbols held still
            # get their management. Nothing else can happen on the others at this bar.
            held = ({p.symbol for p in snapshot.positions}
                    | {o.symbol for o in snapshot.orders} | set(cycle.only))
            symbols = tuple(symbol for symbol in symbols if symbol in held)
            if not symbols:
                cycle.finished = True
                self._settle(cycle)
                return
        self.ask_peer(
            "broker",
            lambda rid: MarketDataRequest(rid, symbols, timeframes, history),
            lambda data: self._on_market(cycle, data), REPLY_TIMEOUT_S,
            lambda: self._fail(cycle, "no market data from the broker"))

    def _fail(self, cycle: _Cycle, why: str) -> None:
        symbols = self._symbols()
        self.publish([
            ScanStart(timestamp=self.now_iso(), count=len(symbols)),
            ScanSummary(timestamp=self.now_iso(), symbols={s: f"ERROR: {why}" for s in symbols},
                        count=len(symbols), candidates=0, strategy=self.strategy_name),
        ])
        self.log.warning("scan cycle failed", reason=why)
        cycle.finished = True
        self._settle(cycle)

    def _on_market(self, cycle: _Cycle, data: MarketData) -> None:
        cycle.data = data
        snapshot = cycle.snapshot
        assert snapshot is not None
        self._manage_positions(cycle)
        symbols = sorted(set(data.ticks) | set(data.errors) | set(data.bars))
        results = [self._scan(data, snapshot, symbol) for symbol in symbols]
        blocked = blocked_reason(snapshot, self.gate)
        if blocked is not None:
            cycle.gated = sum(result.is_candidate for result in results)
            cycle.blocked = blocked
            results = [mark_blocked(result, blocked.words) for result in results]
        summary = scan_summary(results)
        candidates = [result for result in results if result.is_candidate]
        self.publish([
            ScanStart(timestamp=self.now_iso(), count=len(symbols)),
            ScanSummary(timestamp=self.now_iso(), symbols=summary, count=len(symbols),
                        candidates=len(candidates),
                        duration_ms=round((time.monotonic() - cycle.woke_at) * 1000.0, 3),
                        strategy=self.strategy_name, market_time=iso_utc(data.server_time)),
        ])
        cycle.queue = rank_candidates(candidates)
        cycle.candidates = len(candidates)
        self._with_risk_bars(cycle, self._next_candidates)

    def _with_risk_bars(self, cycle: _Cycle, then: Callable[[_Cycle], None]) -> None:
        """Go on once the cycle's market data has the RiskManager's M1 bars of the candidates
        and of the symbols held (a backtest's first request leaves them out). The terminal's
        clock has not moved since, so they are the bars a live cycle fetches with the rest.
        Without them the RiskManager denies (missing input)."""
        data, snapshot = cycle.data, cycle.snapshot
        assert data is not None and snapshot is not None
        # The correlation rule reads the candidate's M1 and that of the symbols held.
        needed = ({result.symbol for result in cycle.queue}
                  | {p.symbol for p in snapshot.positions} | {o.symbol for o in snapshot.orders})
        symbols = tuple(symbol for symbol in data.bars if symbol in needed)
        wanted = tuple(tf for tf in ALWAYS_FETCHED
                       if any(tf not in data.bars[symbol] for symbol in symbols))
        if not cycle.queue or not wanted:
            then(cycle)
            return
        history = max(self.loaded.strategy.history if self.loaded else 0,
                      self.settings.strategy.bars)

        def merge(extra: MarketData) -> None:
            bars = {symbol: {**frames, **extra.bars.get(symbol, {})}
                    for symbol, frames in data.bars.items()}
            cycle.data = replace(data, bars=bars)
            then(cycle)

        self.ask_peer("broker",
                      lambda rid: MarketDataRequest(rid, symbols, wanted, history),
                      merge, REPLY_TIMEOUT_S, lambda: then(cycle))

    def _scan(self, data: MarketData, snapshot: BrokerSnapshot, symbol: str) -> ScanResult:
        """Ask the strategy about one symbol. An exception is the strategy's bug: it crashes
        this actor, which its supervisor restarts (and stops, if it keeps failing)."""
        assert self.loaded is not None
        owned = tuple(p for p in snapshot.positions if p.symbol == symbol and self._owns(p.ticket))
        settings = self.settings.strategy
        misses: set[str] = set()
        result = scan_one(self.loaded.strategy, data, symbol, owned,
                          settings.min_stop_spread_multiple, settings.min_stop_level_multiple,
                          misses)
        unfetched = misses & set(ALWAYS_FETCHED) - self._warned_reads
        if unfetched:
            self._warned_reads |= unfetched
            self.log.warning(
                "the strategy reads bars it does not declare in its timeframes: a live daemon "
                "happens to fetch them for the RiskManager, a backtest does not; declare them",
                strategy=self.strategy_name, timeframes=sorted(unfetched))
        return result

    def _next_candidates(self, cycle: _Cycle) -> None:
        strategy = self.settings.strategy
        while (cycle.queue and cycle.in_research < strategy.research_concurrency
               and cycle.orders < strategy.max_orders_per_cycle):
            self._consider(cycle, cycle.queue.pop(0))
        if cycle.in_research == 0 and (not cycle.queue
                                        or cycle.orders >= strategy.max_orders_per_cycle):
            if not cycle.finished and cycle.denials:
                # One row per cycle with a count per code, not a red row per candidate.
                self.publish([RiskDenials(timestamp=self.now_iso(), strategy=self.strategy_name,
                                          counts=dict(cycle.denials))])
            cycle.finished = True
            self._settle(cycle)

    def _done_with(self, cycle: _Cycle) -> None:
        cycle.in_research -= 1
        self._next_candidates(cycle)

    # --- one candidate: pre-scan → research → approval → order ---------------------------------

    def _consider(self, cycle: _Cycle, candidate: ScanResult) -> None:
        cycle.in_research += 1
        decision_id = self._decision_id(cycle, candidate.symbol)
        data, snapshot = cycle.data, cycle.snapshot
        assert data is not None and snapshot is not None
        symbol = candidate.symbol
        open_exposures = exposures(snapshot.positions, snapshot.orders, data.specs)
        market = pre_scan_input(symbol, data.server_time, data.ticks.get(symbol),
                                data.specs.get(symbol), open_exposures, snapshot.account)
        self._journal(decision_id, symbol, "candidate", {
            "direction": candidate.direction.value if candidate.direction else None,
            "score": candidate.score, "reason": candidate.reason,
            "strategy": self.strategy_name})
        self.ask_peer(
            "risk", lambda rid: PreScanCheck(rid, symbol, market),
            lambda verdict: self._on_pre_scan(cycle, candidate, decision_id, market, verdict),
            REPLY_TIMEOUT_S, lambda: self._give_up(cycle, decision_id, symbol, "risk timeout"))

    def _give_up(self, cycle: _Cycle, decision_id: str, symbol: str, why: str) -> None:
        self._journal(decision_id, symbol, "abandoned", {"reason": why})
        self._done_with(cycle)

    def _on_pre_scan(self, cycle: _Cycle, candidate: ScanResult, decision_id: str, market: Any,
                     verdict: PreScanVerdict) -> None:
        symbol = candidate.symbol
        self._journal(decision_id, symbol, "pre_scan", {
            "allowed": verdict.allowed, "code": verdict.code, "message": verdict.message})
        if not verdict.allowed:
            cycle.denials[verdict.code] = cycle.denials.get(verdict.code, 0) + 1
            self._done_with(cycle)
            return
        assert candidate.direction is not None
        self.publish([ResearchStart(
            timestamp=self.now_iso(), symbol=symbol, decision_id=decision_id,
            data=CandidateRow(direction=candidate.direction, score=candidate.score,
                              reason=candidate.reason), strategy=self.strategy_name)])
        data = cycle.data
        assert data is not None
        own = own_research(candidate, decision_id, self.strategy_name)
        if own is not None:
            self._on_research(cycle, candidate, decision_id, market, own)
            return
        self.ask_peer(
            "researcher",
            lambda rid: ResearchRequest(rid, decision_id, symbol, candidate.direction,
                                        candidate.facts, data.server_time),
            lambda reply: self._on_research(cycle, candidate, decision_id, market, reply),
            REPLY_TIMEOUT_S * 3,
            lambda: self._give_up(cycle, decision_id, symbol, "researcher timeout"))

    def _on_research(self, cycle: _Cycle, candidate: ScanResult, decision_id: str, market: Any,
                     reply: ResearchReply) -> None:
        symbol = candidate.symbol
        self.publish([ResearchResult(
            timestamp=self.now_iso(), symbol=symbol, action=reply.action,
            confidence=reply.confidence, reason=reply.reason, source=reply.source,
            tokens=reply.tokens, latency_ms=reply.latency_ms, decision_id=decision_id,
            strategy=self.strategy_name, fallback=reply.fallback, cost=reply.cost)])
        self._journal(decision_id, symbol, "research", {
            "action": reply.action, "confidence": reply.confidence, "reason": reply.reason,
            "source": reply.source, "regime": reply.regime, "fallback": reply.fallback,
            "strategy": self.strategy_name})
        data, snapshot = cycle.data, cycle.snapshot
        assert data is not None and snapshot is not None
        plan = plan_order(candidate, reply, data, snapshot.account, market, cycle.orders,
                          self.settings.strategy.max_orders_per_cycle, self._commission())
        if plan is None:
            self._done_with(cycle)  # the research does not confirm the signal
        elif isinstance(plan, GiveUp):
            self._give_up(cycle, decision_id, symbol, plan.reason)
        else:
            self._submit(cycle, SubmittedOrder(decision_id, symbol, plan.side), plan)

    def _submit(self, cycle: _Cycle, order: SubmittedOrder, plan: OrderPlan) -> None:
        cycle.orders += 1  # held while the RiskManager decides; given back on a denial
        self.ask_peer(
            "risk",
            lambda rid: SubmitOrder(rid, order.decision_id, self.strategy_name, order.symbol,
                                    plan.side, plan.confidence, plan.entry, plan.stop_loss,
                                    plan.take_profit, plan.order),
            lambda answer: self._on_submission_reply(cycle, order, answer),
            REPLY_TIMEOUT_S, lambda: self._on_risk_late(cycle, order),
            final=lambda answer: answer.final, tag=cycle)

    def _commission(self) -> float | None:
        profile = self.broker_ready.profile
        return profile.commission_per_lot if profile is not None else None  # unknown: denied

    def _on_risk_late(self, cycle: _Cycle, order: SubmittedOrder) -> None:
        """No approval in time: give the candidate up, but keep listening, since the
        RiskManager may have sent the order, whose report must still be claimed."""
        order.abandoned = True
        self._give_up(cycle, order.decision_id, order.symbol, "risk timeout")

    def _on_submission_reply(self, cycle: _Cycle, order: SubmittedOrder, answer: Any) -> None:
        if isinstance(answer, OrderApproval):
            self._on_approval(cycle, order, answer)
        elif isinstance(answer, OrderReport):
            self._on_order_report(cycle, order, answer)

    def _on_approval(self, cycle: _Cycle, order: SubmittedOrder,
                     approval: OrderApproval) -> None:
        self._journal(order.decision_id, order.symbol, "approval", {
            "approved": approval.approved, "volume": approval.volume, "code": approval.code,
            "message": approval.message, "risk_money": approval.risk_money})
        if order.abandoned:
            self._settle(cycle)
            return  # already given up; its report, if any, is still claimed
        if not approval.approved:
            cycle.orders -= 1
            cycle.denials[approval.code] = cycle.denials.get(approval.code, 0) + 1
        else:
            order.volume = approval.volume  # the RiskManager has sent it to the broker
        self._done_with(cycle)

    def _on_order_report(self, cycle: _Cycle, order: SubmittedOrder,
                         report: OrderReport) -> None:
        """The broker's report on an order the RiskManager sent for us (forwarded by it)."""
        self._journal(order.decision_id, order.symbol, f"order_{report.status}", {
            "status": report.status, "reason": report.reason, "retcode": report.retcode,
            "ticket": report.ticket, "price": report.price, "volume": report.volume})
        if not report.final:
            return  # the broker resolves it from the terminal's books and reports again
        if report.status == "done" and report.ticket is not None:
            self._claim(report.ticket)
        self.publish([order_outcome(order, report, self.now_iso(), self.strategy_name)])
        self._settle(cycle)

    def _claim(self, ticket: int) -> None:
        self.owners[ticket] = self.strategy_name
        self.ask_peer("shared_state", lambda rid: StateSet(
            request_id=rid, key=f"{OWNER_PREFIX}{ticket}", value=self.strategy_name),
            lambda reply: None)

    # --- trade management -------------------------------------------------------------------------

    def _manage_positions(self, cycle: _Cycle) -> None:
        data, snapshot = cycle.data, cycle.snapshot
        assert data is not None and snapshot is not None
        open_tickets = {position.ticket for position in snapshot.positions}
        if self._owners_loaded:
            for ticket in [t for t, owner in self.owners.items()
                           if owner == self.strategy_name and t not in open_tickets]:
                self._forget_ticket(ticket)  # closed (its TradeClosed may have gone elsewhere)
        assert self.loaded is not None
        strategy = self.loaded.strategy
        if not self._owners_loaded:
            return
        primary = self.settings.strategy.signals.primary_timeframe
        params = self.settings.strategy.management
        for position in [p for p in snapshot.positions if self._owns(p.ticket)]:
            spec = data.specs.get(position.symbol)
            if spec is None:
                continue
            view = position_view(position, data.ticks.get(position.symbol))
            state = self.tickets.get(position.ticket)
            own = manage_one(strategy, data, position)  # the strategy's own say comes first
            if own is not None:
                decision = own_decision(own, view, trading_limits(spec), state, params)
            elif strategy.trade_management:
                bars = data.bars_of(position.symbol, primary)
                decision = manage_position(view, momentum_view(bars), trading_limits(spec),
                                           state, params)
            else:
                continue
            self._apply(cycle, position, decision)

    def _apply(self, cycle: _Cycle, position: PositionRecord,
               decision: ManagementDecision) -> None:
        ticket = position.ticket
        action = decision.action
        if action is ManagementAction.HOLD:
            self._remember(confirm(self.tickets.get(ticket, decision.state), decision,
                                   False, False))
            return
        self.log.info("managing position", ticket=ticket, action=action.value,
                      reason=decision.reason)
        op = f"{action.value.lower()}-{ticket}-{cycle.number}"
        outcome = {"stop": decision.new_stop_loss is None, "partial": decision.close_volume <= 0}
        applied = {"stop": False, "partial": False}

        def settle(part: str, report: OrderReport | None) -> None:
            outcome[part] = True
            applied[part] = report is not None and report.status == "done"
            if outcome["stop"] and outcome["partial"]:
                self._remember(confirm(self.tickets.get(ticket, decision.state), decision,
                                       applied["stop"], applied["partial"]))

        if action is ManagementAction.EARLY_CUT:
            outcome["stop"] = True
            self.ask_peer("broker", lambda rid: ClosePosition(rid, op, ticket, None,
                                                              decision.reason),
                          lambda report: settle("partial", report), ORDER_TIMEOUT_S,
                          lambda: settle("partial", None))
            return
        if decision.new_stop_loss is not None:
            self.ask_peer("broker", lambda rid: ModifyPosition(
                rid, f"{op}-sl", ticket, decision.new_stop_loss, position.tp or None),
                lambda report: settle("stop", report), ORDER_TIMEOUT_S,
                lambda: settle("stop", None))
        if decision.close_volume > 0:
            self.ask_peer("broker", lambda rid: ClosePosition(
                rid, f"{op}-partial", ticket, decision.close_volume, decision.reason),
                lambda report: settle("partial", report), ORDER_TIMEOUT_S,
                lambda: settle("partial", None))

    def _remember(self, state: TicketState) -> None:
        if self.tickets.get(state.ticket) == state:
            return
        self.tickets[state.ticket] = state
        self.ask_peer("shared_state", lambda rid: StateSet(
            request_id=rid, key=f"{TICKET_PREFIX}{state.ticket}",
            value=ticket_state_to_dict(state)), lambda reply: None)

    # --- journal ----------------------------------------------------------------------------------

    def _journal(self, decision_id: str, symbol: str, step: str, record: dict[str, Any]) -> None:
        entry = {"step": step, "symbol": symbol, **record}
        self.ask_peer("shared_state", lambda rid: JournalAppend(
            request_id=rid, op_id=f"{decision_id}-{step}", kind="decision", key=symbol,
            record=entry, decision_id=decision_id), lambda reply: None)

