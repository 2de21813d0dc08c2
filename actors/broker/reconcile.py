"""The broker's decisions about the terminal it is connected to: is this the account and the
terminal we may trade, and, before trading, which positions and orders are ours.

:func:`connection_verdict` checks the account (login, server, demo or real) and the terminal
(algo trading allowed, connected to its trade server) right after connecting, and on every poll.
:func:`plan_reconciliation` sorts the terminal's books into ours (our magic number: adopt them)
and foreign (report them, leave them alone), and finds the tracked positions that closed while
the broker was away and the intents that are still unresolved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from actors.broker.intents import Intent, IntentLedger
from actors.broker.positions_tracker import TrackedPosition
from messages.books import AccountRecord, OrderRecord, PositionRecord, TerminalRecord

__all__ = [
    "ConnectionVerdict",
    "ReconcilePlan",
    "connection_verdict",
    "estimate_server_offset",
    "foreign_summary",
    "plan_reconciliation",
    "trade_mode_name",
]

_TRADE_MODES = {0: "demo", 1: "contest", 2: "real"}
_ACCOUNT_TRADE_MODE_REAL = 2
_MAX_OFFSET_S = 14 * 3600
_OFFSET_STEP_S = 900  # server clocks are offset from UTC by whole quarter hours


def trade_mode_name(trade_mode: int) -> str:
    return _TRADE_MODES.get(trade_mode, f"mode {trade_mode}")


@dataclass(frozen=True, slots=True)
class ConnectionVerdict:
    """``state``: ``connected`` (may trade), ``degraded`` (connected, but orders would be
    refused by the terminal: say why), or ``refused`` (we must not trade this account)."""

    state: str
    detail: str = ""

    @property
    def may_trade(self) -> bool:
        return self.state == "connected"


def connection_verdict(
    account: AccountRecord,
    terminal: TerminalRecord | None,
    *,
    expected_login: int | None,
    expected_server: str | None,
    allow_real_account: bool,
) -> ConnectionVerdict:
    if expected_login is not None and account.login != expected_login:
        return ConnectionVerdict(
            "refused", f"logged into account {account.login}, expected {expected_login}"
        )
    if expected_server and account.server != expected_server:
        return ConnectionVerdict(
            "refused", f"logged into server {account.server!r}, expected {expected_server!r}"
        )
    if account.trade_mode == _ACCOUNT_TRADE_MODE_REAL and not allow_real_account:
        return ConnectionVerdict(
            "refused",
            f"account {account.login} is a REAL account; set broker.allow_real_account=true "
            "to trade it",
        )
    problems = []
    if terminal is not None:
        if not terminal.connected:
            problems.append("the terminal is not connected to its trade server")
        if not terminal.trade_allowed:
            problems.append("algo trading is disabled in the terminal")
        if terminal.tradeapi_disabled:
            problems.append("trading through the Python API is disabled in the terminal")
    if not account.trade_allowed:
        problems.append("trading is not allowed for this account")
    if not account.trade_expert:
        problems.append("expert trading is not allowed for this account")
    if problems:
        return ConnectionVerdict("degraded", "; ".join(problems))
    return ConnectionVerdict("connected")


def estimate_server_offset(tick_time_s: float, utc_now_s: float) -> int | None:
    """The server clock's offset from UTC, from a fresh tick's time (server clock) and the UTC
    time now, to the nearest quarter hour; None when the tick is too old or too far off to
    tell (a closed market)."""
    difference = tick_time_s - utc_now_s
    offset = round(difference / _OFFSET_STEP_S) * _OFFSET_STEP_S
    if abs(offset) > _MAX_OFFSET_S or abs(difference - offset) > 120:
        return None
    return int(offset)


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    ours: tuple[PositionRecord, ...]
    foreign: tuple[PositionRecord, ...]
    our_orders: tuple[OrderRecord, ...]
    foreign_orders: tuple[OrderRecord, ...]
    adopt: tuple[PositionRecord, ...]
    """Our open positions the broker does not track yet."""
    vanished: tuple[TrackedPosition, ...]
    """Tracked positions that are no longer open: closed while the broker was away."""
    unresolved: tuple[Intent, ...]


def plan_reconciliation(
    positions: Sequence[PositionRecord],
    orders: Sequence[OrderRecord],
    magic: int,
    tracked: Mapping[int, TrackedPosition],
    ledger: IntentLedger,
) -> ReconcilePlan:
    ours = tuple(p for p in positions if p.magic == magic)
    open_tickets = {p.ticket for p in ours}
    return ReconcilePlan(
        ours=ours,
        foreign=tuple(p for p in positions if p.magic != magic),
        our_orders=tuple(o for o in orders if o.magic == magic),
        foreign_orders=tuple(o for o in orders if o.magic != magic),
        adopt=tuple(p for p in ours if p.ticket not in tracked),
        vanished=tuple(t for ticket, t in tracked.items() if ticket not in open_tickets),
        unresolved=tuple(ledger.unresolved()),
    )


def foreign_summary(plan: ReconcilePlan) -> str:
    """What the broker found and leaves alone, for the BROKER_STATUS detail ('' if nothing)."""
    parts = []
    if plan.foreign:
        tickets = ", ".join(str(p.ticket) for p in plan.foreign[:10])
        parts.append(f"{len(plan.foreign)} foreign position(s) left alone ({tickets})")
    if plan.foreign_orders:
        tickets = ", ".join(str(o.ticket) for o in plan.foreign_orders[:10])
        parts.append(f"{len(plan.foreign_orders)} foreign order(s) left alone ({tickets})")
    return "; ".join(parts)
