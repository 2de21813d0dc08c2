"""Orders: what a caller wants placed, what became of it, and what the books say about it.

An :class:`OrderIntent` is what the caller wants, an :class:`OrderOutcome` what became of it
(its :class:`Outcome` says what the caller may do next), an :class:`OrderFate` what the
terminal's books say about a client order id after an ambiguous outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from messages.market import Side

__all__ = [
    "CLIENT_ORDER_ID_PATTERN",
    "FateStatus",
    "OrderFate",
    "OrderIntent",
    "OrderKind",
    "OrderOutcome",
    "Outcome",
    "RefusalCode",
]


class Outcome(StrEnum):
    """What a trade request's result lets the caller do next (see actors/broker/retcodes.py)."""

    DONE = "done"
    RETRY_PRICE = "retry_price"
    WAIT = "wait"
    UNKNOWN = "unknown"
    REJECTED = "rejected"


class OrderKind(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


CLIENT_ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,25}$")
"""Client order ids travel in the MT5 comment: at most 25 ASCII letters, digits, ``_`` or ``-``,
safely under the documented 31-character limit and the 28-29 seen on some builds (§7.3)."""


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the caller wants placed.

    ``price`` is required for limit and stop orders; for a market order it is the price the
    caller decided at, used as the reference for ``deviation_points`` (requotes and slippage
    guard) and may be left ``None`` to take the current quote. ``sl``/``tp`` of ``None`` mean
    none. ``client_order_id`` is written into the order's comment and is how an ambiguous
    outcome is resolved later, so it must be unique per order.
    """

    symbol: str
    side: Side
    volume: float
    client_order_id: str
    magic: int
    kind: OrderKind = OrderKind.MARKET
    price: float | None = None
    sl: float | None = None
    tp: float | None = None
    deviation_points: int = 20
    position_ticket: int | None = None
    """Close (part of) this position instead of opening one (market orders only)."""

    def __post_init__(self) -> None:
        if not CLIENT_ORDER_ID_PATTERN.match(self.client_order_id):
            raise ValueError(
                f"client_order_id {self.client_order_id!r} must be 1-25 characters of "
                "[A-Za-z0-9_-]: it is stored in the MT5 comment (31-character limit)"
            )
        if not self.symbol:
            raise ValueError("symbol is required")
        if not self.volume > 0:
            raise ValueError(f"volume must be > 0, got {self.volume!r}")
        if self.magic < 0:
            raise ValueError(f"magic must be >= 0, got {self.magic!r}")
        if self.kind is not OrderKind.MARKET and (self.price is None or self.price <= 0):
            raise ValueError(f"a {self.kind} order needs a price")
        if self.position_ticket is not None and self.kind is not OrderKind.MARKET:
            raise ValueError("closing a position takes a market order")
        if self.deviation_points < 0:
            raise ValueError("deviation_points must be >= 0")


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What became of a trade request.

    ``status`` says what the caller may do next (see :mod:`actors.broker.retcodes`):
    ``DONE`` – it happened; ``REJECTED`` – it did not and will not without a change;
    ``RETRY_PRICE`` / ``WAIT`` – it did not, and may be retried (fresh price / later);
    ``UNKNOWN`` – it may or may not have happened: resolve with ``find_order_fate``, never
    resend. ``sent`` is False when the request never reached ``order_send`` (so nothing can have
    executed).
    """

    status: Outcome
    reason: str
    """A stable machine-readable reason: ``done``, ``requote``, ``invalid_volume``,
    ``ipc_timeout``, ``gateway_timeout``…"""
    client_order_id: str
    sent: bool
    retcode: int | None = None
    description: str = ""
    order: int = 0
    deal: int = 0
    volume: float = 0.0
    price: float = 0.0
    bid: float = 0.0
    ask: float = 0.0
    comment: str = ""
    """The terminal's comment (usually the retcode's text)."""
    request_id: int = 0
    error: tuple[int, str] | None = None
    """``last_error()`` when ``order_send`` returned ``None`` or a preceding read failed."""
    attempts: int = 0
    type_filling: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is Outcome.DONE


class FateStatus(StrEnum):
    FILLED = "filled"
    """A deal was executed for the order (the position may since have closed)."""
    PENDING = "pending"
    """The order rests in the book as a pending order."""
    CANCELLED = "cancelled"
    """The order reached the books but ended without a deal (canceled, expired, rejected)."""
    NOT_FOUND = "not_found"
    """Nothing in positions, orders or history carries this client order id."""


@dataclass(frozen=True, slots=True)
class OrderFate:
    """What the terminal's books say about one client order id (magic + comment)."""

    client_order_id: str
    magic: int
    status: FateStatus
    order: int = 0
    position: int = 0
    deals: tuple[int, ...] = ()
    volume: float = 0.0
    price: float = 0.0
    order_state: int | None = None


class RefusalCode(StrEnum):
    """Why the broker refused an order before sending it (stable, machine-readable)."""

    NOT_FROM_RISK = "NOT_FROM_RISK"
    """An opening order that did not come from the current RiskManager."""
    NOT_APPROVED = "NOT_APPROVED"
    """An opening order without an approval."""
    APPROVAL_MISMATCH = "APPROVAL_MISMATCH"
    """The approval is for another order (client order id, symbol, side) or a smaller volume."""
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED"
    PRICE_MOVED = "PRICE_MOVED"
    """The quote moved further from the decision's price than the slippage guard allows."""
    STOPS_TOO_CLOSE = "STOPS_TOO_CLOSE"
    """SL or TP inside the symbol's stops level (or a modification inside its freeze level)."""
    STOPS_WIDENED = "STOPS_WIDENED"
    """A modification that would remove a position's stop loss or move it further from the
    entry: more risk than the RiskManager approved."""
