"""The key-value store behind SharedState: SQLite in WAL mode, one file, one writer.

The seed's API (set, get, get_all, delete, get_last_update) plus an atomic increment and a
compare-and-set for counters. Values are JSON. A write returns only after SQLite has committed
it with ``synchronous=FULL``, so an acknowledged write survives a SIGKILL of the process or of
the whole daemon, and a power cut. A store opened with ``durable=False`` (a backtest's data
directory, rebuilt by every run) commits with ``synchronous=OFF``: the same transactions, no
wait for the disk, so a crash of the machine may lose the last ones (never a crash of the
process alone: SQLite has handed them to the operating system).

Old records are pruned by :meth:`KeyValueStore.prune` (``actors/shared_state/retention.py``
says what is kept), and the file is in incremental auto-vacuum mode.

Increment and compare-and-set take an ``op_id``: the store remembers the op ids it has applied,
in the same transaction as the change, so a request that is retried (after a restart, or by
Thespian) is answered with its first result and never applied twice.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actors.runtime.sqlite_space import reclaim_free_pages, use_incremental_vacuum
from actors.shared_state.live import live_broker_rows
from actors.shared_state.retention import prune_before

__all__ = ["KeyValueStore", "OpIdReused", "Quota", "StoreError", "StoredValue"]

MAX_KEY_LENGTH = 256
APPLIED_OPS_KEPT = 50_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_kind ON journal (kind, key, id);
CREATE INDEX IF NOT EXISTS journal_by_decision ON journal (decision_id, id);
CREATE TABLE IF NOT EXISTS applied_ops (
    op_id TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS watermarks (
    market_time REAL NOT NULL,
    wall_at TEXT NOT NULL,
    journal_id INTEGER NOT NULL
);
"""


class StoreError(ValueError):
    """A request the store refuses (bad key, a value that is not JSON, not a number…)."""


class OpIdReused(StoreError):
    """An op_id already applied to another operation or key (a conflict, not bad input)."""


@dataclass(frozen=True, slots=True)
class StoredValue:
    value: Any
    updated_at: str


@dataclass(frozen=True, slots=True)
class Quota:
    """At most ``max_keys`` keys under ``prefix``, each value at most ``max_value_bytes`` of
    JSON: what bounds the keys operators may write."""

    prefix: str
    max_keys: int
    max_value_bytes: int


def _now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise StoreError(f"key must be a non-empty string of at most {MAX_KEY_LENGTH} "
                         f"characters, got {key!r}")
    return key


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    entry_id, kind, key, decision_id, at, record = row
    return {"id": entry_id, "kind": kind, "key": key, "decision_id": decision_id, "at": at,
            "record": json.loads(record)}


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise StoreError(f"value is not JSON-serialisable: {error}") from None


