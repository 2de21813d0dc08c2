"""The broker's write-ahead ledger of orders: what makes "never send an order twice" checkable.

Every order the broker sends to the terminal (a new position, or the close of one) has a client
order id (``coid``), written into the order's comment. Before the order is sent, its
:class:`Intent` is written to SharedState (``broker.intent.<coid>``); only once SharedState has
acknowledged the write is the order sent. Its life, one status at a time:

``WRITING``
    In memory only: the record is on its way to SharedState. Nothing has been sent.
``SENDING``
    Durable. The gateway call may be running, or may have run: a process that finds this
    status after a restart cannot know which, so it treats it as ``UNKNOWN``.
``UNKNOWN``
    Sent, outcome unknown (timeout, lost connection, ``None``). Resolved from the terminal's
    positions, orders and deal history (:meth:`IntentLedger.apply_fate`), never by resending.
``DONE`` / ``REJECTED`` / ``REFUSED``
    Final. ``REFUSED`` means it was recorded but never sent (the connection dropped or the
    write-ahead came back too late).

The rule the actor follows: a coid is sent only on the ``WRITING → SENDING`` step taken by the
process that created it, and a coid already in the ledger is answered from its record. So a
retried request, a restarted broker, or a SIGKILL between send and reply can never send it again.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from messages.orders import FateStatus, OrderFate, OrderOutcome, Outcome

__all__ = [
    "INTENT_PREFIX",
    "Intent",
    "IntentLedger",
    "IntentStatus",
    "close_all_order_id",
    "close_order_id",
    "intent_key",
    "report_status",
]

INTENT_PREFIX = "broker.intent."

# A close that finds its position already gone did what was asked: the position is closed.
_ALREADY_CLOSED_REASONS = frozenset({"position_not_found", "position_closed"})


class IntentStatus(StrEnum):
    WRITING = "writing"
    SENDING = "sending"
    UNKNOWN = "unknown"
    DONE = "done"
    REJECTED = "rejected"
    REFUSED = "refused"


_FINAL = frozenset({IntentStatus.DONE, IntentStatus.REJECTED, IntentStatus.REFUSED})


def intent_key(client_order_id: str) -> str:
    return INTENT_PREFIX + client_order_id


def close_order_id(op_id: str) -> str:
    """The client order id of a close, derived from its ``op_id`` so that a retried close maps
    to the same record. 25 characters: it must fit the MT5 comment (records.py)."""
    return "x" + hashlib.blake2b(op_id.encode(), digest_size=12).hexdigest()


def close_all_order_id(op_id: str, ticket: int) -> str:
    """The client order id of a close-all's close of position ``ticket``
    (:meth:`~actors.broker.desk.OrderDesk.books_read` derives the same)."""
    return close_order_id(f"{op_id}/{ticket}")


def report_status(status: IntentStatus) -> str:
    """The :class:`~messages.trading.OrderReport` status of an intent."""
    if status in _FINAL:
        return str(status)
    return "unknown"


@dataclass(frozen=True, slots=True)
class Intent:
    """One order the broker has decided to send (or sent)."""

    client_order_id: str
    kind: str  # "open" | "close"
    status: IntentStatus
    symbol: str
    side: str  # "BUY" | "SELL": the side of the order itself (a close of a BUY is a SELL)
    volume: float | None  # requested lots; None closes the whole position
    request_id: str
    created_at: float  # wall-clock epoch seconds: how long an order may still be in flight
    market_time: float = 0.0  # the market clock when it was begun: where history is searched
    decision_id: str = ""
    sl: float = 0.0
    tp: float = 0.0
    deviation_points: int = 20
    ticket: int | None = None  # close: the position; open: the position it opened, once known
    op_id: str = ""
    purpose: str = ""  # why a close was asked for (trailing, time exit, operator…)
    reason: str = ""  # the outcome's machine-readable reason
    retcode: int | None = None
    price: float = 0.0
    filled_volume: float = 0.0
    not_found_checks: int = 0
    updated_at: float = 0.0
    planned_risk: float = 0.0  # open: the loss at the stop the RiskManager approved
    reference_price: float = 0.0  # open: the price decided at (SL/TP keep their distances)
    strategy: str = ""  # open: the strategy whose decision it is

    @property
    def final(self) -> bool:
        return self.status in _FINAL

    @property
    def unresolved(self) -> bool:
        """Sent, or perhaps sent, with no known outcome."""
        return self.status in (IntentStatus.SENDING, IntentStatus.UNKNOWN)

    def to_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["status"] = str(self.status)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Intent:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in record.items() if key in names}
        values["status"] = IntentStatus(values["status"])
        return cls(**values)


class IntentLedger:
    """Every intent the broker knows, by client order id. Pure bookkeeping: the actor persists
    each intent it gets back from a transition."""

    def __init__(self) -> None:
        self._intents: dict[str, Intent] = {}

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._intents

    def __len__(self) -> int:
        return len(self._intents)

    def get(self, client_order_id: str) -> Intent | None:
        return self._intents.get(client_order_id)

    def __getitem__(self, client_order_id: str) -> Intent:
        return self._intents[client_order_id]

    def load(self, records: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Intents read back from SharedState (``key → record``); returns the keys that could
        not be read. A ``WRITING`` record cannot exist (it is never persisted); if one did, it
        is read as ``SENDING``, which is the safe reading."""
        broken = []
        for key, record in records.items():
            try:
                intent = Intent.from_record(record)
            except (KeyError, TypeError, ValueError):
                broken.append(key)
                continue
            if intent.status is IntentStatus.WRITING:
                intent = dataclasses.replace(intent, status=IntentStatus.SENDING)
            self._intents[intent.client_order_id] = intent
        return broken

    def unresolved(self) -> list[Intent]:
        return [intent for intent in self._intents.values() if intent.unresolved]

    def writing(self) -> list[Intent]:
        return [i for i in self._intents.values() if i.status is IntentStatus.WRITING]

    def opened_position(self, ticket: int, comment: str = "") -> Intent | None:
        """The open intent behind a position: by the comment it carries, else by ticket."""
        intent = self._intents.get(comment) if comment else None
        if intent is not None and intent.kind == "open":
            return intent
        for candidate in self._intents.values():
            if candidate.kind == "open" and candidate.ticket == ticket:
                return candidate
        return None

    def purpose_of(self, client_order_id: str) -> str:
        intent = self._intents.get(client_order_id)
        return intent.purpose if intent is not None else ""

    # --- transitions ----------------------------------------------------------------------

    def begin(self, intent: Intent) -> Intent:
        """A new intent, ``WRITING``. Its coid must be new: a known coid is answered from its
        record, never begun again."""
        if intent.client_order_id in self._intents:
            raise KeyError(f"client order id {intent.client_order_id!r} is already known")
        begun = dataclasses.replace(intent, status=IntentStatus.WRITING,
                                    updated_at=intent.created_at)
        self._intents[intent.client_order_id] = begun
        return begun

    def durable(self, client_order_id: str, now: float) -> Intent:
        """SharedState has the record: ``WRITING → SENDING``; only now may it be sent."""
        intent = self._require(client_order_id, IntentStatus.WRITING)
        return self._put(dataclasses.replace(intent, status=IntentStatus.SENDING, updated_at=now))

    def abandon(self, client_order_id: str) -> None:
        """The write-ahead failed; nothing was recorded or sent, so the coid is free again."""
        self._require(client_order_id, IntentStatus.WRITING)
        del self._intents[client_order_id]

    def refuse(self, client_order_id: str, reason: str, now: float) -> Intent:
        """Recorded but not sent, and never will be."""
        intent = self._require(client_order_id, IntentStatus.SENDING)
        return self._put(dataclasses.replace(intent, status=IntentStatus.REFUSED, reason=reason,
                                             updated_at=now))

    def apply_outcome(self, client_order_id: str, outcome: OrderOutcome, now: float) -> Intent:
        """What the gateway said about the send."""
        intent = self._require(client_order_id, IntentStatus.SENDING)
        changes: dict[str, Any] = {"reason": outcome.reason, "retcode": outcome.retcode,
                                   "updated_at": now}
        if outcome.status is Outcome.DONE:
            changes.update(status=IntentStatus.DONE, price=outcome.price,
                           filled_volume=outcome.volume)
            if intent.kind == "open" and outcome.order:
                # Hedging: the position's ticket is the ticket of the order that opened it.
                changes["ticket"] = outcome.order
        elif outcome.status is Outcome.UNKNOWN:
            changes["status"] = IntentStatus.UNKNOWN
        elif intent.kind == "close" and outcome.reason in _ALREADY_CLOSED_REASONS:
            changes.update(status=IntentStatus.DONE, reason="already_closed")
        else:
            changes["status"] = IntentStatus.REJECTED
        return self._put(dataclasses.replace(intent, **changes))

    def apply_fate(self, client_order_id: str, fate: OrderFate, now: float,
                   in_flight_s: float) -> Intent:
        """What the terminal's books say about an unresolved intent.

        ``NOT_FOUND`` is final only once the order cannot still be in flight: ``in_flight_s``
        after it was begun (a real terminal may execute a timed-out order late), and at once
        for a terminal that lives in this process (nothing survives our own restart, and the
        gateway reads the books only after the send has returned).
        """
        intent = self._intents[client_order_id]
        if not intent.unresolved:
            return intent
        changes: dict[str, Any] = {"updated_at": now}
        if fate.status is FateStatus.FILLED:
            changes.update(status=IntentStatus.DONE, reason="done", price=fate.price,
                           filled_volume=fate.volume)
            if intent.kind == "open":
                changes["ticket"] = fate.position or fate.order or intent.ticket
        elif fate.status is FateStatus.PENDING:
            changes.update(status=IntentStatus.DONE, reason="placed", price=fate.price,
                           filled_volume=fate.volume)
        elif fate.status is FateStatus.CANCELLED:
            changes.update(status=IntentStatus.REJECTED, reason="cancelled")
        else:
            checks = intent.not_found_checks + 1
            changes["not_found_checks"] = checks
            if now - intent.created_at >= in_flight_s:
                changes.update(status=IntentStatus.REJECTED, reason="not_executed")
            else:
                changes["status"] = IntentStatus.UNKNOWN
        return self._put(dataclasses.replace(intent, **changes))

    # --- helpers ----------------------------------------------------------------------------

    def _require(self, client_order_id: str, status: IntentStatus) -> Intent:
        intent = self._intents[client_order_id]
        if intent.status is not status:
            raise ValueError(f"intent {client_order_id!r} is {intent.status}, not {status}")
        return intent

    def _put(self, intent: Intent) -> Intent:
        self._intents[intent.client_order_id] = intent
        return intent

    def all(self) -> Iterable[Intent]:
        return self._intents.values()

    def forget_settled(self, before: float, keep: Callable[[Intent], bool]) -> int:
        """Drop from memory the final intents last changed before ``before`` (wall-clock epoch
        seconds) that ``keep`` does not want, unless an intent is still unresolved (the orders
        around it help to find it by shape). Their records stay in SharedState until retention
        prunes them; one asked about again is read back from there. Returns how many went."""
        if any(intent.unresolved for intent in self._intents.values()):
            return 0
        gone = [coid for coid, intent in self._intents.items()
                if intent.final and intent.updated_at < before and not keep(intent)]
        for coid in gone:
            del self._intents[coid]
        return len(gone)
