"""The MT5Broker actor: the only caller of the MetaTrader 5 API (DESIGN.md §3, §5).

It stays thin: it decodes a message, calls the gateway (:mod:`actors.broker.gateway`) and the
pure modules beside it, and sends messages. What it does, in the order it happens:

1. **Connect.** Open the gateway for ``broker.kind`` (the simulated terminal, ``MetaTrader5``
   or ``mt5linux``), ``initialize`` and check the account and terminal
   (:func:`~actors.broker.reconcile.connection_verdict`: a REAL account is refused unless
   ``broker.allow_real_account``). On failure, retry with exponential backoff and jitter. Every
   change of connection state is a ``BROKER_STATUS`` event (connected, degraded, disconnected).
2. **Reconcile** before trading: read the live intents and the tracked positions back from
   SharedState (:mod:`actors.shared_state.live`: not years of resolved orders),
   resolve the intents whose outcome is unknown from the terminal's books, adopt the positions
   with our magic number, report (and leave alone) the foreign ones, report the trades that
   closed while the broker was away. Then :class:`~messages.trading.BrokerReady` goes to the
   RiskManager and the Strategy; until then every order is refused.
3. **Orders** (:class:`~messages.trading.PlaceOrder`, ``ClosePosition``, ``CloseAll``): written
   ahead to SharedState (:mod:`actors.broker.intents`) and sent only once SharedState has
   acknowledged the record. A client order id already in the ledger is answered from its record
   and never sent again; an unknown outcome is resolved from positions, orders and deal
   history, then reported again under the same request id.
4. **Poll** positions, orders, account and deal history every ``broker.poll_interval_s``:
   ``POSITION_UPDATE`` / ``ACCOUNT_UPDATE`` when something changed, new deals to the
   RiskManager, and each closed trade, once, to the Critic, the RiskManager, the Strategy and
   SharedState's journal (``POSITION_CLOSED`` for the dashboard). These reads, and the
   QUOTE rounds, come after the orders waiting in the mailbox (:mod:`actors.broker.pacing`).

Times given to other roles (``MarketData.server_time``, ``BrokerSnapshot.server_time``,
``TradeClosed.opened_at``/``closed_at``) are market time as UTC epoch seconds; the terminal's
own records stay on its server clock. Gateway calls block the actor while they run, bounded by
``broker.call_timeout_s`` and ``broker.order_timeout_s``. An exception in a handler crashes the
actor on purpose: its replacement rebuilds everything from SharedState and the terminal.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from actors.broker.backends import BrokerBackend, make_backend
from actors.broker.deal_reader import CURSOR_KEY, DealCursor, DealReader, closed_positions
from actors.broker.desk import (
    WRITE_AHEAD_DEADLINE_S,
    CancelOrder,
    Conditions,
    Effect,
    LookUp,
    Lookup,
    Note,
    OrderDesk,
    Persist,
    PollSoon,
    ReadBooks,
    Reply,
    ResolveSoon,
    Send,
    SetStops,
    WriteAhead,
    order_intent,
)
from actors.broker.fate_match import OrderShape
from actors.broker.fault_switches import FaultChangeError, checked_fault_changes, fault_switches
from actors.broker.gate import GateState
from actors.broker.gateway import BrokerUnavailable, Gateway, GatewayError, GatewayTimeout
from actors.broker.intents import (
    INTENT_PREFIX,
    Intent,
    IntentStatus,
    close_all_order_id,
    close_order_id,
    intent_key,
)
from actors.broker.market_data import SpecCache, collect_market_data
from actors.broker.pacing import (
    ORDER_WAIT_S,
    QUOTE_BUDGET_S,
    YIELD_S,
    QuoteRotation,
    ReadStep,
    defer_read,
    next_quote_delay,
    read_step,
)
from actors.broker.positions_tracker import (
    POSITION_PREFIX,
    ChangeGate,
    PositionTracker,
    TrackedPosition,
    account_row,
    build_trade_closed,
    day_realised,
    position_key,
    position_row,
    risk_at_stop,
    server_day_start,
    tracked_from_deals,
)
from actors.broker.quotes import QuoteWatch
from actors.broker.reconcile import (
    ConnectionVerdict,
    connection_verdict,
    foreign_summary,
    plan_reconciliation,
    trade_mode_name,
)
from actors.broker.retcodes import CONNECTION_ERROR_CODES
from actors.broker.server_clock import ServerClock, history_from_record
from actors.runtime.base import EnsembleActor, handles
from actors.runtime.clock import Clock, ManualClock, WallClock, iso_utc
from actors.runtime.restart_policy import backoff_delay
from actors.shared_state.keys import KILL_SWITCH
from messages.backtest import MarketTime, MarketTimeSet
from messages.books import AccountRecord, DealRecord, OrderRecord, PositionRecord, TerminalRecord
from messages.commands import (
    JournalAppend,
    StateCompareAndSet,
    StateDelete,
    StateGet,
    StateGetLive,
    StateReply,
    StateSet,
)
from messages.events import AccountUpdate, BrokerStatus, Event, PositionClosed, PositionUpdate
from messages.market import Side, TickRecord
from messages.orders import OrderOutcome, Outcome
from messages.trading import (
    BrokerProfile,
    BrokerReady,
    BrokerSnapshot,
    BrokerSnapshotRequest,
    CloseAll,
    ClosePosition,
    DealsObserved,
    MarketData,
    MarketDataRequest,
    ModifyPosition,
    PlaceOrder,
    ReconnectBroker,
    RiskStatus,
    RiskStatusRequest,
    SetSimFaults,
    SimFaultsReply,
    TradeClosed,
    TradingGate,
)

__all__ = ["LIVE_RECENT_S", "REPORTED_PREFIX", "GatewayWedged", "MT5BrokerActor"]

AUTHORIZATION_FAILED = -6  # RES_E_AUTH_FAILED (reference mt5_api.md §9)


class GatewayWedged(RuntimeError):
    """A terminal call still runs past its time: the broker crashes on purpose."""

LIVE_RECENT_S = 3600.0
"""Final intents written this recently are read back at start and kept in memory (see
``actors/shared_state/live.py``); older ones are looked up one by one when asked about."""
SERVER_OFFSET_KEY = "broker.server_utc_offset"
"""The last measured server clock offset, for a restart while the market is closed."""
CLOCK_TICK_SYMBOLS = 8  # symbols whose ticks are read at connect to measure the server's clock
REPORTED_PREFIX = "broker.reported."
"""``broker.reported.<ticket>``: the closed trade of this position has been reported."""

DEAL_LOOKBACK_S = 30 * 86_400  # the deals the RiskManager's counters look back on
RECENT_DEALS_KEPT = 2000
UNREPORTED_RETRIES = 5  # polls that try to report a trade closed before it was seen open
CLOSE_REPORT_ATTEMPTS = 30  # polls to wait for a closed position's exit deal in the history
RESOLVE_INTERVAL_S = 1.0
REQUESTER_MARGIN = 0.8  # of the requester's wait: the rest carries the answer back
SHAPE_SLACK_S = 5.0  # how far before it was begun, and after now, an order is looked for
POLL_SOON_DELAY_S = 0.05
# "strategy" stands for every strategy's actor ("strategy.<name>").
TRADE_LISTENERS = ("critic", "risk", "strategy")
READY_LISTENERS = ("risk", "strategy", "shared_state")


@dataclass(frozen=True, slots=True)
class _ConnectDue:
    generation: int


@dataclass(frozen=True, slots=True)
class _PollDue:
    generation: int
    once: bool = False
    yielded: bool = False  # put back once already (actors.broker.pacing)


@dataclass(frozen=True, slots=True)
class _QuotesDue:
    generation: int
    yielded: bool = False


@dataclass(frozen=True, slots=True)
class _ResolveDue:
    pass


@dataclass(frozen=True, slots=True)
class _DeferredReadDue:
    pass


@dataclass(frozen=True, slots=True)
class _WedgeCheck:
    gateway: int  # id() of the gateway whose call was cut short


class MT5BrokerActor(EnsembleActor):
    role = "MT5Broker"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backend: BrokerBackend | None = None
        self.gateway: Gateway | None = None
        self.market_clock: Clock = WallClock()
        self.server_clock = ServerClock()
        self.clock_turn = -1
        self.universe: tuple[str, ...] = ()
        self.specs = SpecCache()
        # connection and readiness
        self.connected = False
        self.may_trade = False
        self.reconciled = False
        self.loaded = False
        self.loading = False
        self.verdict_detail = ""
        self.poll_problem = ""
        self.reconcile_detail = ""
        self.foreign_detail = ""
        self.status: tuple[str, str, BrokerProfile] | None = None
        self.connect_failures = 0
        self.auth_failure = ""  # the terminal's words: no retry until the operator says so
        self.connect_generation = 0
        self.poll_generation = 0
        self.resolve_scheduled = False
        self.poll_soon_pending = False
        self._ready_sent: dict[str, Any] = {}
        self._risk_asked: Any = None
        # books
        self.desk = OrderDesk(0)
        self.tracker = PositionTracker()
        self.gate = GateState()
        self.gate_from_risk = False
        self.account: AccountRecord | None = None
        self.terminal: TerminalRecord | None = None
        self.positions: tuple[PositionRecord, ...] = ()
        self.orders: tuple[OrderRecord, ...] = ()
        self.day_realised_pnl = 0.0
        self.recent_deals: OrderedDict[int, DealRecord] = OrderedDict()
        self.unreported_attempts: dict[int, int] = {}  # position ticket → polls that tried
        self.deals = DealReader(0)
        self.close_attempts: dict[int, int] = {}
        self.changes = ChangeGate()
        self.quotes = QuoteWatch()
        self.quote_rotation = QuoteRotation()
        # orders first (actors/broker/pacing.py): look-ups in flight, market data held meanwhile
        self.lookups = 0
        self.deferred_reads: deque[tuple[MarketDataRequest, Any, float]] = deque()
        self.deferred_read_due = False
        # closed trades to report, one at a time (_send_reports)
        self.unsent_reports: deque[TradeClosed] = deque()
        self.report_in_flight = False
        self.driven = False  # a backtest's driver moves the clock and asks for every poll

    def _listeners(self, roles: tuple[str, ...]) -> list[str]:
        names = []
        for role in roles:
            names += [role] if role != "strategy" else sorted(
                name for name in self.peers if name.startswith("strategy."))
        return names

    # --- lifecycle -----------------------------------------------------------------------------

    def on_configure(self) -> None:
        self.backend = make_backend(self.settings)
        self.market_clock = self.backend.market_clock
        self.server_clock.rule = self.backend.server_clock_rule()
        self.desk = OrderDesk(self.settings.broker.magic, decision_of=self._decision_of)
        self.deals = DealReader(self.settings.broker.magic)
        # Connecting can take long (initialize waits for the terminal): not inside Configure,
        # so the supervisor sees this actor started at once.
        self._schedule_connect(0.0)

    def on_stop(self) -> None:
        self._save_market_time(force=True)
        gateway, self.gateway = self.gateway, None
        if gateway is not None:
            try:
                gateway.close()
            except Exception as error:  # stopping anyway; the terminal outlives us
                self.log.warning("closing the gateway failed", reason=repr(error))

    def on_peers(self) -> None:
        risk = self.peer("risk")
        if risk is not None and risk != self._risk_asked:
            self._risk_asked = risk
            self.ask_peer("risk", RiskStatusRequest, self._on_risk_status)
            if self.recent_deals:
                # A new RiskManager rebuilds its counters; it ignores deals it already has.
                self.send(risk, DealsObserved(tuple(self.recent_deals.values())))
        self._announce_ready()

    # --- SharedState ---------------------------------------------------------------------------

    def _state(self, make: Callable[[str], Any],
               on_reply: Callable[[StateReply], None] | None = None) -> None:
        """Ask SharedState; every request the broker makes is idempotent (a set of a whole
        value, a read, a journal append or compare-and-set with an ``op_id``), so one whose
        SharedState died before answering is sent again to its replacement."""
        self.ask_peer("shared_state", make, on_reply or _ignore_reply, resend=True)

    @handles(StateReply)
    def _on_late_state_reply(self, reply: StateReply, sender: Any) -> None:
        """A second answer to a request sent again to a restarted SharedState: already done."""

    def _persist_intent(self, intent: Intent) -> None:
        record = intent.to_record()
        self._state(lambda rid: StateSet(request_id=rid, key=intent_key(intent.client_order_id),
                                         value=record), _check_written)

    def _persist_tracked(self, tracked: TrackedPosition) -> None:
        record = tracked.to_record()
        self._state(lambda rid: StateSet(request_id=rid, key=position_key(tracked.ticket),
                                         value=record), _check_written)

    # --- connection ----------------------------------------------------------------------------

    def _schedule_connect(self, delay: float) -> None:
        self.connect_generation += 1
        self.after(delay, _ConnectDue(self.connect_generation))

    @handles(_ConnectDue)
    def _on_connect_due(self, message: _ConnectDue, sender: Any) -> None:
        if (message.generation == self.connect_generation and not self.connected
                and not self.auth_failure):
            self._connect()

    def _connect(self) -> None:
        assert self.backend is not None
        backend = self.backend
        credentials = backend.credentials()
        try:
            if self.gateway is None:
                self.gateway = backend.open_gateway()
            account = self.gateway.connect(path=credentials.path, login=credentials.login,
                                           password=credentials.password,
                                           server=credentials.server)
            terminal = self.gateway.terminal()
        except BrokerUnavailable as error:
            self._connection_failed(str(error), None)
            return
        except GatewayError as error:
            if error.code == AUTHORIZATION_FAILED:
                self._authorization_failed(str(error))
            else:
                self._connection_failed(str(error), error.code)
            return
        verdict = self._verdict(account, terminal)
        self.account, self.terminal = account, terminal
        if verdict.state == "refused":
            self.log.error("refusing the account", detail=verdict.detail)
            self._connection_failed(verdict.detail, None, refused=True)
            return
        self.connected = True
        self.connect_failures = 0
        self.may_trade = verdict.may_trade
        self.verdict_detail = verdict.detail
        self.poll_problem = ""
        self.log.info("connected", broker=backend.kind, account=account.login,
                      server=account.server, trade_mode=trade_mode_name(account.trade_mode),
                      detail=verdict.detail)
        self._prepare_universe()
        self.reconcile_detail = "reconciling with the terminal"
        self._refresh_status()
        self._begin_reconcile()

    def _verdict(self, account: AccountRecord, terminal: TerminalRecord) -> ConnectionVerdict:
        assert self.backend is not None
        return connection_verdict(
            account, terminal, expected_login=self.backend.expected_login,
            expected_server=self.backend.expected_server,
            allow_real_account=self.settings.broker.allow_real_account,
        )  # fmt: skip

    def _prepare_universe(self) -> None:
        assert self.gateway is not None and self.backend is not None
        try:
            self.universe = self.backend.universe(self.gateway)
            ticks = self.gateway.ticks(self.universe[:CLOCK_TICK_SYMBOLS])
        except GatewayError as error:
            self.log.warning("reading the symbols failed", reason=str(error))
            return
        self._learn_server_offset(ticks)

    def _clock_symbol(self) -> tuple[str, ...]:
        """One symbol a poll, in turn: its tick measures the server's clock (a closed market's
        stale tick measures nothing, the next symbol may be open)."""
        if not self.universe:
            return ()
        self.clock_turn = (self.clock_turn + 1) % len(self.universe)
        return (self.universe[self.clock_turn],)

    @property
    def server_offset_s(self) -> int:
        """Server time − UTC: the one broker clock (0 until measured)."""
        return self.server_clock.offset_s or 0

    def _learn_server_offset(self, ticks: Mapping[str, TickRecord]) -> None:
        """Measure the server's clock from the ticks just read; a change goes out at once in
        the profile (BROKER_STATUS, BrokerReady) and is remembered in SharedState."""
        assert self.backend is not None
        before = self.server_clock.offset_s
        hint = self.backend.server_offset_hint(self.gateway)
        if not self.server_clock.observe({symbol: tick.time for symbol, tick in ticks.items()},
                                         self.market_clock.now(), hint):
            return
        offset = self.server_offset_s
        self.log.info("server clock offset", offset_s=offset, before_s=before)
        if before is None and self.server_clock.rule_shift_s:
            rule = self.server_clock.rule
            self.log.warning(
                "the server's clock is not the declared rule's: its switches before now are "
                "taken shifted by what was measured; set broker.server_time to the server's",
                rule=rule.setting if rule is not None else None, offset_s=offset,
                shift_s=self.server_clock.rule_shift_s)
        record = self.server_clock.record()
        self._state(lambda rid: StateSet(request_id=rid, key=SERVER_OFFSET_KEY, value=record),
                    _check_written)
        self._profile_changed()

    def _profile_changed(self) -> None:
        if self.status is not None:
            self._set_status(*self.status[:2])
        self._announce_ready()

    def _connection_failed(self, detail: str, code: int | None, *, refused: bool = False) -> None:
        broker = self.settings.broker
        was_ready = self.connected or self.reconciled
        self._disconnect()
        self.connect_failures += 1
        delay = broker.reconnect_max_s if refused else backoff_delay(
            self.connect_failures + 1, broker.reconnect_initial_s, broker.reconnect_max_s, 0.2
        )
        self.log.warning("broker disconnected", detail=detail, code=code,
                         retry_in_s=round(delay, 3))
        self._set_status("disconnected", detail)
        if was_ready:
            self._announce_ready(force=True)
        self._schedule_connect(delay)

    def _authorization_failed(self, detail: str) -> None:
        """Wrong login, server or password: stop connecting (repeated failed logins can lock
        an account) and say how to fix it; only the operator's ReconnectBroker tries again."""
        self._disconnect()
        self.auth_failure = detail
        password_env = self.settings.broker.password_env
        self.log.error("authorization failed; not retrying", detail=detail)
        self._set_status("auth_failed", (
            f"{detail}. Check broker.login, broker.server and the password in ${password_env}, "
            "then reconnect: POST /api/broker/reconnect"))
        self._announce_ready(force=True)

    def _disconnect(self) -> None:
        self.connected = self.reconciled = self.may_trade = False
        self.poll_generation += 1  # stop polling until reconnected
        assert self.backend is not None
        if self.gateway is not None and not self.backend.keeps_terminal_on_failure:
            # A real terminal's link (an RPyC connection, the module's IPC) is rebuilt from
            # scratch; the simulated terminal stays, with its books and fault switches.
            gateway, self.gateway = self.gateway, None
            gateway.close()

    @handles(_WedgeCheck)
    def _on_wedge_check(self, message: _WedgeCheck, sender: Any) -> None:
        gateway = self.gateway
        if gateway is not None and id(gateway) == message.gateway and gateway.wedged:
            self._wedged("a terminal call is still running past broker.call_timeout_s")

    @handles(ReconnectBroker)
    def _on_reconnect(self, message: ReconnectBroker, sender: Any) -> None:
        if not self.connected:
            self.log.info("reconnecting on the operator's command", after=self.auth_failure)
            self.auth_failure = ""
            self.connect_failures = 0
            self._connect()
        self._on_snapshot_request(BrokerSnapshotRequest(message.request_id), sender)

    def _gateway_failed(self, error: GatewayError) -> None:
        """A read failed: a lost connection is reconnected; anything else degrades the status
        until the next poll succeeds. A call that is still running after its time is up has
        wedged the gateway's one thread: the broker crashes on purpose (after answering what
        waits on it), and its supervisor starts a replacement with a fresh connection."""
        if isinstance(error, GatewayTimeout):
            call_timeout = self.settings.broker.call_timeout_s
            if error.timeout < call_timeout - 1e-9:
                # Cut short for a requester that would not wait longer: not a fault yet, unless
                # the call is still running when its own time is up.
                if self.gateway is not None and self.gateway.wedged:
                    self.after(call_timeout - error.timeout, _WedgeCheck(id(self.gateway)))
                return
            if self.gateway is not None and self.gateway.wedged:
                self._wedged(str(error))
        if error.code in CONNECTION_ERROR_CODES or isinstance(error, GatewayTimeout):
            self._connection_failed(str(error), error.code)
        else:
            self.poll_problem = str(error)
            self.log.warning("terminal call failed", reason=str(error))
            self._refresh_status()

    # --- status and readiness ------------------------------------------------------------------

    def _refresh_status(self) -> None:
        if not self.connected:
            return
        problems = [p for p in (self.verdict_detail, self.poll_problem) if p]
        if not self.reconciled:
            problems.append(self.reconcile_detail or "reconciling with the terminal")
        state = "degraded" if problems or not self.may_trade else "connected"
        detail = "; ".join(p for p in (*problems, self.foreign_detail) if p)
        self._set_status(state, detail)

    def _set_status(self, state: str, detail: str) -> None:
        """BROKER_STATUS when the state, its detail or the broker's profile changed."""
        status = (state, detail, self._profile())
        if self.status == status:
            return
        self.status = status
        self._publish_status()

    def _profile(self) -> BrokerProfile:
        assert self.backend is not None
        return self.backend.profile(connected=self.connected, account=self.account,
                                    server_utc_offset_s=self.server_offset_s,
                                    server_offset_history=self.server_clock.history)

    def _publish_status(self) -> None:
        if self.status is None:
            return
        state, detail, profile = self.status
        account = self.account
        self.publish([BrokerStatus(
            timestamp=self.now_iso(), state=state, kind=profile.kind,
            account=account.login if account else None,
            server=account.server if account else None,
            trade_mode=profile.trade_mode or None, detail=detail,
            connected=profile.connected, company=profile.company, currency=profile.currency,
            server_utc_offset_s=profile.server_utc_offset_s, speed=profile.speed,
            commission_per_lot=profile.commission_per_lot,
            fault_switches=profile.fault_switches,
        )])  # fmt: skip

    def _announce_ready(self, force: bool = False) -> None:
        """BrokerReady to the roles that trade or keep market time, on every change and to
        every new address (a restarted Strategy must learn it)."""
        if self.backend is None:
            return
        ready = BrokerReady(connected=self.connected, reconciled=self.reconciled,
                            profile=self._profile())
        for role in self._listeners(READY_LISTENERS):
            address = self.peer(role)
            if address is None:
                continue
            if force or self._ready_sent.get(role) != (address, ready):
                self._ready_sent[role] = (address, ready)
                self.send(address, ready)

    @handles(TradingGate)
    def _on_trading_gate(self, message: TradingGate, sender: Any) -> None:
        self.gate = GateState(message.mode, message.kill_switch, message.reason)
        self.gate_from_risk = True

    def _on_risk_status(self, message: RiskStatus) -> None:
        if self.gate_from_risk:
            return  # a TradingGate came first, and is newer
        mode = "PAUSED" if message.paused and message.mode == "ACTIVE" else message.mode
        self.gate = GateState(mode, message.kill_switch, message.reason)
        self.gate_from_risk = True

    # --- reconciliation ------------------------------------------------------------------------

    def _begin_reconcile(self) -> None:
        if not self.connected or self.reconciled:
            return
        if self.loaded:
            self._reconcile_with_terminal()
            return
        if self.loading:
            return
        self.loading = True
        # Only what is live, not every order and report ever made (actors/shared_state/live.py).
        self._state(lambda rid: StateGetLive(request_id=rid, keys=(CURSOR_KEY, SERVER_OFFSET_KEY),
                                             recent_s=LIVE_RECENT_S), self._on_loaded)
        self._state(lambda rid: StateGet(request_id=rid, key=KILL_SWITCH), self._on_kill_switch)

    def _on_loaded(self, reply: StateReply) -> None:
        if not reply.ok:
            raise RuntimeError(f"cannot read the broker's records from SharedState: "
                               f"{reply.error}")
        items: dict[str, Any] = reply.value or {}
        broken = self.desk.ledger.load(
            {k: v for k, v in items.items() if k.startswith(INTENT_PREFIX)}
        )
        broken += self.tracker.load(
            {k: v for k, v in items.items() if k.startswith(POSITION_PREFIX)}
        )
        cursor = items.get(CURSOR_KEY)
        if cursor is not None:
            try:
                self.deals.cursor = DealCursor.from_record(cursor)
            except (KeyError, TypeError, ValueError):
                broken.append(CURSOR_KEY)  # every deal of the window is read as new again
        saved_offset = items.get(SERVER_OFFSET_KEY)
        if not self.server_clock.known and isinstance(saved_offset, dict) and isinstance(
            saved_offset.get("offset_s"), int
        ):
            self.server_clock.restore(saved_offset["offset_s"],  # until a tick can tell
                                      history_from_record(saved_offset))
            self._profile_changed()
        if broken:
            self.log.error("unreadable broker records ignored", keys=broken[:20])
        self.loaded, self.loading = True, False
        self.log.info("broker records loaded", intents=len(self.desk.ledger),
                      tracked=len(self.tracker.tracked),
                      unresolved=len(self.desk.ledger.unresolved()))
        self._begin_reconcile()

    def _on_kill_switch(self, reply: StateReply) -> None:
        value = reply.value if reply.ok and reply.found else None
        if isinstance(value, dict) and value.get("latched") and not self.gate_from_risk:
            self.gate = GateState(self.gate.mode, True, str(value.get("reason", "")))

    def _reconcile_with_terminal(self) -> None:
        assert self.gateway is not None
        self._resolve_unresolved()
        if not self.connected:
            return
        try:
            positions = self.gateway.positions()
            orders = self.gateway.orders()
        except GatewayError as error:
            self._gateway_failed(error)
            return
        magic = self.settings.broker.magic
        plan = plan_reconciliation(positions, orders, magic, self.tracker.tracked,
                                   self.desk.ledger)
        for position in plan.adopt:
            tracked = TrackedPosition.adopt(position, *self._identify(position))
            self.tracker.track(tracked)
            self._persist_tracked(tracked)
        for tracked in plan.vanished:
            self._report_closed(tracked)  # closed while the broker was away
        self.positions, self.orders = plan.ours, plan.our_orders
        self.foreign_detail = foreign_summary(plan)
        if self.foreign_detail:
            self.log.warning("foreign positions and orders are left alone",
                             detail=self.foreign_detail)
        unresolved = self.desk.ledger.unresolved()
        if unresolved:
            self.reconcile_detail = (f"resolving {len(unresolved)} order(s) of unknown "
                                     "outcome from the terminal's books")
            self._refresh_status()
            self._schedule_resolve()
            return
        self.reconciled = True
        self.reconcile_detail = ""
        self.log.info("reconciled", adopted=[p.ticket for p in plan.adopt],
                      closed_while_away=[t.ticket for t in plan.vanished],
                      ours=len(plan.ours), foreign=len(plan.foreign))
        self._refresh_status()
        self._announce_ready(force=True)
        self._start_polling()

    def _decision_of(self, position: PositionRecord) -> str:
        tracked = self.tracker.get(position.ticket)
        return tracked.decision_id if tracked else ""

    def _identify(self, position: PositionRecord) -> tuple[str, str]:
        intent = self.desk.ledger.opened_position(position.ticket, position.comment)
        if intent is None:
            return position.comment, ""
        return intent.client_order_id, intent.decision_id

    def _schedule_resolve(self) -> None:
        if not self.resolve_scheduled:
            self.resolve_scheduled = True
            self.after(min(RESOLVE_INTERVAL_S, self.settings.broker.poll_interval_s),
                       _ResolveDue())

    @handles(_ResolveDue)
    def _on_resolve_due(self, message: _ResolveDue, sender: Any) -> None:
        self.resolve_scheduled = False
        if not self.connected:
            return  # reconnecting reconciles again, which resolves them
        if not self.reconciled:
            self._reconcile_with_terminal()
        else:
            self._resolve_unresolved()
            if self.desk.ledger.unresolved():
                self._schedule_resolve()
        self._carry_out(self.desk.report_jobs())
        self._save_market_time()

    def _resolve_unresolved(self) -> None:
        """Ask the terminal's books about every intent that was (perhaps) sent with no known
        outcome."""
        assert self.gateway is not None
        assert self.backend is not None
        magic = self.settings.broker.magic
        for intent in self.desk.to_resolve():
            since = intent.market_time - 3600 if intent.market_time else None
            try:
                fate = self.gateway.find_order_fate(intent.client_order_id, magic, since=since,
                                                    shape=self._shape_of(intent))
            except GatewayError as error:
                if error.code in CONNECTION_ERROR_CODES or isinstance(error, GatewayTimeout):
                    self._gateway_failed(error)
                    return
                self.log.warning("reading an order's fate failed", reason=str(error))
                continue
            self._carry_out(self.desk.fate_found(intent.client_order_id, fate, time.time(),
                                                 self.backend.in_flight_s))
            self._name_position(self.desk.ledger[intent.client_order_id])

    def _shape_of(self, intent: Intent) -> OrderShape | None:
        """What the order was, to find it in the books when its comment was rewritten: sent
        from when it was begun (less a little) until now, server clock."""
        if intent.side not in ("BUY", "SELL"):
            return None
        start = intent.market_time + self.server_offset_s - SHAPE_SLACK_S if (
            intent.market_time) else 0.0
        taken = frozenset(
            other.ticket for other in self.desk.ledger.all()
            if other.ticket and other.client_order_id != intent.client_order_id
            and other.kind == "open"
        )  # fmt: skip
        return OrderShape(
            symbol=intent.symbol, side=Side(intent.side), volume=intent.volume,
            start_msc=int(start * 1000), end_msc=int((self._server_now() + SHAPE_SLACK_S) * 1000),
            position=intent.ticket if intent.kind == "close" else None, taken=taken,
            others=frozenset(other.client_order_id for other in self.desk.ledger.all()
                             if other.client_order_id != intent.client_order_id),
        )  # fmt: skip

    def _name_position(self, intent: Intent) -> None:
        """An order resolved to a position the broker already tracks under another name (its
        comment was rewritten): the position carries the order's ids from now on."""
        if intent.kind != "open" or intent.status is not IntentStatus.DONE or not intent.ticket:
            return
        tracked = self.tracker.get(intent.ticket)
        if tracked is None or (tracked.client_order_id, tracked.decision_id) == (
            intent.client_order_id, intent.decision_id
        ):
            return
        named = dataclasses.replace(tracked, client_order_id=intent.client_order_id,
                                    decision_id=intent.decision_id)
        self.tracker.track(named)
        self._persist_tracked(named)

    # --- polling -------------------------------------------------------------------------------

    def _start_polling(self) -> None:
        self.poll_generation += 1
        self.after(0.0, _PollDue(self.poll_generation))
        self.quotes.forget()
        if self.settings.broker.quote_interval_ms > 0:
            self.after(0.0, _QuotesDue(self.poll_generation))

    def _paced(self, message: _PollDue | _QuotesDue) -> bool:
        """Orders first (:mod:`actors.broker.pacing`): True when the read may run now; else it
        is put back (once to let waiting messages in, then while an order is on its way)."""
        step = read_step(yielded=message.yielded, order_waiting=self._order_waiting)
        if step is ReadStep.READ:
            return True
        self.after(YIELD_S if step is ReadStep.YIELD else ORDER_WAIT_S,
                   dataclasses.replace(message, yielded=True))
        return False

    @property
    def _order_waiting(self) -> bool:
        """An order is between its arrival and its Send: a look-up or a write-ahead is awaited."""
        return self.lookups > 0 or self.desk.awaiting_write_ahead

    def _resume_reads(self) -> None:
        """Once no order waits, send the held reports and serve the market data requests
        held meanwhile, one a turn."""
        self._send_reports()
        if self.deferred_reads and not self._order_waiting and not self.deferred_read_due:
            self.deferred_read_due = True
            self.after(YIELD_S, _DeferredReadDue())

    @handles(_DeferredReadDue)
    def _on_deferred_read_due(self, message: _DeferredReadDue, sender: Any) -> None:
        self.deferred_read_due = False
        if self._order_waiting or not self.deferred_reads:
            return  # the order's end resumes them
        request, requester, arrived = self.deferred_reads.popleft()
        self._serve_market_data(request, requester, arrived)
        self._resume_reads()

    @handles(_QuotesDue)
    def _on_quotes_due(self, message: _QuotesDue, sender: Any) -> None:
        """The watched symbols' quotes that changed, as QUOTE events (at most one per symbol
        per ``broker.quote_interval_ms``); a backtest's driven terminal has none."""
        if message.generation != self.poll_generation or self.driven or not self._paced(message):
            return
        started = time.monotonic()
        if self.connected and self.reconciled and self.gateway is not None:
            self._publish_quotes(self.gateway)
        if message.generation == self.poll_generation:
            # Quotes are a view, orders are money: on a slow terminal a round reads what its
            # budget allows and the next waits 10 times its cost.
            self.after(next_quote_delay(self.settings.broker.quote_interval_ms / 1000.0,
                                        time.monotonic() - started),
                       _QuotesDue(self.poll_generation))

    def _publish_quotes(self, gateway: Gateway) -> None:
        universe = self.universe
        try:
            ticks, read = gateway.ticks_within(self.quote_rotation.order(universe),
                                               QUOTE_BUDGET_S)
        except GatewayError as error:
            self._gateway_failed(error)
            return
        self.quote_rotation.advance(read, len(universe))
        points: dict[str, float] = {}
        for symbol in ticks:
            try:
                points[symbol] = self.specs.get(gateway, symbol).point
            except GatewayError:
                continue  # its spread shows as 0 until its spec can be read
        self.publish(self.quotes.changed(ticks, points, self.server_offset_s, self.now_iso()))

    def _poll_soon(self) -> None:
        """An extra poll shortly, so a fill or a close shows without waiting for the next
        regular one; a burst of orders shares one."""
        if self.reconciled and not self.poll_soon_pending:
            self.poll_soon_pending = True
            self.after(POLL_SOON_DELAY_S, _PollDue(self.poll_generation, once=True))

    @handles(_PollDue)
    def _on_poll_due(self, message: _PollDue, sender: Any) -> None:
        stale = message.generation != self.poll_generation or self.driven
        if not stale and not self._paced(message):
            return
        if message.once:
            self.poll_soon_pending = False
        if stale:
            return
        if self.connected and self.reconciled:
            self._poll()
        if not message.once and message.generation == self.poll_generation:
            # Counted from the end of this poll: a slow terminal must leave the actor time for
            # its other messages (an expired timer is delivered before waiting messages).
            self.after(self.settings.broker.poll_interval_s, _PollDue(self.poll_generation))

    def _deal_window(self, server_now: float) -> tuple[float, float]:
        """History to read, in the server's clock (the terminal compares dates in it): the
        broker's day (for its realised P&L) and everything since the last deal seen."""
        day = server_day_start(server_now) - 3600.0
        first_start = server_now - DEAL_LOOKBACK_S
        default_msc = int(day * 1000) if self.deals.cursor is not None else int(first_start * 1000)
        return self.deals.window_start_msc(default_msc) / 1000.0, server_now + 86_400.0

    def _poll(self) -> None:
        gateway = self.gateway
        assert gateway is not None
        broker = self.settings.broker
        server_now = self._server_now()
        try:
            positions = gateway.positions()
            orders = gateway.orders()
            account = gateway.account()
            terminal = gateway.terminal()
            deals = gateway.history_deals(*self._deal_window(server_now))
            ticks = gateway.ticks(self._clock_symbol())
        except GatewayError as error:
            self._gateway_failed(error)
            return
        self._learn_server_offset(ticks)
        verdict = self._verdict(account, terminal)
        if verdict.state == "refused":
            self._connection_failed(verdict.detail, None, refused=True)
            return
        self.account, self.terminal = account, terminal
        self.may_trade, self.verdict_detail, self.poll_problem = (
            verdict.may_trade, verdict.detail, ""
        )
        magic = broker.magic
        ours = tuple(p for p in positions if p.magic == magic)
        self.positions = ours
        self.orders = tuple(o for o in orders if o.magic == magic)
        observation = self.tracker.observe(ours, self._identify)
        for tracked in (*observation.adopted, *observation.changed):
            self._persist_tracked(tracked)
        for tracked in observation.closed:
            self._report_closed(tracked)
        self._observe_deals(deals, {p.ticket for p in ours})
        self.day_realised_pnl = day_realised(deals, server_day_start(server_now))
        events: list[Event] = []
        rows = tuple(position_row(p, tracked, self._strategy_of(tracked) if tracked else "")
                     for p in ours for tracked in (self.tracker.get(p.ticket),))
        if self.changes.changed("positions", rows):
            events.append(PositionUpdate(timestamp=self.now_iso(), positions=rows))
        row = account_row(account, self.day_realised_pnl + account.profit)
        if self.changes.changed("account", row):
            events.append(AccountUpdate(timestamp=self.now_iso(), account=row))
        self.publish(events)
        self._refresh_status()
        self._save_market_time()
        self.desk.forget_settled(time.time() - LIVE_RECENT_S, self.tracker.tracked.keys())

    def _observe_deals(self, deals: tuple[DealRecord, ...],
                       open_tickets: set[int]) -> None:
        """Our new deals (each once, across restarts) go to the RiskManager; a position they
        closed that was never seen open (it opened and closed between two polls) is reported
        as a closed trade like any other."""
        before = self.deals.cursor
        fresh = self.deals.fresh(deals)
        if not fresh:
            return
        for deal in fresh:
            self.recent_deals[deal.ticket] = deal
        while len(self.recent_deals) > RECENT_DEALS_KEPT:
            self.recent_deals.popitem(last=False)
        risk = self.peer("risk")
        if risk is not None:
            account = self.account
            self.send(risk, DealsObserved(  # it counts each ticket once
                tuple(fresh),
                floating_pnl=None if account is None else account.equity - account.balance,
                open_tickets=tuple(sorted(open_tickets))))
        unreported = [ticket for ticket in closed_positions(fresh, open_tickets)
                      if ticket not in self.tracker and ticket not in self.tracker.reporting
                      and not self._report_unseen(ticket)]  # seen open: reported when gone
        if self._retry_next_poll(unreported):
            # The cursor stays where it was, so the next poll reads these deals again (the
            # report claims keep each trade that did go out to once).
            self.deals.cursor = before
            return
        # Saved after the reports have gone to SharedState: a broker killed in between reads
        # these deals again (and the report claims keep each trade to once).
        assert self.deals.cursor is not None
        record = self.deals.cursor.to_record()
        self._state(lambda rid: StateSet(request_id=rid, key=CURSOR_KEY, value=record),
                    _check_written)

    def _retry_next_poll(self, unreported: list[int]) -> bool:
        """Whether a closed trade that could not be reported now (a failed terminal call, a
        history that does not show its entry yet) is tried again at the next poll; each is
        tried :data:`UNREPORTED_RETRIES` times before it is given up, loudly."""
        retry = False
        for ticket in unreported:
            attempts = self.unreported_attempts.get(ticket, 0) + 1
            self.unreported_attempts[ticket] = attempts
            if attempts < UNREPORTED_RETRIES:
                retry = True
            else:
                self.log.error("closed position could not be reported; given up",
                               ticket=ticket, attempts=attempts)
        return retry

    def _report_unseen(self, ticket: int) -> bool:
        """Report a position that closed before any poll saw it open; False when it could not
        be (yet)."""
        assert self.gateway is not None
        try:
            deals = self.gateway.deals_of_position(ticket)
            orders = self.gateway.history_orders_of_position(ticket)
        except GatewayError as error:
            self._gateway_failed(error)
            return False
        opening = min(orders, key=lambda o: (o.time_setup_msc, o.ticket), default=None)

        def identify(ticket: int, comment: str) -> tuple[str, str, float, float]:
            intent = self.desk.ledger.opened_position(ticket, comment)
            coid, decision = (intent.client_order_id, intent.decision_id) if intent else (
                comment, "")
            # The stops the server took (on its tick grid), else the ones the intent asked for.
            if opening is not None and (opening.sl or opening.tp):
                return coid, decision, opening.sl, opening.tp
            if intent is not None:
                return coid, decision, intent.sl, intent.tp
            return coid, decision, 0.0, 0.0

        tracked = tracked_from_deals(ticket, deals, identify)
        if tracked is None:
            self.log.warning("closed position has no entry deal in the history yet",
                             ticket=ticket)
            return False
        self._report_closed(tracked, deals)
        self.unreported_attempts.pop(ticket, None)
        return True

    def _strategy_of(self, tracked: TrackedPosition) -> str:
        intent = self.desk.ledger.opened_position(tracked.ticket, tracked.client_order_id)
        return intent.strategy if intent is not None else ""

    def _planned_risk(self, tracked: TrackedPosition) -> float:
        """The loss at the initial stop: as the RiskManager approved it, else from the stop the
        order was sent with (else the position's own) and the symbol's tick value."""
        intent = self.desk.ledger.opened_position(tracked.ticket, tracked.client_order_id)
        if intent is not None and intent.planned_risk > 0:
            return intent.planned_risk
        sl = (intent.sl if intent is not None and intent.sl else 0.0) or tracked.sl
        assert self.gateway is not None
        try:
            spec = self.specs.get(self.gateway, tracked.symbol)
        except GatewayError:
            return 0.0
        return risk_at_stop(tracked.entry_price, sl, tracked.volume, spec.trade_tick_size,
                            spec.trade_tick_value_loss or spec.trade_tick_value)

    def _report_closed(self, tracked: TrackedPosition,
                       deals: tuple[DealRecord, ...] | None = None) -> None:
        """Report a closed position once: journal it (idempotent by op id), claim the report
        in SharedState (compare-and-set: only the first claim wins, across restarts), then
        tell the Critic, the RiskManager and the Strategy."""
        if tracked.ticket in self.tracker.reporting or not self.connected:
            return  # (a poll reports it once the terminal answers again)
        assert self.gateway is not None
        if deals is None:
            try:
                deals = self.gateway.deals_of_position(tracked.ticket)
            except GatewayError as error:
                self._gateway_failed(error)
                return
        trade = build_trade_closed(tracked, deals, self.server_offset_s,
                                   self.desk.ledger.purpose_of, self._planned_risk(tracked),
                                   self._strategy_of(tracked))
        if trade is None:
            attempts = self.close_attempts.get(tracked.ticket, 0) + 1
            self.close_attempts[tracked.ticket] = attempts
            if attempts >= CLOSE_REPORT_ATTEMPTS:
                self.log.error("closed position has no exit deal; not reported",
                               ticket=tracked.ticket)
                self._forget_position(tracked.ticket)
            return
        self.tracker.reporting.add(tracked.ticket)
        self.unsent_reports.append(trade)
        self._send_reports()

    def _send_reports(self) -> None:
        """One closed trade's report at a time, and none while an order is on its way out.
        An order's look-up and write-ahead wait in SharedState's one mailbox behind whatever
        the broker sent there before them: a poll that found six closed trades sent eight
        requests for each at once, and the next order waited 50-200 ms behind them (README,
        Broker). The next report goes when this one's claim is answered."""
        if self.report_in_flight or not self.unsent_reports or self._order_waiting:
            return
        trade = self.unsent_reports.popleft()
        self.report_in_flight = True
        record = dataclasses.asdict(trade)
        self._state(lambda rid: JournalAppend(
            request_id=rid, op_id=f"trade-{trade.ticket}", kind="trade", key=trade.symbol,
            record=record, decision_id=trade.decision_id,
        ), _check_written)  # fmt: skip
        claim = {"at": iso_utc(trade.closed_at), "profit": trade.profit}
        self._state(lambda rid: StateCompareAndSet(
            request_id=rid, key=f"{REPORTED_PREFIX}{trade.ticket}", expected=None, new=claim,
            op_id=f"report-{trade.ticket}-{uuid.uuid4().hex}",
        ), lambda reply: self._on_report_claimed(trade, reply))  # fmt: skip

    def _on_report_claimed(self, trade: TradeClosed, reply: StateReply) -> None:
        self.report_in_flight = False
        if reply.error is not None:
            raise RuntimeError(f"cannot record the report of trade {trade.ticket}: {reply.error}")
        if reply.ok:  # the first claim: nobody has reported this trade before
            for role in self._listeners(TRADE_LISTENERS):
                address = self.peer(role)
                if address is not None:
                    self.send(address, trade)
            self.publish([PositionClosed(
                timestamp=self.now_iso(), ticket=trade.ticket, symbol=trade.symbol,
                direction=trade.direction, volume=trade.volume, entry_price=trade.entry_price,
                exit_price=trade.exit_price, profit=trade.profit,
                decision_id=trade.decision_id or None, strategy=trade.strategy,
            )])  # fmt: skip
            self.log.info("trade closed", ticket=trade.ticket, symbol=trade.symbol,
                          profit=trade.profit, exit_reason=trade.exit_reason)
        self._forget_position(trade.ticket)
        self._send_reports()

    def _forget_position(self, ticket: int) -> None:
        self.tracker.forget(ticket)
        self.close_attempts.pop(ticket, None)
        self._state(lambda rid: StateDelete(request_id=rid, key=position_key(ticket)))

    # --- orders: the desk decides, the actor carries out ------------------------------------------

    def _conditions(self) -> Conditions:
        return Conditions(connected=self.connected, reconciled=self.reconciled,
                          may_trade=self.may_trade, gate=self.gate,
                          market_time=self.market_clock.now(), risk=self.peer("risk"),
                          require_approval=self.settings.broker.require_approval
                          or self._real_account())

    def _real_account(self) -> bool:
        """Fail closed: an account that is not known to be demo or contest counts as real."""
        return self.account is None or trade_mode_name(self.account.trade_mode) not in (
            "demo", "contest")

    @handles(PlaceOrder)
    def _on_place_order(self, order: PlaceOrder, sender: Any) -> None:
        self._known_first([order.client_order_id], order.request_id, sender,
                          lambda: self._carry_out(self.desk.place(
                              order, sender, self._conditions(), time.time())))

    @handles(ClosePosition)
    def _on_close_position(self, message: ClosePosition, sender: Any) -> None:
        self._known_first([close_order_id(message.op_id)], message.request_id, sender,
                          lambda: self._carry_out(self.desk.close(
                              message, sender, self._conditions(), time.time())))

    def _known_first(self, client_order_ids: Sequence[str], request_id: str, sender: Any,
                     decide: Callable[[], None]) -> None:
        """Let the desk decide on a request once it holds the records of its client order
        ids, where there are any: an intent not in memory (final ones are neither loaded at
        start nor kept for long) is read from SharedState first, so that it is answered from
        its record and never sent again. One unreadable: the request is refused (fail
        closed), with nothing sent."""
        missing = [coid for coid in dict.fromkeys(client_order_ids)
                   if coid not in self.desk.ledger]
        if not missing:
            decide()
            return
        waiting = set(missing)
        refused: list[bool] = []

        def settled(client_order_id: str, error: str | None) -> None:
            self.lookups -= 1
            waiting.discard(client_order_id)
            if error is not None and not refused:
                refused.append(True)
                self._carry_out(self.desk.unreadable(request_id, sender, client_order_id,
                                                     error))
            elif not waiting and not refused:
                decide()
            self._resume_reads()

        for client_order_id in missing:
            self.lookups += 1
            # Bounded like a write-ahead: a decision that waited longer than that is stale.
            self.ask_peer(
                "shared_state",
                lambda rid, coid=client_order_id: StateGet(request_id=rid, key=intent_key(coid)),
                lambda reply, coid=client_order_id: settled(coid, self._load_looked_up(reply,
                                                                                     coid)),
                WRITE_AHEAD_DEADLINE_S,
                lambda coid=client_order_id: settled(coid, "SharedState did not answer in time"),
                resend=True)

    def _load_looked_up(self, reply: StateReply, client_order_id: str) -> str | None:
        """Put a looked-up record in the desk's ledger; why it cannot be trusted, if so."""
        if not reply.ok:
            return str(reply.error)
        if reply.found and client_order_id not in self.desk.ledger:
            broken = self.desk.ledger.load({intent_key(client_order_id): reply.value})
            if broken:
                return "unreadable record"
            if self.desk.ledger[client_order_id].unresolved:
                self._schedule_resolve()
        return None

    @handles(CloseAll)
    def _on_close_all(self, message: CloseAll, sender: Any) -> None:
        self._carry_out(self.desk.close_all(message, sender, self._conditions()))

    def _books_read(self, effect: ReadBooks) -> list[Effect]:
        """A close-all's books: the closes it would send are looked up first, like any other
        order (``_known_first``), so that a close-all retried after its records left memory is
        answered from them instead of closing again."""
        positions, orders = self._read_books()
        request = effect.lookup.request
        magic = self.settings.broker.magic
        coids = [close_all_order_id(request.op_id, position.ticket)
                 for position in positions or () if position.magic == magic
                 ] if isinstance(request, CloseAll) else []
        if any(coid not in self.desk.ledger for coid in coids):
            assert isinstance(request, CloseAll)
            self._known_first(coids, request.request_id, effect.lookup.requester,
                              lambda: self._carry_out(self.desk.books_read(
                                  effect.lookup, positions, orders, self._conditions(),
                                  time.time())))
            return []
        return self.desk.books_read(effect.lookup, positions, orders, self._conditions(),
                                    time.time())

    @handles(ModifyPosition)
    def _on_modify(self, message: ModifyPosition, sender: Any) -> None:
        self._carry_out(self.desk.modify(message, sender, self._conditions()))

    def _carry_out(self, effects: list[Effect]) -> None:
        """Carry the desk's effects out, in order; what comes of one goes back to the desk,
        whose further effects run next."""
        queue: deque[Effect] = deque(effects)
        while queue:
            effect = queue.popleft()
            more = self._carry_out_one(effect)
            queue.extendleft(reversed(more))

    def _carry_out_one(self, effect: Effect) -> list[Effect]:
        if isinstance(effect, Reply):
            self.send(effect.to, effect.report)
        elif isinstance(effect, Persist):
            self._persist_intent(effect.intent)
        elif isinstance(effect, WriteAhead):
            self._write_ahead(effect)
        elif isinstance(effect, Send):
            outcome = self._send(effect.intent)
            self._save_market_time()
            return self.desk.sent(effect.job_id, effect.intent.client_order_id, outcome,
                                  self._conditions(), time.time())
        elif isinstance(effect, LookUp):
            return self.desk.looked_up(effect.lookup, self._read_position(effect.lookup),
                                       self._conditions(), time.time())
        elif isinstance(effect, ReadBooks):
            return self._books_read(effect)
        elif isinstance(effect, CancelOrder):
            assert self.gateway is not None
            outcome = self.gateway.cancel_order(effect.ticket)
            self.log.info("pending order cancelled", ticket=effect.ticket, outcome=outcome.reason)
        elif isinstance(effect, SetStops):
            return self._set_stops(effect)
        elif isinstance(effect, ResolveSoon):
            self._schedule_resolve()
        elif isinstance(effect, PollSoon):
            self._poll_soon()
        elif isinstance(effect, Note):
            getattr(self.log, effect.level)(effect.text, **effect.fields)
        return []

    def _write_ahead(self, effect: WriteAhead) -> None:
        intent = effect.intent
        record = intent.to_record()
        coid = intent.client_order_id

        def on_reply(reply: StateReply) -> None:
            self._carry_out(self.desk.written(effect.job_id, coid, reply.ok, reply.error,
                                              self._conditions(), time.time()))
            self._resume_reads()

        self._state(lambda rid: StateSet(request_id=rid, key=intent_key(coid), value=record),
                    on_reply)

    def _read_position(self, lookup: Lookup) -> tuple[PositionRecord, ...] | None:
        assert self.gateway is not None
        ticket = getattr(lookup.request, "ticket", 0)
        try:
            return self.gateway.positions(ticket=ticket)
        except GatewayError as error:
            self._gateway_failed(error)
            return None

    def _read_books(self) -> tuple[tuple[PositionRecord, ...] | None, tuple[OrderRecord, ...]]:
        assert self.gateway is not None
        try:
            return self.gateway.positions(), self.gateway.orders()
        except GatewayError as error:
            self._gateway_failed(error)
            return None, ()

    def _send(self, intent: Intent) -> OrderOutcome:
        assert self.gateway is not None
        magic = self.settings.broker.magic
        if intent.kind == "open":
            outcome = self.gateway.place_order(order_intent(intent, magic))
        else:
            assert intent.ticket is not None
            outcome = self.gateway.close_position(
                intent.ticket, client_order_id=intent.client_order_id, magic=magic,
                volume=intent.volume, deviation_points=intent.deviation_points,
            )  # fmt: skip
        if self.gateway.wedged:
            # Recorded first: the replacement resolves this order from the books.
            self._persist_intent(self.desk.ledger.apply_outcome(
                intent.client_order_id, outcome, time.time()))
            self._wedged(f"order_send of {intent.client_order_id} did not return in time")
        return outcome

    def _wedged(self, detail: str) -> None:
        """Answer every request waiting on the gateway, then crash (let the supervisor start a
        broker with a fresh terminal connection)."""
        self._carry_out(self.desk.abandon_all("unavailable"))
        self.log.error("the terminal gateway is wedged; restarting the broker", detail=detail)
        self._set_status("disconnected", f"gateway wedged: {detail}; restarting the broker")
        raise GatewayWedged(detail)

    def _set_stops(self, effect: SetStops) -> list[Effect]:
        assert self.gateway is not None
        ticket = effect.position.ticket
        outcome = self.gateway.modify_position(ticket, sl=effect.sl, tp=effect.tp)
        stops_now: tuple[float, float] | None = None
        if outcome.status is Outcome.UNKNOWN:
            try:
                found = self.gateway.positions(ticket=ticket)
            except GatewayError:
                found = ()
            if found:
                stops_now = (found[0].sl, found[0].tp)
        return self.desk.stops_set(effect, outcome, stops_now)


    # --- market data and snapshots -------------------------------------------------------------

    @handles(MarketDataRequest)
    def _on_market_data(self, request: MarketDataRequest, sender: Any) -> None:
        """Bars and ticks for a requester; held while an order is on its way out (its reads
        can take the requester's whole wait on a slow terminal), in order of arrival. Not in a
        backtest: its driven terminal has no timers, and a wall-clock wakeup would make the
        order of its messages depend on the machine's speed."""
        arrived = time.monotonic()
        if not self.driven and defer_read(order_waiting=self._order_waiting,
                                          held=len(self.deferred_reads)):
            self.deferred_reads.append((request, sender, arrived))
            self._resume_reads()
            return
        self._serve_market_data(request, sender, arrived)

    def _serve_market_data(self, request: MarketDataRequest, sender: Any,
                           arrived: float) -> None:
        symbols = tuple(request.symbols) or self.universe
        if not self.connected or self.gateway is None:
            self.send(sender, MarketData(request.request_id, self.market_clock.now(), {}, {}, {},
                                         errors=dict.fromkeys(symbols, "disconnected"),
                                         unavailable=True))
            return
        try:
            data = collect_market_data(self.gateway, symbols, request.timeframes, request.bars,
                                       self.specs, self._deadline(request.timeout_s,
                                                                  arrived))
        except GatewayError as error:
            self.send(sender, MarketData(request.request_id, self.market_clock.now(), {}, {}, {},
                                         errors=dict.fromkeys(symbols, str(error)),
                                         unavailable=True))
            self._gateway_failed(error)
            return
        self.send(sender, MarketData(request.request_id, self.market_clock.now(), data.ticks,
                                     data.specs, data.bars, data.errors,
                                     server_utc_offset_s=self.server_offset_s,
                                     server_offset_history=self.server_clock.history))
        if any(code in CONNECTION_ERROR_CODES for code in data.error_codes.values()):
            self._poll_soon()
        if data.ticks:
            self._learn_server_offset(data.ticks)
        self._save_market_time()

    @handles(BrokerSnapshotRequest)
    def _on_snapshot_request(self, request: BrokerSnapshotRequest, sender: Any) -> None:
        self.send(sender, BrokerSnapshot(
            request.request_id, connected=self.connected, reconciled=self.reconciled,
            server_time=self.market_clock.now(), account=self.account,
            positions=self.positions, orders=self.orders, day_realised=self.day_realised_pnl,
            profile=self._profile() if self.backend is not None else None,
        ))  # fmt: skip

    # --- the simulated terminal's fault switches -----------------------------------------------

    @handles(SetSimFaults)
    def _on_set_sim_faults(self, message: SetSimFaults, sender: Any) -> None:
        def reply(status: int, detail: str = "", faults: dict[str, Any] | None = None) -> None:
            self.send(sender, SimFaultsReply(message.request_id, status, faults or {}, detail))

        assert self.backend is not None
        if not self.backend.has_fault_switches:
            reply(409, f"broker.kind is {self.backend.kind!r}: fault switches exist only on "
                       "the simulated terminal (broker.kind=sim)")
            return
        terminal = self.backend.fault_terminal(self.gateway)
        if terminal is None:
            reply(503, "the simulated terminal is not open yet")
            return
        try:
            changes = checked_fault_changes(message.changes, terminal.fault_config)
        except FaultChangeError as error:
            reply(400, str(error), fault_switches(terminal.fault_config))
            return
        faults = terminal.set_faults(**changes) if changes else terminal.fault_config
        if changes:
            self.log.warning("simulated terminal fault switches changed", changes=changes)
            if not self.connected and not self.auth_failure:
                self.connect_failures = 0
                self._schedule_connect(0.0)  # try at once instead of at the backoff's pace
            self._poll_soon()
        reply(200, "", fault_switches(faults))

    # --- time ------------------------------------------------------------------------------------

    @staticmethod
    def _deadline(requester_waits_s: float | None,
                  asked_at: float | None = None) -> float | None:
        """When to give up on the terminal so the requester still gets the answer (monotonic
        time, counted from ``asked_at``, default now; None: only the gateway's own call
        timeout)."""
        if requester_waits_s is None or not requester_waits_s > 0:
            return None
        start = time.monotonic() if asked_at is None else asked_at
        return start + requester_waits_s * REQUESTER_MARGIN

    @handles(MarketTime)
    def _on_market_time(self, message: MarketTime, sender: Any) -> None:
        """A backtest's driver moves the driven simulated terminal to its time: poll there
        (SL/TP, swaps and closes up to it) and answer with the account. From the first such
        message on, the broker polls only when told."""
        self.set_market_time(message.now)
        self.driven = True
        clock = self.market_clock
        if not isinstance(clock, ManualClock):
            self.send(sender, MarketTimeSet(message.request_id, message.now, 0.0, 0.0, 0,
                                            ok=False, detail="the terminal's clock is not "
                                            "driven (sim.driven = false)"))
            return
        clock.set(message.now)
        if self.connected and self.reconciled:
            self._poll()
        account = self.account
        ready = self.connected and self.reconciled and account is not None
        self.send(sender, MarketTimeSet(
            message.request_id, message.now, account.balance if account else 0.0,
            account.equity if account else 0.0, len(self.positions), ok=ready,
            detail="" if ready else (self.reconcile_detail or self.poll_problem
                                     or "not connected")))

    def _server_now(self) -> float:
        return self.market_clock.now() + self.server_offset_s

    def _save_market_time(self, force: bool = False) -> None:
        if self.driven and not force:
            # A backtest's clock moves only when its driver says, and a driven terminal's
            # clock never resumes from the file: it is written once, when the broker stops,
            # not every quarter second of wall time through the run.
            return
        if self.backend is not None:
            try:
                self.backend.save_market_time(force=force)
            except OSError as error:
                self.log.warning("saving the market time failed", reason=repr(error))


def _ignore_reply(reply: StateReply) -> None:
    return None


def _check_written(reply: StateReply) -> None:
    if not reply.ok:
        raise RuntimeError(f"SharedState refused a broker record: {reply.error}")