class KeyValueStore:
    """One SQLite connection; use it from one thread (the SharedState actor's)."""

    def __init__(self, path: str | Path, quotas: Iterable[Quota] = (), *,
                 durable: bool = True) -> None:
        self.path = Path(path)
        self.quotas = tuple(quotas)
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        use_incremental_vacuum(self._db)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
        self._db.executescript(_SCHEMA)
        (self._op_seq,) = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM applied_ops"
        ).fetchone()

    def close(self) -> None:
        self._db.close()

    # --- the seed's API ----------------------------------------------------------------------

    def set(self, key: str, value: Any) -> str:
        text = _dump(value)
        self._check_quota(_check_key(key), text)
        updated_at = _now()
        self._db.execute(
            "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (_check_key(key), text, updated_at),
        )
        return updated_at

    def get(self, key: str) -> StoredValue | None:
        row = self._db.execute(
            "SELECT value, updated_at FROM kv WHERE key = ?", (_check_key(key),)
        ).fetchone()
        return None if row is None else StoredValue(json.loads(row[0]), row[1])

    def get_all(self, prefix: str = "", after: str = "", limit: int = 0,
                ) -> dict[str, StoredValue]:
        """Keys under ``prefix`` in key order, after ``after``; at most ``limit`` (0: all)."""
        if not isinstance(prefix, str) or not isinstance(after, str):
            raise StoreError("prefix and after must be strings")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise StoreError(f"limit must be a non-negative integer, got {limit!r}")
        rows = self._db.execute(
            "SELECT key, value, updated_at FROM kv WHERE substr(key, 1, ?) = ? AND key > ? "
            "ORDER BY key LIMIT ?",
            (len(prefix), prefix, after, limit or -1),
        )
        return {key: StoredValue(json.loads(value), updated) for key, value, updated in rows}

    def get_live(self, keys: Iterable[str] = (), recent_s: float = 3600.0,
                 ) -> dict[str, StoredValue]:
        """The broker's live records and the named ``keys`` (:mod:`actors.shared_state.live`),
        in key order."""
        names = [_check_key(key) for key in keys]
        if isinstance(recent_s, bool) or not isinstance(recent_s, int | float) or not (
            0 <= recent_s <= 366 * 86_400
        ):
            raise StoreError(f"recent_s must be a number of seconds from 0 to one year, got "
                             f"{recent_s!r}")
        rows = live_broker_rows(self._db, names, float(recent_s), _now())
        return {key: StoredValue(json.loads(value), updated) for key, value, updated in rows}

    def _check_quota(self, key: str, text: str) -> None:
        for quota in self.quotas:
            if not key.startswith(quota.prefix):
                continue
            size = len(text.encode())
            if size > quota.max_value_bytes:
                raise StoreError(f"{key!r}: the value is {size} bytes of JSON; keys under "
                                 f"{quota.prefix!r} hold at most {quota.max_value_bytes}")
            exists = self._db.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone()
            if exists is None:
                (count,) = self._db.execute(
                    "SELECT COUNT(*) FROM kv WHERE substr(key, 1, ?) = ?",
                    (len(quota.prefix), quota.prefix),
                ).fetchone()
                if count >= quota.max_keys:
                    raise StoreError(f"{key!r}: there are already {count} keys under "
                                     f"{quota.prefix!r}, the most allowed; delete one first")

    def delete(self, key: str) -> bool:
        cursor = self._db.execute("DELETE FROM kv WHERE key = ?", (_check_key(key),))
        return cursor.rowcount > 0

    def get_last_update(self, key: str) -> str | None:
        stored = self.get(key)
        return None if stored is None else stored.updated_at

    # --- the journal ------------------------------------------------------------------------

    def journal_append(self, op_id: str, kind: str, key: str, record: dict[str, Any],
                       decision_id: str = "") -> int:
        """Append once per ``op_id``; returns the entry's id (the first one's, on a retry)."""
        if not isinstance(kind, str) or not kind:
            raise StoreError(f"journal kind must be a non-empty string, got {kind!r}")
        if not isinstance(record, dict):
            raise StoreError(f"journal record must be an object, got {type(record).__name__}")
        text = _dump(record)
        self._db.execute(
            "INSERT OR IGNORE INTO journal (op_id, kind, key, decision_id, at, record) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_check_key(op_id), kind, str(key), str(decision_id or ""), _now(), text),
        )
        (entry_id,) = self._db.execute(
            "SELECT id FROM journal WHERE op_id = ?", (op_id,)
        ).fetchone()
        return int(entry_id)

    def journal_query(self, kind: str = "", key: str = "", decision_id: str = "",
                      after_id: int = 0, limit: int = 100, closed_since: float | None = None,
                      closed_until: float | None = None,
                      op_ids: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Entries as ``{id, kind, key, decision_id, at, record}``: a decision's chain oldest
        first, anything else newest first; ``closed_since``/``closed_until`` bound the
        record's ``closed_at`` (a closed trade's), ``op_ids`` picks entries by their op id."""
        limit = max(1, min(int(limit), 10_000))
        clauses, params = ["id > ?"], [int(after_id)]
        for column, value in (("kind", kind), ("key", key), ("decision_id", decision_id)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if closed_since is not None:
            clauses.append("json_extract(record, '$.closed_at') >= ?")
            params.append(float(closed_since))
        if closed_until is not None:
            clauses.append("json_extract(record, '$.closed_at') < ?")
            params.append(float(closed_until))
        if op_ids:
            clauses.append("op_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([str(op_id) for op_id in op_ids]))
        order = "ASC" if decision_id else "DESC"
        rows = self._db.execute(
            f"SELECT id, kind, key, decision_id, at, record FROM journal WHERE "
            f"{' AND '.join(clauses)} ORDER BY id {order} LIMIT ?",
            (*params, limit),
        )
        return [_entry(row) for row in rows]

    def journal_entries(self, kind: str, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every entry of ``kind``, oldest first, however many (read ``batch`` at a time):
        for a backtest's files, where :meth:`journal_query`'s page limit would lose some."""
        after = 0
        while True:
            rows = self._db.execute(
                "SELECT id, kind, key, decision_id, at, record FROM journal "
                "WHERE kind = ? AND id > ? ORDER BY id ASC LIMIT ?", (kind, after, batch),
            ).fetchall()
            yield from (_entry(row) for row in rows)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    # --- retention ----------------------------------------------------------------------------

    def prune(self, market_now: float, retention_s: float) -> dict[str, int]:
        """Record where the store stands at ``market_now`` (market time), then delete what was
        written more than ``retention_s`` of market time ago and is no longer needed
        (:mod:`actors.shared_state.retention`). Returns how many rows of each kind went."""
        with self._transaction():
            (last_id,) = self._db.execute(
                "SELECT COALESCE(MAX(id), 0) FROM journal").fetchone()
            self._db.execute("INSERT INTO watermarks (market_time, wall_at, journal_id) "
                             "VALUES (?, ?, ?)", (float(market_now), _now(), int(last_id)))
            mark = self._db.execute(
                "SELECT market_time, wall_at, journal_id FROM watermarks WHERE market_time <= ? "
                "ORDER BY market_time DESC LIMIT 1", (float(market_now) - retention_s,),
            ).fetchone()
            if mark is None:
                return {}
            self._db.execute("DELETE FROM watermarks WHERE market_time < ?", (mark[0],))
            pruned = prune_before(self._db, journal_id=int(mark[2]), wall_at=str(mark[1]))
        if any(pruned.values()):
            reclaim_free_pages(self._db)
        return pruned

    # --- atomic counters ---------------------------------------------------------------------

    def increment(self, key: str, delta: float, op_id: str) -> StoredValue:
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not math.isfinite(
            delta
        ):
            raise StoreError(f"delta must be a finite number, got {delta!r}")
        with self._transaction():
            previous = self._applied(op_id, "increment", key)
            if previous is not None:
                return StoredValue(previous["value"], previous["updated_at"])
            current = self.get(key)
            base = 0 if current is None else current.value
            if isinstance(base, bool) or not isinstance(base, int | float):
                raise StoreError(f"{key!r} holds {base!r}, which is not a number")
            value = base + delta
            updated_at = self.set(key, value)
            self._remember(op_id, {"op": "increment", "key": key, "value": value,
                                   "updated_at": updated_at})
            return StoredValue(value, updated_at)

    def compare_and_set(self, key: str, expected: Any, new: Any, op_id: str) -> tuple[bool, Any]:
        """Set ``key`` to ``new`` if it holds ``expected`` (None: absent). Returns whether it
        was swapped and the value the key holds afterwards."""
        _dump(new)
        with self._transaction():
            previous = self._applied(op_id, "cas", key)
            if previous is not None:
                return previous["swapped"], previous["value"]
            current = self.get(key)
            matches = (current is None) if expected is None else (
                current is not None and current.value == expected
            )
            if matches:
                self.set(key, new)
            result = new if matches else (None if current is None else current.value)
            self._remember(op_id, {"op": "cas", "key": key, "swapped": matches,
                                   "value": result})
            return matches, result

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _applied(self, op_id: str, op: str, key: str) -> dict[str, Any] | None:
        """What ``op_id`` did when it was applied (None: never); an op_id that was used for
        another operation or key is refused, never answered with that one's result."""
        if not isinstance(op_id, str) or not op_id:
            raise StoreError(f"op_id must be a non-empty string, got {op_id!r}")
        row = self._db.execute(
            "SELECT result FROM applied_ops WHERE op_id = ?", (op_id,)
        ).fetchone()
        if row is None:
            return None
        previous: dict[str, Any] = json.loads(row[0])
        # Records written before they named their operation: told apart by their fields.
        was = previous.get("op") or ("increment" if "updated_at" in previous else "cas")
        if was != op or previous.get("key", key) != key:
            raise OpIdReused(f"op_id {op_id!r} was already used for {was} of "
                             f"{previous.get('key', 'another key')!r}: use a new op_id")
        return previous

    def _remember(self, op_id: str, result: dict[str, Any]) -> None:
        self._op_seq += 1
        self._db.execute(
            "INSERT INTO applied_ops (op_id, result, seq) VALUES (?, ?, ?)",
            (op_id, json.dumps(result), self._op_seq),
        )
        if self._op_seq % 1000 == 0:
            self._db.execute(
                "DELETE FROM applied_ops WHERE seq <= ?", (self._op_seq - APPLIED_OPS_KEPT,)
            )


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if the block raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
