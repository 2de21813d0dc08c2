"""The deal reader: every deal of ours once, through overlapping reads, late arrivals inside
the overlap and restarts from the saved cursor; and the positions new exit deals closed."""

from __future__ import annotations

import dataclasses

import pytest

from actors.broker.deal_reader import (
    OVERLAP_MS,
    DealCursor,
    DealReader,
    closed_positions,
)
from messages.books import DealRecord

MAGIC = 234000
T0 = 1_700_000_000_000


def deal(ticket: int, time_msc: int, *, position: int = 1, entry: int = 0, magic: int = MAGIC,
         deal_type: int = 0) -> DealRecord:
    return DealRecord(
        ticket=ticket, order=ticket, time=time_msc // 1000, time_msc=time_msc, type=deal_type,
        entry=entry, magic=magic, position_id=position, reason=3, volume=0.1, price=1.1,
        commission=0.0, swap=0.0, profit=0.0, fee=0.0, symbol="EURUSD", comment="",
        external_id="",
    )  # fmt: skip


def test_each_deal_of_ours_is_new_once_through_overlapping_reads() -> None:
    reader = DealReader(MAGIC)
    first = [deal(1, T0), deal(2, T0 + 1000), deal(3, T0 + 500, magic=7),
             deal(4, T0 + 600, deal_type=2)]  # foreign, and a balance operation
    assert [d.ticket for d in reader.fresh(first)] == [1, 2]
    assert reader.fresh(first) == []  # the same read again
    second = [*first, deal(5, T0 + 2000), deal(6, T0 + 2000)]
    assert [d.ticket for d in reader.fresh(second)] == [5, 6]
    assert reader.cursor is not None and reader.cursor.time_msc == T0 + 2000
    assert reader.window_start_msc(T0 + 10**9) == T0 + 2000 - OVERLAP_MS


def test_a_deal_that_reaches_the_history_late_is_still_new_inside_the_overlap() -> None:
    reader = DealReader(MAGIC)
    reader.fresh([deal(1, T0), deal(3, T0 + 60_000)])
    late = deal(2, T0 + 30_000)  # older than the cursor, but not seen
    assert [d.ticket for d in reader.fresh([deal(1, T0), late, deal(3, T0 + 60_000)])] == [2]
    too_old = deal(9, T0 + 60_000 - OVERLAP_MS - 1)
    assert reader.fresh([too_old, deal(3, T0 + 60_000)]) == []


def test_a_restarted_reader_continues_from_its_saved_cursor() -> None:
    reader = DealReader(MAGIC)
    reads = [deal(1, T0), deal(2, T0 + 1000)]
    reader.fresh(reads)
    assert reader.cursor is not None
    restarted = DealReader(MAGIC, DealCursor.from_record(reader.cursor.to_record()))
    assert restarted.fresh([*reads, deal(3, T0 + 1000)]) == [deal(3, T0 + 1000)]
    with pytest.raises(ValueError, match="not a deal cursor"):
        DealCursor.from_record({"time_msc": "yesterday", "tickets": []})


def test_the_positions_new_exit_deals_closed_that_are_not_open_any_more() -> None:
    opened_and_closed = [deal(1, T0, position=10), deal(2, T0 + 10, position=10, entry=1)]
    partial = [deal(3, T0 + 20, position=11, entry=1)]
    entry_only = [deal(4, T0 + 30, position=12)]
    fresh = [*opened_and_closed, *partial, *entry_only,
             dataclasses.replace(deal(5, T0 + 5, position=13, entry=1))]
    assert closed_positions(fresh, open_tickets={11, 12}) == [13, 10]
