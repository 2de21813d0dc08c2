"""The rolling snapshot and the journal that rebuilds it."""

from __future__ import annotations

import json
from pathlib import Path

from actors.broadcaster.journal import CHECKPOINT_TRANSACTIONS, Journal, JournalReader
from actors.broadcaster.snapshot import SNAPSHOT_TYPES, Snapshot


def _event(seq: int, kind: str, **fields: object) -> dict:
    return {"type": kind, "timestamp": f"t{seq}", "seq": seq, **fields}


def test_snapshot_follows_the_seed_rules_with_bounded_lists() -> None:
    snapshot = Snapshot(max_events=3, max_trades=2)
    snapshot.apply_all([
        _event(1, "ACCOUNT_UPDATE", account={"balance": 100, "equity": 100}),
        _event(2, "ACCOUNT_UPDATE", account={"equity": 95}),
        _event(3, "POSITION_UPDATE", positions=[{"ticket": 1}]),
        _event(4, "SCAN_SUMMARY", symbols={"EURUSD": "CANDIDATE BUY"}, count=1, candidates=1),
        _event(5, "TRADE_EXECUTION", symbol="A", direction="BUY", price=1.0, lot=0.1),
        _event(6, "TRADE_EXECUTION", symbol="B", direction="SELL", price=2.0, lot=0.2),
        _event(7, "TRADE_EXECUTION", symbol="C", direction="BUY", price=3.0, lot=0.3),
    ])
    state = snapshot.to_dict()
    assert state["account"] == {"balance": 100, "equity": 95}
    assert state["positions"] == [{"ticket": 1}]
    assert state["scan_summary"]["symbols"] == {"EURUSD": "CANDIDATE BUY"}
    assert [trade["symbol"] for trade in state["recent_trades"]] == ["C", "B"]  # newest first
    assert [event["seq"] for event in state["events"]] == [5, 6, 7]  # oldest first, numbered
    assert state["last_seq"] == 7


def test_the_snapshot_holds_every_strategys_latest_scan() -> None:
    """A page that connects (or resyncs) shows each strategy's cards, not only the newest
    scan's; the strategy's name comes with each."""
    snapshot = Snapshot()
    snapshot.apply_all([
        _event(1, "SCAN_SUMMARY", symbols={"EURUSD": "NO SETUP"}, strategy="Confluence"),
        _event(2, "SCAN_SUMMARY", symbols={"GBPUSD": "CANDIDATE BUY"}, strategy="SmaCross"),
        _event(3, "SCAN_SUMMARY", symbols={"EURUSD": "CANDIDATE SELL"}, strategy="Confluence"),
    ])
    state = snapshot.to_dict()
    assert state["scan_summary"]["strategy"] == "Confluence"
    assert {s["strategy"]: s["symbols"] for s in state["scan_summaries"]} == {
        "Confluence": {"EURUSD": "CANDIDATE SELL"}, "SmaCross": {"GBPUSD": "CANDIDATE BUY"}}
    again = Snapshot.from_dict(state).to_dict()  # across a Broadcaster restart
    assert again["scan_summaries"] == state["scan_summaries"]


def test_snapshot_ignores_events_it_has_already_applied() -> None:
    snapshot = Snapshot()
    trade = _event(1, "TRADE_EXECUTION", symbol="A", direction="BUY", price=1.0, lot=0.1)
    snapshot.apply(trade)
    snapshot.apply(trade)
    assert len(snapshot.recent_trades) == 1 and len(snapshot.events) == 1


def test_journal_continues_seq_and_rebuilds_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    journal = Journal(path)
    rows = [(1, "ACCOUNT_UPDATE", json.dumps(_event(1, "ACCOUNT_UPDATE", account={"b": 1})))]
    rows += [(seq, "SCAN_START", json.dumps(_event(seq, "SCAN_START", count=1)))
             for seq in range(2, 400)]
    journal.append(rows)
    journal.append(rows[:1])  # a repeated seq is ignored
    journal.close()

    reopened = Journal(path)
    assert reopened.last_seq() == 399
    snapshot = Snapshot()
    snapshot.apply_all(reopened.wires_for_snapshot(200, 50, SNAPSHOT_TYPES))
    assert snapshot.account == {"b": 1}  # older than the last 200, still restored
    assert len(snapshot.events) == 200 and snapshot.last_seq == 399
    reopened.close()


