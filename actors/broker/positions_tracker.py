"""Our open positions between polls: adoption, price extremes (MAE/MFE), closes, and the rows
the dashboard shows.

The broker polls the terminal; :class:`PositionTracker` compares each poll with what it tracked
before and says what is new (adopt it), what changed (persist it), and what disappeared (a
closed trade to report). A tracked position is persisted in SharedState at
``broker.position.<ticket>`` with the client order id and decision id that opened it, so a
restarted broker still reports the trade under the right decision, and notices the positions
that closed while it was down.

:func:`build_trade_closed` turns a vanished position and its deals into a
:class:`~messages.trading.TradeClosed`. :func:`day_realised` is the realised P&L of the
broker's (server) day. Times in records are the terminal's server clock; ``offset_s`` (server
minus UTC) turns them into the UTC epoch seconds every other role uses.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from messages.books import DEAL_TYPE_BUY, AccountRecord, DealRecord, PositionRecord
from messages.events import AccountRow, PositionRow
from messages.market import Side
from messages.trading import TradeClosed

__all__ = [
    "POSITION_PREFIX",
    "ChangeGate",
    "Observation",
    "PositionTracker",
    "TrackedPosition",
    "account_row",
    "build_trade_closed",
    "day_realised",
    "direction_of",
    "position_key",
    "position_row",
    "risk_at_stop",
    "server_day_start",
    "tracked_from_deals",
]

POSITION_PREFIX = "broker.position."
SECONDS_PER_DAY = 86_400

_POSITION_TYPE_BUY = 0
_EXIT_REASONS = {4: "SL", 5: "TP", 6: "SO"}  # DEAL_REASON_SL, _TP, _SO


def position_key(ticket: int) -> str:
    return f"{POSITION_PREFIX}{ticket}"


def direction_of(position_type: int) -> Side:
    return Side.BUY if position_type == _POSITION_TYPE_BUY else Side.SELL


def server_day_start(server_now_s: float) -> int:
    """Start of the broker's day (its server's calendar day), in server epoch seconds."""
    return int(math.floor(server_now_s / SECONDS_PER_DAY) * SECONDS_PER_DAY)


@dataclass(frozen=True, slots=True)
class TrackedPosition:
    ticket: int
    symbol: str
    direction: Side
    volume: float
    entry_price: float
    sl: float
    tp: float
    opened_msc: int  # server clock
    client_order_id: str = ""
    decision_id: str = ""
    worst_price: float = 0.0  # the most adverse price seen while open (MAE)
    best_price: float = 0.0  # the most favourable one (MFE)

    def seen_at(self, price: float) -> TrackedPosition:
        """The same position with ``price`` folded into its extremes."""
        if not price > 0:
            return self
        buy = self.direction is Side.BUY
        worst = min(self.worst_price, price) if buy else max(self.worst_price, price)
        best = max(self.best_price, price) if buy else min(self.best_price, price)
        if worst == self.worst_price and best == self.best_price:
            return self
        return dataclasses.replace(self, worst_price=worst, best_price=best)

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TrackedPosition:
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {key: value for key, value in record.items() if key in names}
        return cls(**{**fields, "direction": Side(fields.get("direction"))})

    @classmethod
    def adopt(cls, position: PositionRecord, client_order_id: str = "",
              decision_id: str = "") -> TrackedPosition:
        tracked = cls(
            ticket=position.ticket, symbol=position.symbol,
            direction=direction_of(position.type), volume=position.volume,
            entry_price=position.price_open, sl=position.sl, tp=position.tp,
            opened_msc=position.time_msc, client_order_id=client_order_id,
            decision_id=decision_id, worst_price=position.price_open,
            best_price=position.price_open,
        )  # fmt: skip
        return tracked.seen_at(position.price_current)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one poll changed: positions to adopt, tracked ones whose record changed, and
    tracked ones that are gone (closed)."""

    adopted: tuple[TrackedPosition, ...] = ()
    changed: tuple[TrackedPosition, ...] = ()
    closed: tuple[TrackedPosition, ...] = ()


