"""Commands and replies between actors.

Every request that expects a reply carries a ``request_id``; the reply echoes it. Requests that
change state also carry an ``op_id`` where a retry must not apply twice (SharedState remembers
the op ids it has applied).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from messages.events import Event

__all__ = [
    "EventBatch",
    "JournalAppend",
    "JournalQuery",
    "LiveQuotes",
    "Publish",
    "SnapshotSync",
    "StateCompareAndSet",
    "StateDelete",
    "StateGet",
    "StateGetAll",
    "StateGetLastUpdate",
    "StateGetLive",
    "StateIncrement",
    "StateReply",
    "StateRequest",
    "StateSet",
    "WirePublish",
]


# --- events on their way to the Broadcaster and on to the WebFront ---------------------------


@dataclass(frozen=True, slots=True)
class Publish:
    """Events for the Broadcaster to number, journal and forward. One message per handler call,
    however many events it produced (a TCP hop is the expensive part, DESIGN.md §10)."""

    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class WirePublish:
    """A ``Publish`` whose events are already in wire form (``to_wire``, not numbered): what
    the publish lane carries (``actors/runtime/publish_lane.py``), since plain dicts unpickle
    several times faster than event dataclasses."""

    wires: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Numbered events, Broadcaster → WebFront. ``wires`` are the plain dicts (for the snapshot
    mirror) and ``texts`` their JSON encoding, made once for every client."""

    wires: tuple[dict[str, Any], ...]
    texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LiveQuotes:
    """QUOTE events that are not numbered (``broadcaster.journal_quotes`` off), Broadcaster →
    WebFront: the latest of each symbol in one ``Publish``, as dicts and as their JSON."""

    wires: tuple[dict[str, Any], ...]
    texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SnapshotSync:
    """The Broadcaster's whole rolling snapshot as of ``last_seq``, sent to a (new) WebFront."""

    snapshot: dict[str, Any]
    last_seq: int


# --- SharedState -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StateRequest:
    request_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSet(StateRequest):
    key: str
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class StateGet(StateRequest):
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateGetAll(StateRequest):
    """The keys under ``prefix`` in key order, those after ``after`` only; at most ``limit``
    of them (0: all)."""

    prefix: str = ""
    after: str = ""
    limit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StateGetLive(StateRequest):
    """What a starting MT5Broker needs, and not the history it no longer does
    (``actors/shared_state/live.py``): the positions it tracks, its live order intents (not
    final, of a tracked position, or written within ``recent_s`` of now or of the earliest
    unresolved one) and the named ``keys``. Answered like :class:`StateGetAll`."""

    keys: tuple[str, ...] = ()
    recent_s: float = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StateDelete(StateRequest):
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateGetLastUpdate(StateRequest):
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateIncrement(StateRequest):
    """Add ``delta`` to a numeric value (missing counts as 0). ``op_id`` makes it idempotent."""

    key: str
    delta: float = 1
    op_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateCompareAndSet(StateRequest):
    """Set ``key`` to ``new`` only if its value equals ``expected`` (None: the key is absent)."""

    key: str
    expected: Any
    new: Any
    op_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalAppend(StateRequest):
    """Append a record to the journal (closed trades, reviews, decision steps). ``op_id`` makes
    a retried append a no-op."""

    op_id: str
    kind: str
    key: str
    record: dict[str, Any]
    decision_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalQuery(StateRequest):
    """Journal records, newest first: of one ``kind`` (and ``key``), or one ``decision_id``'s
    whole chain (oldest first), or those after ``after_id``; only those whose record's
    ``closed_at`` is in ``closed_since`` ≤ t < ``closed_until`` when either is given, and
    only those written under one of ``op_ids`` when it is not empty."""

    kind: str = ""
    key: str = ""
    decision_id: str = ""
    after_id: int = 0
    limit: int = 100
    closed_since: float | None = None
    closed_until: float | None = None
    op_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StateReply:
    """``ok`` False carries ``error``; for compare-and-set, ``ok`` False with no error means
    the expected value did not match and ``value`` is the current one."""

    request_id: str
    ok: bool
    value: Any = None
    updated_at: str | None = None
    error: str | None = None
    found: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
