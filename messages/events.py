"""Events: what happened, for the dashboard and the journal.

The seed's event names and fields are kept (SCAN_START, SCAN_SUMMARY, POSITION_UPDATE,
ACCOUNT_UPDATE, RESEARCH_START, RESEARCH_RESULT, TRADE_EXECUTION, CRITIC_REVIEW,
STATE_SNAPSHOT). New types follow the same form. Every event carries ``timestamp`` (ISO 8601
UTC) and, once the Broadcaster has numbered it, ``seq``.

Each class is registered under its wire name by :func:`event`, so the codec can turn a wire
dict back into the right class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from messages.market import Side

__all__ = [
    "EVENT_TYPES",
    "AccountRow",
    "AccountUpdate",
    "ActorRestarted",
    "BrokerStatus",
    "CandidateRow",
    "ControlResult",
    "CriticReview",
    "Event",
    "OrderRejected",
    "PositionClosed",
    "PositionRow",
    "PositionUpdate",
    "Quote",
    "ResearchResult",
    "ResearchStart",
    "RiskStateChanged",
    "ScanStart",
    "ScanSummary",
    "StateSnapshot",
    "TradeExecution",
    "event",
]

EVENT_TYPES: dict[str, type[Event]] = {}

E = TypeVar("E", bound="Event")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """The common part of every event. ``seq`` is None until the Broadcaster numbers it."""

    TYPE: ClassVar[str] = ""
    timestamp: str
    seq: int | None = None

    def numbered(self: E, seq: int) -> E:
        return dataclasses.replace(self, seq=seq)


def event(type_name: str) -> Callable[[type[E]], type[E]]:
    """Make ``cls`` a frozen slotted event dataclass and register it under ``type_name``."""

    def register(cls: type[E]) -> type[E]:
        if type_name in EVENT_TYPES:
            raise ValueError(f"event type {type_name!r} is registered twice")
        cls.TYPE = type_name
        made = dataclass(frozen=True, slots=True, kw_only=True)(cls)
        EVENT_TYPES[type_name] = made
        return made

    return register


@event("STATE_SNAPSHOT")
class StateSnapshot(Event):
    """Sent first to every WebSocket client: the rolling state as of ``seq``."""

    data: dict[str, Any]


@event("SCAN_START")
class ScanStart(Event):
    count: int


@event("SCAN_SUMMARY")
class ScanSummary(Event):
    """``symbols`` maps every scanned symbol to its reason string; ``strategy`` is the
    strategy that scanned (each one sends its own summary)."""

    symbols: dict[str, str]
    count: int
    candidates: int
    duration_ms: float | None = None  # from the scan's wake-up to this summary
    strategy: str = ""
    market_time: str | None = None
    """The market's time (ISO 8601 UTC) of the data scanned: the broker's clock when it read
    the ticks and bars (``timestamp`` is the strategy's own clock)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRow:
    """One open position as the dashboard shows it: the seed's fields (ticket, symbol, type,
    direction, volume, entry_price, price_current, sl_price, tp_price, profit), plus the swap,
    the ids of the order and decision that opened it and the strategy whose decision it was."""

    ticket: int
    symbol: str
    type: int
    direction: Side
    volume: float
    entry_price: float
    price_current: float
    sl_price: float
    tp_price: float
    profit: float
    swap: float = 0.0
    client_order_id: str = ""
    decision_id: str = ""
    strategy: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRow:
    """The account as the dashboard shows it: the seed's fields, ``day_pl`` being the realised
    P&L of the broker's day plus the floating, and the margin fields."""

    balance: float
    equity: float
    profit: float
    currency: str
    leverage: int
    day_pl: float
    margin: float = 0.0
    margin_free: float = 0.0
    margin_level: float = 0.0


@event("POSITION_UPDATE")
class PositionUpdate(Event):
    """Every open position of ours, sent when any of them changed."""

    positions: tuple[PositionRow, ...]


@event("ACCOUNT_UPDATE")
class AccountUpdate(Event):
    """The account, sent when it changed."""

    account: AccountRow


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateRow:
    """The candidate that research starts on (the seed's RESEARCH_START ``data``)."""

    direction: Side
    score: float
    reason: str


@event("RESEARCH_START")
class ResearchStart(Event):
    symbol: str
    data: CandidateRow
    decision_id: str | None = None
    strategy: str = ""


@event("RESEARCH_RESULT")
class ResearchResult(Event):
    symbol: str
    action: str
    confidence: float
    reason: str
    source: str = "rules"
    tokens: int = 0
    latency_ms: float = 0.0
    decision_id: str | None = None
    strategy: str = ""
    fallback: str = ""  # why a configured model was not used ("" when it was, or none is set)
    cost: float = 0.0  # what the model call cost, in the unit of researcher.llm's prices


@event("TRADE_EXECUTION")
class TradeExecution(Event):
    """Sent once the broker confirms the fill (not when an order is merely accepted)."""

    symbol: str
    direction: str
    price: float
    lot: float
    ticket: int | None = None
    decision_id: str | None = None
    strategy: str = ""
    latency_ms: float | None = None
    """From the RiskManager's approval to the broker's answer on the order."""


@event("CRITIC_REVIEW")
class CriticReview(Event):
    symbol: str
    score: float
    lesson: str
    analysis: str
    ticket: int | None = None
    decision_id: str | None = None
    strategy: str = ""


@event("ACTOR_RESTARTED")
class ActorRestarted(Event):
    """A supervisor replaced a failed child."""

    name: str
    old_pid: int | None
    new_pid: int | None
    reason: str
    restarts: int


@event("ORDER_REJECTED")
class OrderRejected(Event):
    symbol: str
    direction: str
    code: str
    reason: str
    retcode: int | None = None
    decision_id: str | None = None
    strategy: str = ""
    latency_ms: float | None = None
    """For an order the broker answered: from the RiskManager's approval to that answer."""


@event("RISK_DENIALS")
class RiskDenials(Event):
    """What the RiskManager refused in one scan cycle of one strategy: a count per denial
    code, so that repeated denials are one row, not one per candidate."""

    strategy: str
    counts: dict[str, int]


@event("POSITION_CLOSED")
class PositionClosed(Event):
    ticket: int
    symbol: str
    direction: str
    volume: float
    entry_price: float
    exit_price: float
    profit: float
    decision_id: str | None = None
    strategy: str = ""


@event("RISK_STATE")
class RiskStateChanged(Event):
    """The trading mode (ACTIVE, REDUCING, HALTED, PAUSED), the kill switch, or what blocks
    new entries (``blocked_by``: denial codes, empty when nothing does) changed."""

    mode: str
    kill_switch: bool
    reason: str
    """What changed it (an operator's command, a restart, a review)."""
    blocked_by: tuple[str, ...] = ()
    blocked_words: str = ""
    """``blocked_by`` for a person ("daily loss limit, day stopped ..."): what the
    dashboard's header names, whatever the reason."""


@event("BROKER_STATUS")
class BrokerStatus(Event):
    """The broker connection: connected, degraded, disconnected or auth_failed, with the
    broker's profile (:class:`~messages.trading.BrokerProfile`'s fields)."""

    state: str
    kind: str
    account: int | None = None
    server: str | None = None
    trade_mode: str | None = None
    detail: str = ""
    connected: bool = False
    company: str = ""
    currency: str = ""
    server_utc_offset_s: int = 0
    speed: float = 1.0
    commission_per_lot: float | None = None
    """Round-turn, account currency; None: unknown (the cost rule then denies)."""
    fault_switches: bool = False


@event("QUOTE")
class Quote(Event):
    """A watched symbol's latest bid and ask (``spread`` in points, ``time`` the tick's market
    time as UTC epoch seconds). Live only by default: not numbered, not journalled, not
    replayed; a later quote of the same symbol supersedes it everywhere
    (``broadcaster.journal_quotes`` numbers and journals them like any event)."""

    symbol: str
    bid: float
    ask: float
    spread: float
    time: float


@event("CONTROL_RESULT")
class ControlResult(Event):
    """An operator command and what came of it."""

    command: str
    ok: bool
    mode: str
    detail: str = ""