@dataclass(slots=True)
class PositionTracker:
    tracked: dict[int, TrackedPosition] = field(default_factory=dict)
    reporting: set[int] = field(default_factory=set)
    """Closed tickets whose report is under way: not reported as closed again meanwhile."""

    def load(self, records: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Tracked positions read back from SharedState; returns the keys that were unreadable."""
        broken = []
        for key, record in records.items():
            try:
                position = TrackedPosition.from_record(record)
            except (TypeError, ValueError):
                broken.append(key)
                continue
            self.tracked[position.ticket] = position
        return broken

    def __contains__(self, ticket: object) -> bool:
        return ticket in self.tracked

    def get(self, ticket: int) -> TrackedPosition | None:
        return self.tracked.get(ticket)

    def track(self, position: TrackedPosition) -> None:
        self.tracked[position.ticket] = position

    def observe(
        self,
        ours: Sequence[PositionRecord],
        identify: Callable[[PositionRecord], tuple[str, str]],
    ) -> Observation:
        """Fold one poll of our open positions in. ``identify`` gives a new position's client
        order id and decision id."""
        adopted: list[TrackedPosition] = []
        changed: list[TrackedPosition] = []
        open_now = set()
        for position in ours:
            open_now.add(position.ticket)
            before = self.tracked.get(position.ticket)
            if before is None:
                coid, decision_id = identify(position)
                now = TrackedPosition.adopt(position, coid, decision_id)
                adopted.append(now)
            else:
                now = before.seen_at(position.price_current)
                if (position.volume, position.sl, position.tp) != (now.volume, now.sl, now.tp):
                    now = dataclasses.replace(now, volume=position.volume, sl=position.sl,
                                              tp=position.tp)
                if now != before:
                    changed.append(now)
            self.tracked[position.ticket] = now
        closed = tuple(
            tracked for ticket, tracked in self.tracked.items()
            if ticket not in open_now and ticket not in self.reporting
        )  # fmt: skip
        return Observation(tuple(adopted), tuple(changed), closed)

    def forget(self, ticket: int) -> None:
        self.tracked.pop(ticket, None)
        self.reporting.discard(ticket)


# --- rows for the dashboard ----------------------------------------------------------------


def position_row(position: PositionRecord, tracked: TrackedPosition | None,
                 strategy: str = "") -> PositionRow:
    """The position as the dashboard shows it; ``strategy`` is whose decision it was."""
    return PositionRow(
        ticket=position.ticket,
        symbol=position.symbol,
        type=position.type,
        direction=direction_of(position.type),
        volume=position.volume,
        entry_price=position.price_open,
        price_current=position.price_current,
        sl_price=position.sl,
        tp_price=position.tp,
        profit=round(position.profit, 2),
        swap=round(position.swap, 2),
        client_order_id=tracked.client_order_id if tracked else position.comment,
        decision_id=tracked.decision_id if tracked else "",
        strategy=strategy,
    )


def account_row(account: AccountRecord, day_pl: float) -> AccountRow:
    """The account as the dashboard shows it, ``day_pl`` being the realised P&L of the
    broker's day plus the floating."""
    return AccountRow(
        balance=round(account.balance, 2),
        equity=round(account.equity, 2),
        profit=round(account.profit, 2),
        currency=account.currency,
        leverage=account.leverage,
        day_pl=round(day_pl, 2),
        margin=round(account.margin, 2),
        margin_free=round(account.margin_free, 2),
        margin_level=round(account.margin_level, 2),
    )


def day_realised(deals: Iterable[DealRecord], day_start_server_s: int) -> float:
    """Realised P&L (profit, commission, swap and fee of trading deals) since the start of the
    broker's day. Balance operations (deposits) are not trading results."""
    total = 0.0
    for deal in deals:
        if deal.is_trade and deal.time >= day_start_server_s:
            total += deal.net_profit
    return round(total, 2)


class ChangeGate:
    """Remembers the last value published under each name; says whether a new one differs."""

    def __init__(self) -> None:
        self._last: dict[str, Any] = {}

    def changed(self, name: str, value: Any) -> bool:
        if self._last.get(name, _MISSING) == value:
            return False
        self._last[name] = value
        return True

    def forget(self, name: str) -> None:
        self._last.pop(name, None)


_MISSING = object()


# --- closed trades -------------------------------------------------------------------------


def _weighted_price(deals: Sequence[DealRecord]) -> float:
    volume = sum(d.volume for d in deals)
    return sum(d.price * d.volume for d in deals) / volume if volume > 0 else 0.0


def tracked_from_deals(
    ticket: int,
    deals: Sequence[DealRecord],
    identify: Callable[[int, str], tuple[str, str, float, float]],
) -> TrackedPosition | None:
    """A position that was never seen open (it opened and closed between two polls), rebuilt
    from its deals; ``identify(ticket, entry comment)`` gives its client order id, decision id
    and the stops it was opened with. None without an entry deal."""
    entries = [d for d in deals if d.position_id == ticket and d.opens]
    if not entries:
        return None
    first = min(entries, key=lambda d: (d.time_msc, d.ticket))
    coid, decision_id, sl, tp = identify(ticket, first.comment)
    price = _weighted_price(entries)
    return TrackedPosition(
        ticket=ticket, symbol=first.symbol,
        direction=Side.BUY if first.type == DEAL_TYPE_BUY else Side.SELL,
        volume=round(sum(d.volume for d in entries), 8), entry_price=price, sl=sl, tp=tp,
        opened_msc=first.time_msc, client_order_id=coid, decision_id=decision_id,
        worst_price=price, best_price=price,
    )  # fmt: skip


def risk_at_stop(entry: float, sl: float, volume: float, tick_size: float,
                 tick_value_loss: float) -> float:
    """The loss, in account currency, of ``volume`` lots from ``entry`` to the stop ``sl``
    (0 when there is no stop or the symbol's tick value is unknown)."""
    if not sl > 0 or not entry > 0 or not tick_size > 0 or not tick_value_loss > 0:
        return 0.0
    return round(abs(entry - sl) / tick_size * tick_value_loss * volume, 2)


def build_trade_closed(
    tracked: TrackedPosition,
    deals: Sequence[DealRecord],
    offset_s: float,
    purpose_of: Callable[[str], str] = lambda comment: "",
    planned_risk: float = 0.0,
    strategy: str = "",
) -> TradeClosed | None:
    """The closed trade of ``tracked`` from its deals (all deals of the position), or None when
    no exit deal is in the history yet. ``profit`` (= ``realised``) includes commission, fees
    and swap; ``loss_beyond_stop`` is what it lost beyond ``planned_risk`` (the loss at the
    initial stop; 0 means none was planned). The exit reason is SL, TP or SO from the deal's
    reason, else the purpose the broker recorded for its own close order
    (``purpose_of(comment)``), else ``client``."""
    mine = [d for d in deals if d.position_id == tracked.ticket]
    entries = [d for d in mine if d.opens]
    exits = [d for d in mine if not d.opens]
    if not exits:
        return None
    last_exit = max(exits, key=lambda d: (d.time_msc, d.ticket))
    commission = round(sum(d.commission + d.fee for d in mine), 2)
    swap = round(sum(d.swap for d in mine), 2)
    profit = round(sum(d.profit for d in mine) + commission + swap, 2)
    entry_price = _weighted_price(entries) or tracked.entry_price
    exit_price = _weighted_price(exits)
    extremes = tracked
    for deal in exits:
        extremes = extremes.seen_at(deal.price)
    opened_msc = min((d.time_msc for d in entries), default=tracked.opened_msc)
    exit_reason = _EXIT_REASONS.get(last_exit.reason) or purpose_of(last_exit.comment) or "client"
    return TradeClosed(
        ticket=tracked.ticket,
        symbol=tracked.symbol,
        direction=tracked.direction,
        volume=round(sum(d.volume for d in entries), 8) or tracked.volume,
        entry_price=entry_price,
        exit_price=exit_price,
        sl=tracked.sl,
        tp=tracked.tp,
        profit=profit,
        opened_at=opened_msc / 1000.0 - offset_s,
        closed_at=last_exit.time_msc / 1000.0 - offset_s,
        # Deal times are on the server's clock, so its calendar date is the broker day.
        broker_day=datetime.fromtimestamp(last_exit.time_msc / 1000.0, tz=UTC).date().isoformat(),
        client_order_id=tracked.client_order_id,
        decision_id=tracked.decision_id,
        commission=commission,
        swap=swap,
        max_adverse_price=extremes.worst_price,
        max_favourable_price=extremes.best_price,
        exit_reason=exit_reason,
        planned_risk=round(planned_risk, 2),
        realised=profit,
        loss_beyond_stop=round(max(0.0, -profit - planned_risk), 2) if planned_risk > 0 else 0.0,
        strategy=strategy,
    )