def test_reader_pages_by_seq_and_filters_by_type(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "events.db")
    kinds = ["SCAN_START", "SCAN_SUMMARY"]
    journal.append([(seq, kinds[seq % 2], f'{{"seq":{seq}}}') for seq in range(1, 11)])
    reader = JournalReader(tmp_path / "events.db")
    assert [seq for seq, _, _ in reader.texts_after(3, 4)] == [4, 5, 6, 7]
    assert [seq for seq, _, _ in reader.texts_after(0, 100, ["SCAN_SUMMARY"])] == [1, 3, 5, 7, 9]
    assert [seq for seq, _, _ in reader.texts_after(0, 100, until=3)] == [1, 2, 3]
    reader.close()
    journal.close()


def test_a_journal_written_before_the_renames_reads_in_todays_vocabulary(tmp_path: Path) -> None:
    """RISK_STATE_CHANGED became RISK_STATE and BROKER_STATUS's ``broker`` its ``kind``: an
    older journal is brought up to date once, when the writer opens it, and a replay, a
    filter by type and the rebuilt snapshot all see the new names; nothing else changes."""
    path = tmp_path / "events.db"
    old = [
        (1, "RISK_STATE_CHANGED", json.dumps({"type": "RISK_STATE_CHANGED", "seq": 1,
                                              "mode": "HALTED", "kill_switch": True})),
        (2, "BROKER_STATUS", json.dumps({"type": "BROKER_STATUS", "seq": 2, "state": "connected",
                                         "broker": "sim", "detail": '"broker": no'})),
        (3, "SCAN_START", json.dumps({"type": "SCAN_START", "seq": 3, "count": 2})),
    ]
    writer = Journal(path)
    writer.append(old)
    writer._db.execute("PRAGMA user_version = 0")  # as a journal of before the renames was
    writer.close()

    Journal(path).close()
    reader = JournalReader(path)
    rows = {seq: (kind, json.loads(text)) for seq, kind, text in reader.texts_after(0, 10)}
    assert rows[1] == ("RISK_STATE", {"type": "RISK_STATE", "seq": 1, "mode": "HALTED",
                                      "kill_switch": True})
    assert rows[2] == ("BROKER_STATUS", {"type": "BROKER_STATUS", "seq": 2, "state": "connected",
                                         "kind": "sim", "detail": '"broker": no'})
    assert rows[3] == ("SCAN_START", json.loads(old[2][2]))
    assert [seq for seq, _, _ in reader.texts_after(0, 10, types=["RISK_STATE"])] == [1]
    snapshot = Snapshot()
    snapshot.apply_all(reader.wires_for_snapshot(10, 10, SNAPSHOT_TYPES))
    assert snapshot.to_dict()["broker"]["kind"] == "sim"
    reader.close()

    Journal(path).append([(4, "SCAN_START", json.dumps({"type": "SCAN_START", "seq": 4,
                                                         "count": 1}))])  # opened again: once
    assert len(JournalReader(path).texts_after(0, 10)) == 4


def test_appends_leave_the_checkpoint_to_maintain(tmp_path: Path) -> None:
    """An append never checkpoints (its events would wait for the fsync): the write-ahead log
    keeps the rows, which readers see, until ``maintain`` moves them into the file after
    ``CHECKPOINT_TRANSACTIONS`` transactions; pruned rows' pages are given back there too."""
    path = tmp_path / "events.db"
    journal = Journal(path, keep=50)
    start_size = path.stat().st_size
    seq = 0
    for _ in range(CHECKPOINT_TRANSACTIONS):
        rows = [(seq + i, "SCAN_START", json.dumps(_event(seq + i, "SCAN_START", count=i)))
                for i in range(1, 11)]
        seq += 10
        journal.append(rows)
        assert path.stat().st_size == start_size  # nothing checkpointed inside an append
    assert journal.maintenance_due
    reader = JournalReader(path)
    assert reader.last_seq() == seq
    journal.maintain()
    assert not journal.maintenance_due
    assert path.stat().st_size > start_size  # the log's pages are in the file now
    # Pruned every 1,000 rows to the last 50: what is left is the last 50.
    assert [row[0] for row in reader.texts_after(0, 10_000)] == list(range(seq - 49, seq + 1))
    reader.close()
    journal.close()
