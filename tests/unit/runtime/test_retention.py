"""Retention on real SQLite files: old decisions, intents and claims go, whatever is still
needed stays, and both databases level off instead of growing for ever; a starting broker
reads back only its live records."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from thespian.actors import ActorSystem

from actors.app.settings import load_settings
from actors.broadcaster.journal import Journal
from actors.shared_state.store import KeyValueStore, StoreError
from messages.commands import StateGet, StateGetAll, StateReply, StateSet
from messages.supervision import Configure, Started
from messages.trading import BrokerProfile, BrokerReady
from tests.support.actors import ask_for

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
            journal.maintain()  # as the Broadcaster does once the events are announced
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


def _age(store: KeyValueStore, prefix: str, at: str = "2020-01-01T00:00:00.000000Z") -> None:
    """As if the rows under ``prefix`` had been written long ago."""
    store._db.execute("UPDATE kv SET updated_at = ? WHERE substr(key, 1, ?) = ?",
                      (at, len(prefix), prefix))


def test_a_starting_broker_reads_only_its_live_records(store: KeyValueStore) -> None:
    for n in range(5000):  # years of trading: resolved orders and reported trades
        store.set(f"broker.intent.E{n}", {"status": ("done", "rejected", "refused")[n % 3],
                                          "ticket": 10_000 + n, "decision_id": f"d{n}"})
        store.set(f"broker.reported.{10_000 + n}", {"at": "2020-01-01T00:00:00Z"})
    store.set("broker.intent.E7", {"status": "done", "ticket": 777})  # opened a tracked one
    store.set("broker.intent.C7", {"status": "done", "ticket": 777, "kind": "close"})
    store.set("broker.position.777", {"ticket": 777, "decision_id": "d7"})
    store.set("broker.intent.OLDSEND", {"status": "sending", "ticket": None})  # unresolved
    _age(store, "broker.")
    _age(store, "broker.intent.OLDSEND", "2021-06-01T00:00:00.000000Z")  # a year later
    store.set("broker.intent.NEW", {"status": "done", "ticket": 1})  # within the last hour
    store.set("broker.deals.cursor", {"msc": 1})
    store.set("broker.server_utc_offset", {"offset_s": 7200})
    store.set("broker.other", 1)  # a broker key it does not name
    store.set("risk.state", {})
    live = store.get_live(("broker.deals.cursor", "broker.server_utc_offset"), recent_s=3600)
    assert set(live) == {
        "broker.deals.cursor", "broker.server_utc_offset", "broker.position.777",
        "broker.intent.E7", "broker.intent.C7", "broker.intent.OLDSEND", "broker.intent.NEW",
    }
    assert live["broker.intent.E7"].value == {"status": "done", "ticket": 777}
    store.delete("broker.intent.OLDSEND")  # resolved: the orders sent around it matter no more
    store.set("broker.intent.OLDSEND", {"status": "rejected", "ticket": None})
    assert "broker.intent.OLDSEND" in store.get_live()  # written just now
    _age(store, "broker.intent.OLDSEND")
    assert set(store.get_live()) == {"broker.position.777", "broker.intent.E7",
                                     "broker.intent.C7", "broker.intent.NEW"}


def test_the_orders_written_around_an_old_unresolved_one_are_read_back_too(
    store: KeyValueStore,
) -> None:
    store.set("broker.intent.BEFORE", {"status": "done", "ticket": 5})
    store.set("broker.intent.LONGBEFORE", {"status": "done", "ticket": 4})
    store.set("broker.intent.STUCK", {"status": "unknown", "ticket": None})
    _age(store, "broker.intent.LONGBEFORE", "2020-01-01T00:00:00.000000Z")
    _age(store, "broker.intent.BEFORE", "2020-03-01T11:59:50.000000Z")
    _age(store, "broker.intent.STUCK", "2020-03-01T12:00:00.000000Z")  # the daemon was down
    assert set(store.get_live(recent_s=3600)) == {"broker.intent.BEFORE", "broker.intent.STUCK"}


def test_a_bad_live_read_is_refused_by_name(store: KeyValueStore) -> None:
    with pytest.raises(StoreError, match="recent_s"):
        store.get_live(recent_s=-1)
    with pytest.raises(StoreError, match="key must be"):
        store.get_live(("",))


def test_shared_state_prunes_on_its_timer_by_market_time_and_keeps_what_is_needed(
    system: ActorSystem, tmp_path: Path,
) -> None:
    assert load_settings(environ={}).state.retention_days == 30  # the default
    settings = load_settings(assignments=[
        f"runtime.data_dir='{tmp_path}'", "state.retention_days=1", "state.prune_interval_s=0.05",
    ], environ={})  # fmt: skip
    shared = system.createActor("actors.shared_state.actor.SharedStateActor")
    ask_for(system, shared, Configure("shared_state", settings, os.getpid()), Started)

    def market_at(market_time: float) -> None:  # the broker's clock, as its profile tells it
        profile = BrokerProfile(kind="sim", connected=True, speed=1.0,
                                market_epoch=(market_time, time.time()))
        system.tell(shared, BrokerReady(True, True, profile))

    def ask(request: Any) -> StateReply:
        return ask_for(system, shared, request, StateReply)

    records = {"broker.intent.Eold": {"status": "done", "ticket": 5, "decision_id": "old"},
               "broker.intent.Estuck": {"status": "unknown", "ticket": None},
               "broker.reported.5": {"at": "x"}, "critic.reviewed.5": {"by": "critic"}}
    for key, value in records.items():
        assert ask(StateSet(request_id=key, key=key, value=value)).ok

    def passes() -> int:  # the prune passes recorded so far (one watermark each)
        with sqlite3.connect(f"file:{tmp_path / 'state.db'}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM watermarks").fetchone()[0])

    def a_pass_after_now() -> None:  # asking lets the one-process system run the timer
        seen = passes()
        _until(lambda: ask(StateGet(request_id="g", key="risk.x")) and passes() > seen,
               "a prune pass")

    market_at(T0)
    a_pass_after_now()  # its watermark (T0) is later than every record
    market_at(T0 + 0.9 * DAY)  # not old yet
    a_pass_after_now()
    assert ask(StateGetAll(request_id="a")).value.keys() == records.keys()
    market_at(T0 + 1.1 * DAY)
    _until(lambda: set(ask(StateGetAll(request_id="a")).value) == {"broker.intent.Estuck"},
           "the old intent and its claims to be pruned, the unresolved one kept")


def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")
