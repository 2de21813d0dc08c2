"""Commands and replies between the trading roles: market data, orders, risk verdicts,
research, closed trades, and the operator's controls.

Every request carries a ``request_id`` echoed by its reply. Requests that change the world carry
an id that makes a retry harmless: ``client_order_id`` for a new order (the broker never sends
the same one twice), ``op_id`` for the rest. Records (:mod:`messages.market`,
:mod:`messages.books`) are frozen dataclasses of builtins and travel as they are; bars travel
as numpy structured arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from messages.books import AccountRecord, DealRecord, OrderRecord, PositionRecord
from messages.market import Bars, Side, SymbolSpecRecord, TickRecord
from messages.orders import Outcome
from messages.research import Action, Lesson, MarketFacts, Regime
from messages.risk import OrderInput, PreScanInput

__all__ = [
    "Approval",
    "BrokerProfile",
    "BrokerReady",
    "BrokerSnapshot",
    "BrokerSnapshotRequest",
    "CloseAll",
    "ClosePosition",
    "ControlCommand",
    "ControlReply",
    "DealsObserved",
    "LessonsReply",
    "LessonsRequest",
    "MarketData",
    "MarketDataRequest",
    "ModifyPosition",
    "OrderApproval",
    "OrderReport",
    "PlaceOrder",
    "PreScanCheck",
    "PreScanVerdict",
    "ReconnectBroker",
    "ResearchReply",
    "ResearchRequest",
    "RiskDay",
    "RiskStatus",
    "RiskStatusRequest",
    "SetSimFaults",
    "SimFaultsReply",
    "SubmitOrder",
    "TradeClosed",
    "TradingGate",
]

# --- MT5Broker: market data ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketDataRequest:
    """Ticks, symbol specs and the last ``bars`` *closed* bars of each timeframe for many
    symbols, in one message (empty ``symbols``: the broker's whole universe)."""

    request_id: str
    symbols: tuple[str, ...]
    timeframes: tuple[str, ...] = ("M1", "M5", "H1", "H4")
    bars: int = 300
    timeout_s: float | None = None
    """How long the requester waits: the broker answers (with errors) before that."""


@dataclass(frozen=True, slots=True)
class MarketData:
    request_id: str
    server_time: float
    ticks: dict[str, TickRecord]
    specs: dict[str, SymbolSpecRecord]
    bars: dict[str, dict[str, np.ndarray]]  # symbol → timeframe → closed bars, oldest first
    errors: dict[str, str] = field(default_factory=dict)  # symbol → why it is missing
    server_utc_offset_s: float = 0.0
    """The broker's clock now: tick times minus this are UTC."""
    server_offset_history: tuple[tuple[float, float, int], ...] = ()
    """When each offset the broker measured took effect (as ``BrokerProfile``'s): bars from
    before a DST switch are converted with the offset of their own time
    (:func:`~messages.server_time.server_times_to_utc`)."""
    unavailable: bool = False
    """The terminal could not be read at all (disconnected, a failed or hung call): ask again
    later. A symbol missing for its own reason (unknown, no data) leaves this False."""

    def bars_of(self, symbol: str, timeframe: str) -> Bars | None:
        """``symbol``'s ``timeframe`` as :class:`Bars` in UTC (None: not fetched)."""
        rates = self.bars.get(symbol, {}).get(timeframe)
        if rates is None:
            return None
        return Bars.from_rates(rates, self.server_utc_offset_s, self.server_offset_history)


# --- MT5Broker: orders ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Approval:
    """The RiskManager's approval of one opening order, carried by its :class:`PlaceOrder`.

    The broker sends an opening order only when it comes from the current RiskManager with an
    approval that matches it (client order id, symbol, side, a volume no larger) and has not
    expired; anything else is refused with a :class:`~messages.orders.RefusalCode`. The risk at
    the stop is reserved in the RiskManager's books until the order's fate is known.
    """

    client_order_id: str
    decision_id: str
    strategy: str
    symbol: str
    side: Side
    volume: float
    """The most the broker may send."""
    risk_money: float
    """Loss at the stop, in account currency, reserved for this order."""
    expires_at: float
    """Wall-clock epoch seconds; the broker refuses the order after it."""


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A market order. An opening order is sent by the RiskManager with its ``approval``;
    the broker sends a given ``client_order_id`` at most once, whatever happens (retries,
    restarts, SIGKILL mid-order). ``reference_price`` is the price the decision was made at:
    the broker re-bases SL/TP on the current quote keeping their distances from it, and
    refuses the order when the price has moved further than the configured guard."""

    request_id: str
    client_order_id: str
    decision_id: str
    symbol: str
    side: Side
    volume: float
    sl: float
    tp: float
    deviation_points: int = 20
    approval: Approval | None = None
    reference_price: float = 0.0
    strategy: str = ""


@dataclass(frozen=True, slots=True)
class SubmitOrder:
    """Strategy → RiskManager: open a position. The RiskManager checks and sizes it, reserves
    its risk and sends the :class:`PlaceOrder` (with its :class:`Approval`) to the broker. It
    answers at once with an :class:`OrderApproval`, then forwards the broker's
    :class:`OrderReport` messages under this ``request_id``. ``order`` holds the inputs the
    rules judge, built from the same market data the strategy scanned."""

    request_id: str
    decision_id: str
    strategy: str
    symbol: str
    side: Side
    confidence: float
    entry: float
    sl: float
    tp: float
    order: OrderInput


@dataclass(frozen=True, slots=True)
class ModifyPosition:
    request_id: str
    op_id: str
    ticket: int
    sl: float | None
    tp: float | None


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Close ``volume`` of a position (None: all of it)."""

    request_id: str
    op_id: str
    ticket: int
    volume: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class CloseAll:
    request_id: str
    op_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderReport:
    """What came of a broker command. ``status`` is ``done``, ``rejected`` (with a retcode),
    ``refused`` (not sent: disconnected, not reconciled, halted, invalid), or ``unknown``
    (sent, outcome not yet known; the broker resolves it from the terminal's books and reports
    again with the same ``request_id``)."""

    request_id: str
    status: str
    reason: str
    client_order_id: str = ""
    retcode: int | None = None
    ticket: int | None = None
    price: float = 0.0
    volume: float = 0.0
    symbol: str = ""
    side: str = ""
    closed: tuple[int, ...] = ()  # close-all: the tickets closed
    retry_later: bool = False
    """Close-all: every position it left open was refused for a reason that passes within
    seconds (frozen near its stop, locked, too many requests), so the same close-all, asked
    again in a moment, may close them."""
    latency_s: float | None = None
    """Seconds from the RiskManager's approval (its PlaceOrder going out) to this report, set
    by the RiskManager when it forwards an opening order's report."""

    @property
    def final(self) -> bool:
        """Whether this is the order's last report (its fate is known)."""
        return self.status != Outcome.UNKNOWN


# --- MT5Broker: state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrokerSnapshotRequest:
    request_id: str


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    """The broker's latest view: our positions and orders (by magic), the account, and whether
    it is connected and has reconciled with the terminal since it started."""

    request_id: str
    connected: bool
    reconciled: bool
    server_time: float
    account: AccountRecord | None
    positions: tuple[PositionRecord, ...]
    orders: tuple[OrderRecord, ...]
    day_realised: float = 0.0
    profile: BrokerProfile | None = None
    """What the broker is (``GET /api/broker``)."""


@dataclass(frozen=True, slots=True)
class ReconnectBroker:
    """The operator's command: connect again (after ``auth_failed``, the broker does not retry
    on its own: repeated failed logins can lock an account). Answered with a
    :class:`BrokerSnapshot`."""

    request_id: str


@dataclass(frozen=True, slots=True)
class BrokerReady:
    """Broker → trading roles: reconciliation is done (or undone, on disconnect). Sent again
    whenever the broker's profile changes (its server's UTC offset at a DST switch)."""

    connected: bool
    reconciled: bool
    profile: BrokerProfile | None = None


@dataclass(frozen=True, slots=True)
class BrokerProfile:
    """What the other roles know of the broker, so that none of them branches on its kind.

    ``server_utc_offset_s`` is the one broker clock: server time − UTC, as the broker measures
    it from the terminal's ticks, re-checked on every poll. Every role that turns server time
    into UTC, finds the broker day or aligns bars uses this value.
    """

    kind: str
    """``sim`` | ``mt5`` | ``mt5linux``: for display; no role branches on it."""
    connected: bool
    server: str = ""
    company: str = ""
    account: int = 0
    currency: str = ""
    trade_mode: str = ""
    """``demo`` | ``contest`` | ``real``."""
    server_utc_offset_s: int = 0
    server_offset_history: tuple[tuple[float, float, int], ...] = ()
    """When each offset the broker measured took effect: ``(after, by, offset_s)``, oldest
    first, ``offset_s`` in force from an instant in ``(after, by]`` (UTC seconds), so a deal
    or a bar is converted with the offset of its own time (``messages/server_time.py``)."""
    speed: float = 1.0
    """Market seconds per wall second: 1 on a real terminal, ``sim.speed`` on the simulator."""
    market_epoch: tuple[float, float] | None = None
    """``(market time, wall time)`` at one instant of a simulated market that runs in the past
    or at ``speed``; None when market time is the wall clock (a real terminal) or the role's
    own clock (a backtest's driver sets every clock). See :meth:`market_time`."""
    commission_per_lot: float | None = None
    """Round-turn, account currency; None: unknown (the cost rule then denies)."""
    fault_switches: bool = False
    """Whether the terminal takes fault switches (``/api/sim/faults``)."""

    def market_time(self, clock_now: float) -> float:
        """Market time when a role's own clock reads ``clock_now`` (UTC seconds)."""
        if self.market_epoch is None:
            return clock_now
        market, wall = self.market_epoch
        return market + (clock_now - wall) * self.speed


@dataclass(frozen=True, slots=True)
class DealsObserved:
    """Broker → RiskManager: deals the broker has seen in the history since the last report
    (with our magic), so risk counters follow what really happened."""

    deals: tuple[DealRecord, ...]
    floating_pnl: float | None = None
    """The account's equity − balance in the poll that read these deals (None: not read with
    them), so the day's P&L never counts a closed position's loss twice: once realised, once
    still floating in an account seen before it closed."""
    open_tickets: tuple[int, ...] | None = None
    """Our positions still open in that poll."""


@dataclass(frozen=True, slots=True)
class TradeClosed:
    """A position of ours is fully closed: to the Critic, the RiskManager and the Strategy."""

    ticket: int
    symbol: str
    direction: str
    volume: float
    entry_price: float
    exit_price: float
    sl: float
    tp: float
    profit: float
    opened_at: float
    closed_at: float
    client_order_id: str = ""
    decision_id: str = ""
    commission: float = 0.0
    swap: float = 0.0
    max_adverse_price: float | None = None
    max_favourable_price: float | None = None
    exit_reason: str = ""
    planned_risk: float = 0.0
    """The loss at the initial stop, in account currency (0: no stop, or unknown)."""
    realised: float = 0.0
    """What the trade made, in account currency: ``profit`` (commission and swap included)."""
    loss_beyond_stop: float = 0.0
    """How much more than ``planned_risk`` it lost (slippage, gaps); 0 if none."""
    strategy: str = ""
    """The strategy whose decision opened it ("" when none did)."""
    broker_day: str = ""
    """The trade server's calendar date of the close (YYYY-MM-DD): the broker day whose loss
    limit it counts against ("" in trades journaled before it was recorded)."""


# --- RiskManager ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreScanCheck:
    """May ``symbol`` be considered for a new trade at all (before research)?"""

    request_id: str
    symbol: str
    market: PreScanInput | None


@dataclass(frozen=True, slots=True)
class PreScanVerdict:
    request_id: str
    symbol: str
    allowed: bool
    code: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class OrderApproval:
    request_id: str
    decision_id: str
    approved: bool
    volume: float = 0.0
    code: str = ""
    message: str = ""
    risk_money: float = 0.0

    @property
    def final(self) -> bool:
        """A denial ends the submission; an approval is followed by the broker's reports."""
        return not self.approved


@dataclass(frozen=True, slots=True)
class TradingGate:
    """RiskManager → MT5Broker and Strategy: whether new orders may be sent at all."""

    mode: str  # ACTIVE | REDUCING | HALTED | PAUSED
    kill_switch: bool
    reason: str
    blocked_by: tuple[str, ...] = ()
    """Denial codes stopping every new entry now (the day's loss limit, say), even in ACTIVE."""
    blocked: str = ""
    """The same, in words."""


@dataclass(frozen=True, slots=True)
class RiskStatusRequest:
    request_id: str


@dataclass(frozen=True, slots=True)
class RiskDay:
    """The broker day's figures as the RiskManager keeps them, in the account currency. The
    daily budget is ``realised loss + open_risk + reserved ≤ loss_limit``."""

    broker_day: str
    """The trade server's calendar date (YYYY-MM-DD), as a closed trade's ``broker_day``."""
    realised: float
    open_risk: float | None
    """Loss at the stops of the open positions; None when one has no stop (unknown, not 0)."""
    reserved: float
    """Risk of approved orders not filled yet."""
    loss_limit: float | None
    """None until the account's balance is known."""
    remaining: float | None
    trades: int
    """Fills today (approvals that were never filled do not count)."""


@dataclass(frozen=True, slots=True)
class RiskStatus:
    request_id: str
    mode: str
    kill_switch: bool
    paused: bool
    reason: str
    blocked_by: tuple[str, ...] = ()
    per_trade_risk_cap_pct: float = 0.0
    day: RiskDay | None = None
    """None until the RiskManager has loaded its state."""
    loaded: bool = False
    """Whether the RiskManager has loaded its saved state (until then it denies everything)."""


# --- Operator controls ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlCommand:
    """pause | resume | kill-switch | reset-kill-switch | close-all, from an authenticated
    operator. ``op_id`` makes a retried command apply once."""

    request_id: str
    command: str
    op_id: str
    reason: str = "operator"


@dataclass(frozen=True, slots=True)
class ControlReply:
    """``status`` follows HTTP: 200 carried out, 409 does not apply in the current mode."""

    request_id: str
    status: int
    mode: str
    kill_switch: bool
    detail: str


# --- Researcher and Critic ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResearchRequest:
    request_id: str
    decision_id: str
    symbol: str
    proposed: Side  # the direction the scan proposes
    facts: MarketFacts
    now: float = 0.0  # market time (UTC): lessons are dated in it


@dataclass(frozen=True, slots=True)
class ResearchReply:
    request_id: str
    decision_id: str
    symbol: str
    action: Action
    confidence: float
    reason: str
    source: str
    tokens: int = 0
    latency_ms: float = 0.0
    regime: Regime | None = None  # None when the strategy decided on its own
    fallback: str = ""  # why a configured model was not used (its kind first)
    cost: float = 0.0  # the model call's cost (researcher.llm's prices per million tokens)


@dataclass(frozen=True, slots=True)
class LessonsRequest:
    request_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class LessonsReply:
    request_id: str
    symbol: str
    lessons: tuple[Lesson, ...]


# --- The simulated terminal's fault switches (paper trading tests) ---------------------------


@dataclass(frozen=True, slots=True)
class SetSimFaults:
    """Change some of the simulated terminal's fault switches (``sim.faults.*`` names, e.g.
    ``{"disconnect": True}``); empty ``changes`` only reads them."""

    request_id: str
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SimFaultsReply:
    """``status`` follows HTTP: 200 applied (``faults`` holds every switch), 400 a bad name or
    value, 409 the broker is not the simulated terminal, 503 the terminal is not open yet."""

    request_id: str
    status: int
    faults: dict[str, Any]
    detail: str = ""
