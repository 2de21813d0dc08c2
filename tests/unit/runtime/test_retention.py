"""Retention on real SQLite files: old decisions, intents and claims go, whatever is still
needed stays, and both databases level off instead of growing for ever."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.broadcaster.journal import Journal
from actors.shared_state.store import KeyValueStore

DAY = 86_400.0
RETENTION = 30 * DAY
T0 = 1_800_000_000.0  # market time of the first prune pass


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KeyValueStore]:
    opened = KeyValueStore(tmp_path / "state.db")
    yield opened
    opened.close()


def _decision(store: KeyValueStore, decision: str, steps: tuple[str, ...] = ("candidate",
                                                                             "research")) -> None:
    for step in steps:
        store.journal_append(f"{decision}-{step}", "decision", "EURUSD", {"step": step},
                             decision_id=decision)


def _trade(store: KeyValueStore, decision: str, ticket: int, reviewed: bool) -> None:
    store.journal_append(f"trade-{ticket}", "trade", "EURUSD", {"ticket": ticket},
                         decision_id=decision)
    store.set(f"broker.reported.{ticket}", {"at": "2027-01-01T00:00:00Z"})
    store.set(f"critic.reviewed.{ticket}", {"by": "critic-1"})
    if reviewed:
        store.journal_append(f"review-{ticket}", "review", "EURUSD", {"ticket": ticket},
                             decision_id=decision)


def _intent(store: KeyValueStore, decision: str, status: str, ticket: int | None) -> None:
    store.set(f"broker.intent.E{decision}", {"status": status, "ticket": ticket,
                                             "decision_id": decision})


def _decisions(store: KeyValueStore) -> set[str]:
    return {entry["decision_id"] for entry in store.journal_query(limit=10_000)}


def _keys(store: KeyValueStore) -> set[str]:
    return set(store.get_all())


def test_old_records_go_and_what_is_still_needed_stays(store: KeyValueStore) -> None:
    _decision(store, "d-scan")  # a candidate that led nowhere
    _decision(store, "d-done", ("candidate", "order"))
    _intent(store, "d-done", "done", 11)
    _trade(store, "d-done", 11, reviewed=True)
    _decision(store, "d-unreviewed", ("order",))
    _trade(store, "d-unreviewed", 12, reviewed=False)
    _decision(store, "d-open", ("order",))
    _intent(store, "d-open", "done", 13)
    store.set("broker.position.13", {"ticket": 13, "decision_id": "d-open"})
    _decision(store, "d-unknown", ("order",))
    _intent(store, "d-unknown", "unknown", None)
    _decision(store, "d-rejected", ("order",))
    _intent(store, "d-rejected", "rejected", None)
    _decision(store, "d-ongoing", ("candidate",))
    store.set("ops.note", "kept")
    assert store.prune(T0, RETENTION) == {}  # nothing is old yet: the first watermark
    _decision(store, "d-ongoing", ("research",))  # its chain goes on after the watermark
    _decision(store, "d-new")
    # 29 days later, nothing is older than the retention yet.
    assert not any(store.prune(T0 + 29 * DAY, RETENTION).values())
    pruned = store.prune(T0 + RETENTION + 1, RETENTION)
    assert _decisions(store) == {"d-unreviewed", "d-open", "d-unknown", "d-ongoing", "d-new"}
    assert _keys(store) == {
        "broker.intent.Ed-open", "broker.position.13",
        "broker.intent.Ed-unknown",
        "broker.reported.12", "critic.reviewed.12",  # the trade is not reviewed yet
        "ops.note",
    }
    assert pruned == {"journal": 7, "intents": 2, "reported": 1, "reviewed": 1}
    ongoing = store.journal_query(decision_id="d-ongoing")
    assert [entry["record"]["step"] for entry in ongoing] == ["candidate", "research"]


def test_a_reviewed_trade_goes_once_it_is_old(store: KeyValueStore) -> None:
    _decision(store, "d", ("order",))
    _trade(store, "d", 12, reviewed=False)
    store.prune(T0, RETENTION)
    store.prune(T0 + RETENTION + 1, RETENTION)
    assert _decisions(store) == {"d"}
    store.journal_append("review-12", "review", "EURUSD", {"ticket": 12}, decision_id="d")
    store.prune(T0 + RETENTION + 2, RETENTION)  # the review is new: the chain stays a while
    assert _decisions(store) == {"d"}
    store.prune(T0 + 2 * RETENTION + 3, RETENTION)
    assert _decisions(store) == set() and _keys(store) == set()


def _file_size(path: Path) -> int:
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists())


def test_the_state_store_levels_off_under_steady_trading(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = KeyValueStore(path)
    sizes = []
    padding = "x" * 2000
    try:
        for day in range(120):
            for n in range(40):
                decision = f"d{day}-{n}"
                store.journal_append(f"{decision}-c", "decision", "EURUSD",
                                     {"step": "candidate", "why": padding}, decision_id=decision)
                if n % 10 == 0:
                    ticket = day * 100 + n
                    _intent(store, decision, "done", ticket)
                    _trade(store, decision, ticket, reviewed=True)
            store.prune(T0 + day * DAY, 10 * DAY)
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            sizes.append(_file_size(path))
        (rows,) = store._db.execute("SELECT COUNT(*) FROM journal").fetchone()
    finally:
        store.close()
    assert rows <= 12 * 48  # about the retention's worth of days, not 120 days
    assert max(sizes[60:]) <= sizes[30] * 1.2  # the file stopped growing


def test_the_event_journal_gives_pruned_pages_back(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    journal = Journal(path, keep=1000)
    body = '{"x":"' + "y" * 1000 + '"}'
    sizes = []
    try:
        for start in range(0, 30_000, 500):
            journal.append([(seq, "TICK", body) for seq in range(start + 1, start + 501)])
            if start % 5000 == 0:
                journal._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                sizes.append(os.path.getsize(path))
        (auto_vacuum,) = journal._db.execute("PRAGMA auto_vacuum").fetchone()
        (free,) = journal._db.execute("PRAGMA freelist_count").fetchone()
    finally:
        journal.close()
    assert auto_vacuum == 2  # INCREMENTAL
    assert free < 100
    assert max(sizes[2:]) <= sizes[1] * 1.2


def test_an_existing_journal_file_is_converted_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, "
                "body TEXT NOT NULL)")
    old.execute("INSERT INTO events VALUES (1, 'TICK', '{}')")
    old.commit()
    old.close()
    journal = Journal(path)
    try:
        assert journal._db.execute("PRAGMA auto_vacuum").fetchone() == (2,)
        assert journal.last_seq() == 1
    finally:
        journal.close()
