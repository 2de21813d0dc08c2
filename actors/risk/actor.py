"""The RiskManager actor: every pre-trade gate, the sizing, the trading mode and the kill switch.

It holds the risk counters (:class:`~actors.risk.state.RiskState`), restored from SharedState
at start and kept current from the deals the broker observes, and persists them after every
change. Until they are loaded it denies everything: a RiskManager that does not know the day's
losses must not approve a trade. The rules themselves are pure functions
(:mod:`actors.risk.rules`, :mod:`actors.risk.sizing`); the inputs come from the Strategy, built
from the same market data it scanned.

The kill switch latches (here and under ``risk.kill_switch`` in SharedState, where the daemon
also latches it when supervision gives up) and is reset only by an operator command. Every
change of mode goes to the broker and the Strategy as a :class:`~messages.trading.TradingGate`
and to the dashboard as RISK_STATE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from actors.risk.close_all import RETRY_AFTER_S, CloseAllTries
from actors.risk.news import CalendarError, NewsEvent, blackout, read_calendar, scheduled_events
from actors.risk.reservations import (
    Ledger,
    ledger_from_dict,
    ledger_to_dict,
)
from actors.risk.rules import RiskParams, check_pre_scan, loss_stops_the_day
from actors.risk.standing import Standing, account_after_deals, standing
from actors.risk.state import (
    RiskState,
    TradingMode,
    apply_deal,
    broker_day,
    kill_switch_breach,
    kill_switch_on,
    latch_kill_switch,
    next_broker_day_at,
    reset_kill_switch,
    roll_broker_day,
    set_paused,
    state_from_dict,
    state_to_dict,
    stop_the_day,
)
from actors.risk.submission import (
    OnItsWay,
    Refuse,
    Reserve,
    client_order_id,
    order_reported,
    reservation_written,
    submit,
)
from actors.runtime.base import EnsembleActor, handles
from actors.runtime.clock import iso_utc
from actors.shared_state.keys import KILL_SWITCH
from messages.commands import StateGet, StateReply, StateSet
from messages.events import ControlResult, RiskStateChanged
from messages.risk import DenialCode, PreScanInput
from messages.server_time import server_time_to_utc
from messages.trading import (
    Approval,
    BrokerProfile,
    BrokerReady,
    CloseAll,
    ControlCommand,
    ControlReply,
    DealsObserved,
    OrderApproval,
    OrderReport,
    PlaceOrder,
    PreScanCheck,
    PreScanVerdict,
    RiskStatus,
    RiskStatusRequest,
    SubmitOrder,
    TradeClosed,
    TradingGate,
)

__all__ = ["RISK_STATE_KEY", "RiskManagerActor"]

RISK_STATE_KEY = "risk.state"
RESERVED_KEY = "risk.reservations"
STATE_TIMEOUT_S = 5.0
CLOSE_ALL_TIMEOUT_S = 60.0
ORDER_TIMEOUT_S = 120.0
APPROVAL_TTL_S = 30.0
"""How long the broker may take to act on an approval before it refuses it as expired."""


@dataclass(frozen=True, slots=True)
class _Reload:
    pass


@dataclass(frozen=True, slots=True)
class _ReadCalendar:
    pass


@dataclass(frozen=True, slots=True)
class _NewBrokerDay:
    pass


@dataclass(frozen=True, slots=True)
class _CloseAllAgain:
    command: ControlCommand
    sender: Any
    tries: CloseAllTries


class RiskManagerActor(EnsembleActor):
    role = "RiskManager"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: RiskState | None = None
        self.market_now = 0.0
        self._gated: dict[str, Any] = {}
        self._loading = False
        self.ledger = Ledger()
        self.profile: BrokerProfile | None = None  # the broker's clock, once it has said
        self.last_market: PreScanInput | None = None  # the latest account a strategy saw
        self.news_events: list[NewsEvent] = []
        self.news_error: str | None = "the calendar has not been read yet"
        self._news_day: tuple[int, list[NewsEvent]] | None = None
        self.standing: Standing = Standing((), None)
        self._day_watched: int | None = None  # the broker day _watch_broker_day last saw

    # --- loading and persisting -------------------------------------------------------------

    def on_configure(self) -> None:
        self._load()
        self._watch_broker_day()
        if self.settings.risk.news.enabled:
            self._read_calendar()

    @handles(_ReadCalendar)
    def _on_read_calendar(self, message: _ReadCalendar, sender: Any) -> None:
        self._read_calendar()

    def _read_calendar(self) -> None:
        """Read the news calendar (bounded by its timeout) and plan the next read."""
        news = self.settings.risk.news
        try:
            events = read_calendar(news) if news.calendar else []
            scheduled_events(news.schedule, self._now())  # a bad entry is reported here, once
        except (CalendarError, OSError) as error:
            self.news_error = str(error)
            self.log.warning("news calendar not read", reason=self.news_error,
                             fail_closed=news.fail_closed)
        else:
            self.news_events, self.news_error = sorted(events), None
            self._news_day = None
            self.log.info("news calendar read", events=len(events))
        self.after(news.refresh_minutes * 60.0 if self.news_error is None else 60.0,
                   _ReadCalendar())

    def _with_news(self, market: PreScanInput) -> PreScanInput:
        """The news status of ``market``'s symbol now, from the calendar (when the filter is
        on); a calendar that cannot be read blocks when the filter fails closed."""
        news = self.settings.risk.news
        if not news.enabled:
            return market
        if self.news_error is not None:
            if not news.fail_closed:
                return replace(market, news_blackout=False)
            return replace(market, news_blackout=True,
                           news_event=f"calendar unavailable: {self.news_error}")
        now = market.now or self._now()
        event = blackout(self._news_around(now), market.symbol, now, news)
        if event is None:
            return replace(market, news_blackout=False)
        when = iso_utc(event.time)
        return replace(market, news_blackout=True,
                       news_event=f"{event.currency} {event.title} at {when}")

    def _news_around(self, now: float) -> list[NewsEvent]:
        """The calendar's events as read and the fixed schedule around market time (a simulated
        market may run in the past or fast), merged once per UTC day, not per candidate."""
        day = int(now // 86_400)
        if self._news_day is None or self._news_day[0] != day:
            schedule = scheduled_events(self.settings.risk.news.schedule, now)
            self._news_day = (day, sorted([*self.news_events, *schedule]))
        return self._news_day[1]

    def on_peers(self) -> None:
        if self.state is None:
            self._load()
        self._send_gate(changed_only=True)

    def _load(self) -> None:
        if self._loading or self.peer("shared_state") is None:
            return  # on_peers tries again once SharedState's address is known
        self._loading = True
        self.ask_peer("shared_state", lambda rid: StateGet(request_id=rid, key=RISK_STATE_KEY),
                      self._on_saved_state, STATE_TIMEOUT_S, self._load_failed)

    def _load_failed(self) -> None:
        self._loading = False
        self.log.warning("risk state not loaded yet; denying every order until it is")
        self.after(1.0, _Reload())

    @handles(_Reload)
    def _on_reload(self, message: _Reload, sender: Any) -> None:
        if self.state is None:
            self._load()

    def _on_saved_state(self, reply: StateReply) -> None:
        if not reply.ok:
            self._load_failed()
            return
        try:
            saved = state_from_dict(reply.value) if reply.found and reply.value else RiskState()
        except ValueError as error:
            # A damaged record must not read as a clean slate: halt until a person looks.
            self.log.error("saved risk state is malformed; halting", reason=str(error))
            saved = replace(RiskState(), mode=TradingMode.HALTED)
        self.ask_peer("shared_state", lambda rid: StateGet(request_id=rid, key=KILL_SWITCH),
                      lambda switch: self._on_kill_switch(saved, switch), STATE_TIMEOUT_S,
                      self._load_failed)

    def _on_kill_switch(self, saved: RiskState, reply: StateReply) -> None:
        if not reply.ok:
            self._load_failed()
            return
        latched = reply.found and isinstance(reply.value, dict) and reply.value.get("latched")
        if latched and not saved.kill_switch_latched:
            saved = latch_kill_switch(saved, str(reply.value.get("reason", "latched")),
                                      self._now())
        self.ask_peer("shared_state", lambda rid: StateGet(request_id=rid, key=RESERVED_KEY),
                      lambda held: self._on_reservations(saved, held), STATE_TIMEOUT_S,
                      self._load_failed)

    def _on_reservations(self, saved: RiskState, reply: StateReply) -> None:
        """Risk reserved before a restart still counts: orders may be on their way."""
        if not reply.ok:
            self._load_failed()
            return
        try:
            self.ledger = ledger_from_dict(reply.value) if reply.found and reply.value else Ledger()
        except ValueError as error:
            self.log.error("saved reservations are malformed; halting", reason=str(error))
            saved = replace(saved, mode=TradingMode.HALTED)
        self.state = saved
        self._loading = False
        self.log.info("risk state loaded", mode=self.mode, kill_switch=saved.kill_switch_latched,
                      reservations=len(self.ledger.reservations))
        self._announce("risk state restored")

    def _persist(self, then: Callable[[bool], None] | None = None) -> None:
        """Save the counters and the kill switch; ``then(saved)`` runs once both writes are
        acknowledged (True) or one of them failed (False)."""
        assert self.state is not None
        snapshot = state_to_dict(self.state)
        switch = {"latched": self.state.kill_switch_latched,
                  "reason": self.state.kill_switch_reason,
                  "at": iso_utc(self.state.kill_switch_time or time.time())}
        outcomes: list[bool] = []

        def settled(saved: bool) -> None:
            outcomes.append(saved)
            if not saved:
                self.log.error("risk state not saved (SharedState unavailable)")
            if len(outcomes) == 2 and then is not None:
                then(all(outcomes))

        for key, value in ((RISK_STATE_KEY, snapshot), (KILL_SWITCH, switch)):
            self.ask_peer("shared_state",
                          lambda rid, k=key, v=value: StateSet(request_id=rid, key=k, value=v),
                          lambda reply: settled(reply.ok), STATE_TIMEOUT_S,
                          lambda: settled(False))

    # --- mode and gate ----------------------------------------------------------------------

    @property
    def mode(self) -> str:
        state = self.state
        if state is None or state.kill_switch_latched:
            return TradingMode.HALTED.value
        if state.paused:
            return "PAUSED"
        return state.mode.value

    def _now(self) -> float:
        """Market time: the latest the market has told this actor, or its clock's reading.
        Never the wall clock while a simulated market runs in the past: trades stamped with
        it would lie years ahead of the market's own times."""
        if self.profile is None:
            return self.market_now or self.clock.now()  # the broker has not said yet
        return max(self.market_now, self.profile.market_time(self.clock.now()))

    def _announce(self, reason: str) -> None:
        state = self.state
        self._review_standing(announce=False)
        self.publish([RiskStateChanged(timestamp=self.now_iso(), mode=self.mode,
                                       kill_switch=bool(state and state.kill_switch_latched),
                                       reason=reason, blocked_by=self.standing.blocked_by,
                                       blocked_words=self.standing.words)])
        self._send_gate(changed_only=False, reason=reason)

    def _review_standing(self, announce: bool = True) -> None:
        """Recompute what blocks new entries; say so (event and gates) when it changed."""
        if self.state is None or self.profile is None:
            return
        before = self.standing.blocked_by
        self.standing = standing(self.state, self.rules, self.ledger, self.last_market,
                                 self._now())
        if announce and self.standing.blocked_by != before:
            words = self.standing.words
            self.log.info("new entries blocked" if words else "new entries allowed",
                          blocked_by=list(self.standing.blocked_by))
            self.publish([RiskStateChanged(
                timestamp=self.now_iso(), mode=self.mode,
                kill_switch=bool(self.state.kill_switch_latched),
                reason=f"blocked: {words}" if words else "nothing blocks new entries",
                blocked_by=self.standing.blocked_by, blocked_words=words)])
            self._send_gate(changed_only=False)

    def set_market_time(self, now: float) -> None:
        super().set_market_time(now)
        self._watch_broker_day()

    @handles(_NewBrokerDay)
    def _on_new_broker_day(self, message: _NewBrokerDay, sender: Any) -> None:
        self._watch_broker_day()

    def _watch_broker_day(self) -> None:
        """A day stop, the daily loss limit and the day's trade count end with the broker day,
        and nothing else may ask for a review then (a blocked strategy sends no candidate):
        review the standing when the day turns. A backtest's market time says when
        (:meth:`set_market_time`); a live daemon wakes at the next day's start."""
        if self.state is None or self.profile is None:
            if not self.market_driven:
                self.after(1.0, _NewBrokerDay())  # once the counters and the clock are known
            return
        counters = self.rules.counters
        now = self._now()
        day = broker_day(now, counters)
        if self._day_watched is not None and day != self._day_watched:
            self.state = roll_broker_day(self.state, now, counters)
            self._review_standing()
        self._day_watched = day  # the first review waits for the first account (a pre-scan)
        if not self.market_driven:
            market_s = next_broker_day_at(now, counters) - now
            # Market seconds run at the simulator's speed; wake again at most a minute later
            # in case the broker's clock or offset changes meanwhile.
            self.after(min(60.0, market_s / max(self.profile.speed, 1e-9) + 0.01),
                       _NewBrokerDay())

    def _send_gate(self, changed_only: bool, reason: str = "") -> None:
        state = self.state
        gate = TradingGate(self.mode, bool(state and state.kill_switch_latched),
                           reason or (state.kill_switch_reason if state else "loading"),
                           self.standing.gating, self.standing.gating_words)
        roles = ["broker", *sorted(r for r in self.peers if r.startswith("strategy"))]
        for role in roles:
            address = self.peer(role)
            if address is None or (changed_only and self._gated.get(role) == address):
                continue
            self._gated[role] = address
            self.send(address, gate)

    # --- deals ------------------------------------------------------------------------------

    @handles(DealsObserved)
    def _on_deals(self, message: DealsObserved, sender: Any) -> None:
        if self.state is None or self.profile is None:
            # Apply once the counters are loaded and the broker's clock is known (the deal's
            # broker day depends on it); never drop a deal.
            self.after(1.0, message)
            return
        counters = self.rules.counters
        offset, history = self.profile.server_utc_offset_s, self.profile.server_offset_history
        state = self.state
        was_latched = state.kill_switch_latched
        for deal in sorted(message.deals, key=lambda d: (d.time_msc, d.ticket)):
            if not deal.is_trade:  # balance and credit operations don't count
                continue
            # Each deal with the offset in force at its own time, on its server's day.
            utc_time = server_time_to_utc(deal.time_msc / 1000.0, history, offset)
            self.market_now = max(self.market_now, utc_time)
            state = apply_deal(state, deal, utc_time, counters)
        breach = kill_switch_breach(state, counters.kill_switch)
        if breach and not state.kill_switch_latched:
            state = latch_kill_switch(state, breach, self._now())
        self.state = state
        self._persist()
        # Fills whose report went to a RiskManager since restarted, and positions closed
        # before any books showed them.
        settled = self.ledger.filled_by(message.deals).closed_by(message.deals)
        if settled is not self.ledger:
            self.ledger = settled
            self._save_ledger()
        self.last_market = account_after_deals(self.last_market, message.floating_pnl,
                                               message.open_tickets)
        if state.kill_switch_latched and not was_latched:
            self.log.error("kill switch tripped", reason=state.kill_switch_reason)
            self._announce(f"kill switch: {state.kill_switch_reason}")
        else:
            self._review_standing()

    @handles(BrokerReady)
    def _on_broker_ready(self, message: BrokerReady, sender: Any) -> None:
        if message.profile is not None:
            self.profile = message.profile

    @property
    def rules(self) -> RiskParams:
        """The configured rules on the broker's own calendar: its measured UTC offset decides
        where a broker day starts (it changes at the server's DST switches). The kill switch
        is ``risk.kill_switch``, for the deals and the pre-trade rule alike."""
        configured = self.settings.risk.rules
        balance = self.last_market.balance if self.last_market is not None else None
        offset_s = self.profile.server_utc_offset_s if self.profile is not None else 0
        counters = replace(configured.counters, broker_utc_offset_seconds=offset_s,
                           # one kill switch, its limit in money on the latest balance
                           kill_switch=kill_switch_on(self.settings.risk.kill_switch, balance))
        return replace(configured, counters=counters)

    def _unjudgeable(self) -> str | None:
        """Why nothing can be judged now (fail closed), or None."""
        if self.state is None:
            return "risk state not available"
        if self.profile is None:
            return "the broker's clock is not known yet (waiting for the broker)"
        return None

    @handles(TradeClosed)
    def _on_trade_closed(self, message: TradeClosed, sender: Any) -> None:
        """Counters follow the deals (DealsObserved), which also cover partial closes; a
        closed trade ends the reservation of the order that opened it, and one that lost well
        beyond its stop stops its broker day."""
        if message.client_order_id and message.client_order_id in self.ledger:
            self.ledger = self.ledger.release(message.client_order_id)
            self._save_ledger()
        if not loss_stops_the_day(message.planned_risk, message.loss_beyond_stop, self.rules):
            return
        if self.state is None or self.profile is None:
            self.after(1.0, message)  # once the counters and the broker's clock are known
            return
        day = broker_day(message.closed_at, self.rules.counters)
        reason = (f"{message.symbol} #{message.ticket} lost {message.loss_beyond_stop:.2f} "
                  f"beyond its stop (planned risk {message.planned_risk:.2f})")
        stopped = stop_the_day(self.state, day, reason)
        if stopped is not self.state:
            self.state = stopped
            self._persist()
            self.log.warning("broker day stopped", reason=reason)
            self._review_standing()

    # --- checks -----------------------------------------------------------------------------

    @handles(PreScanCheck)
    def _on_pre_scan(self, message: PreScanCheck, sender: Any) -> None:
        market = message.market
        why = self._unjudgeable() or (None if market is not None else "market input not "
                                      "available")
        if why is not None or market is None or self.state is None:
            self.send(sender, PreScanVerdict(message.request_id, message.symbol, False,
                                             DenialCode.MISSING_INPUT.value, str(why)))
            return
        if market.now:
            self.market_now = max(self.market_now, market.now)
        market = self._with_news(market)
        rules = self.rules
        self.last_market = market
        self.state = roll_broker_day(self.state, self._now(), rules.counters)
        self._review_standing()
        report = check_pre_scan(market, self.state, rules)
        denial = report.first_denial
        self.send(sender, PreScanVerdict(
            message.request_id, message.symbol, denial is None,
            "" if denial is None else str(denial.code), "" if denial is None else denial.message))

    @handles(SubmitOrder)
    def _on_submit(self, message: SubmitOrder, sender: Any) -> None:
        """Check, size and reserve; answer the strategy; send the order with its approval
        (the steps and their order: :mod:`actors.risk.submission`)."""
        if message.order.market.now:  # the market time the order was decided at
            self.market_now = max(self.market_now, message.order.market.now)
        coid = client_order_id(message.decision_id)
        self.ledger, self.state, step = submit(
            message.order, coid, self.ledger, self.state, self._unjudgeable(), self.rules,
            self.settings.risk.sizing, self._now(), time.time())
        if isinstance(step, OnItsWay):
            # A retried submission: the order is already on its way (the broker would answer
            # a second send from its record anyway).
            self.send(sender, OrderApproval(message.request_id, message.decision_id, True,
                                            volume=step.volume, risk_money=step.risk_money))
        elif isinstance(step, Refuse):
            self._deny(sender, message, step)
        else:
            self._save_ledger(lambda saved: self._send_approved(sender, message, step, saved))

    def _save_ledger(self, then: Callable[[bool], None] | None = None) -> None:
        snapshot = ledger_to_dict(self.ledger)
        self.ask_peer("shared_state",
                      lambda rid: StateSet(request_id=rid, key=RESERVED_KEY, value=snapshot),
                      lambda reply: then(reply.ok) if then else None, STATE_TIMEOUT_S,
                      lambda: then(False) if then else None)

    def _send_approved(self, sender: Any, message: SubmitOrder, reserved: Reserve,
                       saved: bool) -> None:
        coid = client_order_id(message.decision_id)
        self.ledger, refusal = reservation_written(self.ledger, coid, saved)
        if refusal is not None:
            self._deny(sender, message, refusal)
            return
        wall, sent_at = time.time(), time.monotonic()
        volume, risk_money = reserved.sized.volume, reserved.risk_money
        self.send(sender, OrderApproval(message.request_id, message.decision_id, True,
                                        volume=volume, risk_money=risk_money))
        approved = Approval(coid, message.decision_id, message.strategy, message.symbol,
                            message.side, volume, risk_money, expires_at=wall + APPROVAL_TTL_S)
        self.ask_peer(
            "broker",
            lambda rid: PlaceOrder(rid, coid, message.decision_id, message.symbol,
                                   message.side, volume, message.sl, message.tp,
                                   approval=approved, reference_price=message.entry,
                                   strategy=message.strategy),
            lambda report: self._on_order_report(sender, message, report, sent_at),
            ORDER_TIMEOUT_S,
            lambda: self.log.warning("no order report yet; the reservation stays until it "
                                     "expires", client_order_id=coid),
            final=lambda report: report.final)

    def _deny(self, sender: Any, message: SubmitOrder, refusal: Refuse) -> None:
        self.send(sender, OrderApproval(message.request_id, message.decision_id, False,
                                        code=refusal.code, message=refusal.why))

    def _on_order_report(self, requester: Any, message: SubmitOrder, report: OrderReport,
                         sent_at: float) -> None:
        """The broker's report on an order sent for ``requester`` (at monotonic ``sent_at``):
        books it, then passes it on under the requester's own request id, with its latency."""
        assert self.state is not None
        booked = order_reported(self.ledger, self.state, client_order_id(message.decision_id),
                                message.symbol, report, self._now(), self.rules)
        self.ledger, self.state = booked.ledger, booked.state
        if booked.state_changed:
            self._persist()
            self._review_standing()
        if booked.ledger_changed:
            self._save_ledger()
        self.send(requester, replace(report, request_id=message.request_id,
                                     latency_s=round(time.monotonic() - sent_at, 6)))

    @handles(RiskStatusRequest)
    def _on_status(self, message: RiskStatusRequest, sender: Any) -> None:
        state = self.state
        self._review_standing()
        self.send(sender, RiskStatus(message.request_id, self.mode,
                                     bool(state and state.kill_switch_latched),
                                     bool(state and state.paused),
                                     state.kill_switch_reason if state else "loading",
                                     blocked_by=self.standing.blocked_by,
                                     per_trade_risk_cap_pct=self.settings.risk.sizing.max_risk_pct,
                                     day=self.standing.day,
                                     loaded=state is not None))

    # --- operator controls --------------------------------------------------------------------

    @handles(ControlCommand)
    def _on_control(self, message: ControlCommand, sender: Any) -> None:
        state = self.state
        if state is None:
            self._reply(sender, message, 503, "the risk state is still loading; try again")
            return
        command, now = message.command, self._now()
        if command == "pause":
            if state.paused:
                self._reply(sender, message, 409, "already paused")
                return
            self.state = set_paused(state, True)
        elif command == "resume":
            if not state.paused:
                self._reply(sender, message, 409, "not paused")
                return
            self.state = set_paused(state, False)
        elif command == "kill-switch":
            if state.kill_switch_latched:
                self._reply(sender, message, 409, "the kill switch is already latched")
                return
            self.state = latch_kill_switch(state, f"operator: {message.reason}", now)
        elif command == "reset-kill-switch":
            if not state.kill_switch_latched:
                self._reply(sender, message, 409, "the kill switch is not latched")
                return
            self.state = reset_kill_switch(state, now)
        elif command == "close-all":
            self._close_all(message, sender)
            return
        else:
            self._reply(sender, message, 409, f"unknown command {command!r}")
            return
        self._announce(f"{command} by {message.reason}")
        # Acknowledged once it is durable: a latched kill switch must survive a crash.
        self._persist(lambda saved: self._reply(
            sender, message, 200,
            f"{command} done" if saved else f"{command} done (not saved: SharedState down)"))

    def _close_all(self, message: ControlCommand, sender: Any,
                   tries: CloseAllTries | None = None) -> None:
        """Close every position of ours. Refusals that pass within seconds (a position frozen
        near its stop) are tried again before the operator is answered (``close_all.py``)."""
        tries = tries or CloseAllTries(message.op_id)

        def done(report: OrderReport) -> None:
            so_far = tries.answered(report)
            if so_far.again(report):
                self.log.info("close-all tried again", reason=report.reason, tries=so_far.tries)
                self.after(RETRY_AFTER_S, _CloseAllAgain(message, sender, so_far))
                return
            self._reply(sender, message, *so_far.answer(report))

        op_id = tries.next_op_id
        self.ask_peer(
            "broker", lambda rid: CloseAll(request_id=rid, op_id=op_id, reason="operator"),
            done, CLOSE_ALL_TIMEOUT_S,
            lambda: self._reply(sender, message, 409, "the broker is not available"),
        )

    @handles(_CloseAllAgain)
    def _on_close_all_again(self, message: _CloseAllAgain, sender: Any) -> None:
        self._close_all(message.command, message.sender, message.tries)

    def _reply(self, sender: Any, message: ControlCommand, status: int, detail: str) -> None:
        kill_switch = bool(self.state and self.state.kill_switch_latched)
        self.send(sender, ControlReply(message.request_id, status, self.mode, kill_switch,
                                       detail))
        self.publish([ControlResult(timestamp=self.now_iso(), command=message.command,
                                    ok=status == 200, mode=self.mode, detail=detail)])
