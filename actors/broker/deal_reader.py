"""Every deal in the books, once: which of the deals a poll read are new.

The broker reads the terminal's deal history on every poll. A position that opens and closes
between two polls is never seen open, so its trade is found only here: by its exit deal. The
reader keeps a cursor, the newest deal time it has seen (``time_msc``, server clock), and the
tickets of the deals within :data:`OVERLAP_MS` before it: a poll's new deals are those after the
cursor, plus those inside the overlap whose ticket it has not seen (a real terminal can add a
deal to its history a little after a later one). The cursor is persisted in SharedState
(:data:`CURSOR_KEY`) so a restarted broker neither repeats nor misses a deal; without a cursor
(the first start) every deal of the read window is new.

:func:`closed_positions` picks, from new deals, the positions of ours that they closed and that
are no longer open: each is reported as a closed trade (once: the report is also claimed in
SharedState).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from messages.books import DealRecord

__all__ = [
    "CURSOR_KEY",
    "OVERLAP_MS",
    "DealCursor",
    "DealReader",
    "closed_positions",
]

CURSOR_KEY = "broker.deals.cursor"
OVERLAP_MS = 10 * 60 * 1000


@dataclass(frozen=True, slots=True)
class DealCursor:
    time_msc: int
    tickets: tuple[int, ...]
    """The deals at most :data:`OVERLAP_MS` before ``time_msc`` that have been seen."""

    def to_record(self) -> dict[str, Any]:
        return {"time_msc": self.time_msc, "tickets": list(self.tickets)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DealCursor:
        time_msc = record["time_msc"]
        tickets = record["tickets"]
        if not isinstance(time_msc, int) or not all(isinstance(t, int) for t in tickets):
            raise ValueError(f"not a deal cursor: {record!r}")
        return cls(time_msc, tuple(tickets))


class DealReader:
    def __init__(self, magic: int, cursor: DealCursor | None = None) -> None:
        self.magic = magic
        self.cursor = cursor

    def window_start_msc(self, default_msc: int) -> int:
        """Where the next read must begin, at the latest (server clock, milliseconds)."""
        if self.cursor is None:
            return default_msc
        return min(default_msc, self.cursor.time_msc - OVERLAP_MS)

    def fresh(self, deals: Iterable[DealRecord]) -> list[DealRecord]:
        """Our trading deals among ``deals`` that were not seen before, oldest first; the cursor
        moves past them (persist :attr:`cursor` when this returns anything)."""
        ours = [d for d in deals if d.magic == self.magic and d.is_trade]
        cursor = self.cursor
        if cursor is None:
            new = ours
        else:
            seen = set(cursor.tickets)
            floor = cursor.time_msc - OVERLAP_MS
            new = [d for d in ours if d.time_msc > cursor.time_msc
                   or (d.time_msc >= floor and d.ticket not in seen)]
        new.sort(key=lambda d: (d.time_msc, d.ticket))
        if not new:
            return []
        newest = max(d.time_msc for d in (*new, *ours))
        if cursor is not None:
            newest = max(newest, cursor.time_msc)
        # The read began at the old cursor's overlap at the latest, so every deal inside the
        # new one is in it; older tickets are never looked at again.
        floor = newest - OVERLAP_MS
        kept = sorted({d.ticket for d in ours if d.time_msc >= floor})
        self.cursor = DealCursor(newest, tuple(kept))
        return new


def closed_positions(fresh: Sequence[DealRecord], open_tickets: Iterable[int]) -> list[int]:
    """Positions that ``fresh`` deals closed and that are not open any more, in the order of
    their last exit."""
    still_open = set(open_tickets)
    closed: dict[int, int] = {}
    for deal in fresh:
        if not deal.opens and deal.position_id not in still_open:
            closed[deal.position_id] = deal.time_msc
    return sorted(closed, key=lambda ticket: closed[ticket])
