"""SharedState's store on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from actors.shared_state.store import KeyValueStore, OpIdReused, StoreError


@pytest.fixture
def store(tmp_path: Path) -> KeyValueStore:
    opened = KeyValueStore(tmp_path / "state.db")
    yield opened
    opened.close()


def test_the_seed_api(store: KeyValueStore) -> None:
    updated = store.set("daily_trades", 3)
    assert store.get("daily_trades").value == 3
    assert store.get_last_update("daily_trades") == updated
    store.set("regime_EURUSD", {"regime": "TRENDING", "adx": 31.5})
    assert store.get_all() == {
        "daily_trades": store.get("daily_trades"),
        "regime_EURUSD": store.get("regime_EURUSD"),
    }
    assert set(store.get_all("regime_")) == {"regime_EURUSD"}
    assert store.delete("daily_trades") and not store.delete("daily_trades")
    assert store.get("daily_trades") is None and store.get_last_update("daily_trades") is None


def test_wal_mode_and_values_survive_reopening(tmp_path: Path) -> None:
    first = KeyValueStore(tmp_path / "state.db")
    first.set("k", [1, 2, 3])
    first.close()
    mode = sqlite3.connect(tmp_path / "state.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    second = KeyValueStore(tmp_path / "state.db")
    assert second.get("k").value == [1, 2, 3]
    second.close()


def test_a_store_that_need_not_be_durable_commits_without_waiting_for_the_disk(
        tmp_path: Path) -> None:
    durable = KeyValueStore(tmp_path / "live.db")
    throwaway = KeyValueStore(tmp_path / "backtest.db", durable=False)
    # 2 is FULL, 0 is OFF (SQLite's numbers for the pragma).
    assert durable._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert throwaway._db.execute("PRAGMA synchronous").fetchone()[0] == 0
    throwaway.set("k", {"v": 1})
    throwaway.journal_append("op-1", "decision", "EURUSD", {"step": "candidate"}, "d1")
    throwaway.close()
    durable.close()
    again = KeyValueStore(tmp_path / "backtest.db")
    assert again.get("k").value == {"v": 1}
    assert [e["record"] for e in again.journal_query(decision_id="d1")] == [
        {"step": "candidate"}]
    again.close()


def test_increment_is_applied_once_per_op_id(store: KeyValueStore) -> None:
    assert store.increment("losses", 1, "op-1").value == 1
    assert store.increment("losses", 1, "op-1").value == 1  # a retry
    assert store.increment("losses", 2.5, "op-2").value == 3.5
    assert store.get("losses").value == 3.5


def test_an_op_id_used_for_another_operation_or_key_is_refused(store: KeyValueStore) -> None:
    """Found by schemathesis: a compare-and-set's op_id reused for an increment crashed
    SharedState (the increment read the CAS's record) until its supervisor gave up."""
    assert store.compare_and_set("ops.a", None, 1, "op-1") == (True, 1)
    with pytest.raises(OpIdReused, match=r"op_id 'op-1' was already used for cas of 'ops\.a'"):
        store.increment("ops.a", 1, "op-1")
    store.increment("ops.b", 2, "op-2")
    with pytest.raises(StoreError, match=r"already used for increment of 'ops\.b'"):
        store.compare_and_set("ops.b", 2, 5, "op-2")
    with pytest.raises(StoreError, match=r"already used for increment of 'ops\.b'"):
        store.increment("ops.c", 2, "op-2")
    assert (store.get("ops.a").value, store.get("ops.b").value) == (1, 2)
    assert store.get("ops.c") is None
    assert store.increment("ops.b", 2, "op-2").value == 2  # the same request still replays


def test_compare_and_set(store: KeyValueStore) -> None:
    assert store.compare_and_set("mode", None, "ACTIVE", "a") == (True, "ACTIVE")
    assert store.compare_and_set("mode", "HALTED", "ACTIVE", "b") == (False, "ACTIVE")
    assert store.compare_and_set("mode", "ACTIVE", "HALTED", "c") == (True, "HALTED")
    assert store.compare_and_set("mode", "ACTIVE", "HALTED", "c") == (True, "HALTED")  # retry


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.set("", 1), "key must be a non-empty string"),
        (lambda s: s.set("k", float("nan")), "not JSON-serialisable"),
        (lambda s: s.set("k", object()), "not JSON-serialisable"),
        (lambda s: s.increment("k", "1", "x"), "delta must be a finite number"),
        (lambda s: s.increment("k", 1, ""), "op_id must be a non-empty string"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(store: KeyValueStore, call,
                                                     message: str) -> None:
    store.set("text", "hello")
    with pytest.raises(StoreError, match=message):
        call(store)
    assert store.get_all().keys() == {"text"}


def test_increment_refuses_a_value_that_is_not_a_number(store: KeyValueStore) -> None:
    store.set("text", "hello")
    with pytest.raises(StoreError, match="not a number"):
        store.increment("text", 1, "op")
    assert store.get("text").value == "hello"


def test_journal_appends_once_per_op_id_and_answers_by_kind_key_and_decision(
    store: KeyValueStore,
) -> None:
    first = store.journal_append("op-a", "trade", "EURUSD", {"ticket": 1}, decision_id="d1")
    assert store.journal_append("op-a", "trade", "EURUSD", {"ticket": 1}, "d1") == first
    store.journal_append("op-b", "review", "EURUSD", {"score": 7}, decision_id="d1")
    store.journal_append("op-c", "trade", "XAUUSD", {"ticket": 2}, decision_id="d2")
    trades = store.journal_query(kind="trade")
    assert [entry["record"]["ticket"] for entry in trades] == [2, 1]  # newest first
    assert [entry["kind"] for entry in store.journal_query(decision_id="d1")] == ["trade",
                                                                                  "review"]
    assert [e["record"] for e in store.journal_query(kind="trade", key="XAUUSD")] == [
        {"ticket": 2}]
    assert store.journal_query(after_id=first, limit=1)[0]["kind"] == "trade"
    with pytest.raises(StoreError, match="journal record must be an object"):
        store.journal_append("op-d", "trade", "X", [1])  # type: ignore[arg-type]


def test_every_entry_of_a_kind_is_read_however_many_oldest_first(store: KeyValueStore) -> None:
    """A long backtest's trades: journal_query answers one page of at most 10,000, the
    backtest's files need them all."""
    for ticket in range(10_050):
        store.journal_append(f"op-{ticket}", "trade", "EURUSD", {"ticket": ticket})
        if ticket % 1000 == 0:
            store.journal_append(f"review-{ticket}", "review", "EURUSD", {"ticket": ticket})
    assert len(store.journal_query(kind="trade", limit=20_000)) == 10_000
    tickets = [entry["record"]["ticket"] for entry in store.journal_entries("trade", batch=999)]
    assert tickets == list(range(10_050))
    assert len(list(store.journal_entries("review"))) == 11
    assert list(store.journal_entries("nothing")) == []
