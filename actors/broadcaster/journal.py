"""The event journal: every numbered event, append-only, in ``<data-dir>/events.db``.

The Broadcaster is its only writer; the WebFront opens it read-only to replay what a client
missed (``/ws?since=SEQ``, ``/api/events``) without an actor hop. Each row keeps the event's
JSON text exactly as it was sent live, so a replayed event is byte-for-byte the live one.
The writer rings a doorbell after each transaction (:func:`ring`): one datagram to a socket the
WebFront listens on (:func:`doorbell_address`), which then reads the new rows itself, so the
journal is the data plane between the two and no event crosses an actor hop twice. Live quotes,
which are not journalled, ride in a ring's body (:meth:`Doorbell.ring_with_quotes`).
The seq continues across restarts: it is the largest seq in the file plus one. It keeps the
last ``keep`` events; the file is in incremental auto-vacuum mode, and the pages of pruned
events are given back after each prune (``actors/runtime/sqlite_space.py``). That upkeep and
the write-ahead log's checkpoints (with their fsync) run in :meth:`Journal.maintain`, which the
Broadcaster calls after it has rung, never inside an append that events wait for.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from actors.runtime.frame_auth import seal
from actors.runtime.private import private_socket_path
from actors.runtime.sqlite_space import reclaim_free_pages, use_incremental_vacuum

__all__ = ["CHECKPOINT_TRANSACTIONS", "EVENTS_FILE", "MAX_QUOTES_BODY", "RING", "Doorbell",
           "Journal", "JournalReader", "doorbell_address"]

EVENTS_FILE = "events.db"
RING = b"\0"  # a plain ring: new rows; any other body is live quotes (a JSON array)
MAX_QUOTES_BODY = 60_000
# The write-ahead log is checkpointed by Journal.maintain every this many transactions (about
# 4 pages each for a Publish of 10 events, so near SQLite's default threshold of
# CHECKPOINT_PAGES), and by SQLite itself only past four times CHECKPOINT_PAGES.
CHECKPOINT_TRANSACTIONS = 200
CHECKPOINT_PAGES = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, seq);
"""

# Journals written before an event or a field was renamed are brought up to date once, when the
# writer opens them (``PRAGMA user_version`` says how far), so that a replay, a filter by type
# and every reader see one vocabulary.
_MIGRATIONS = (
    # 1: RISK_STATE_CHANGED became RISK_STATE, and BROKER_STATUS's ``broker`` its ``kind``.
    """
    UPDATE events SET type = 'RISK_STATE', body = json_set(body, '$.type', 'RISK_STATE')
     WHERE type = 'RISK_STATE_CHANGED';
    UPDATE events SET body = json_remove(json_set(body, '$.kind', json_extract(body, '$.broker')),
                                         '$.broker')
     WHERE type = 'BROKER_STATUS' AND json_type(body, '$.broker') IS NOT NULL;
    """,
)


def doorbell_address(journal_path: str | Path) -> str | None:
    """The journal's doorbell: a Unix datagram socket in the user's private runtime directory
    (0700, checked), named after the journal's resolved path, so no other local user can ring
    it, listen in its place or see when events flow (an abstract-namespace name could be
    squatted or rung by anyone). None where there is no such directory or no Unix sockets:
    the batches then go by actor message as before."""
    return private_socket_path("journal", journal_path, ".bell")


class Doorbell:
    """The writer's side of the doorbell: :meth:`ring` says whether a reader is listening."""

    def __init__(self, journal_path: str | Path) -> None:
        self.address = doorbell_address(journal_path)
        self._socket: socket.socket | None = None
        family = getattr(socket, "AF_UNIX", None)
        if family is not None and self.address is not None:
            self._socket = socket.socket(family, socket.SOCK_DGRAM)
            self._socket.setblocking(False)

    def ring(self) -> bool:
        """True when a reader was told (or has a ring pending already); False when no reader
        listens (no WebFront yet, or no private Unix socket on this platform)."""
        if self._socket is None or self.address is None:
            return False
        try:
            self._socket.sendto(RING, self.address)
        except BlockingIOError:
            return True  # its buffer is full of rings it has not read: it will read anyway
        except OSError:
            return False
        return True

    def ring_with_quotes(self, texts: Sequence[str]) -> bool:
        """Ring with live quotes (their JSON texts) as the ring's body, so that they reach the
        WebFront with no actor hop. True when they were sent; False when they must go another
        way (no reader, its queue full, or too many for one datagram)."""
        if self._socket is None or self.address is None:
            return False
        # Sealed with the daemon's secret: only the daemon's own processes may put quotes on
        # the dashboard (the plain ring only wakes the reader to read the journal).
        body = seal(("[" + ",".join(texts) + "]").encode("utf-8"))
        if body is None or len(body) > MAX_QUOTES_BODY:
            return False
        try:
            self._socket.sendto(body, self.address)
        except OSError:  # BlockingIOError too: a ring may be lost, quotes must not
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _migrate(db: sqlite3.Connection) -> None:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
        db.executescript(f"BEGIN IMMEDIATE; {script} PRAGMA user_version = {number}; COMMIT;")


class JournalReader:
    """Read access, safe from another process while the writer appends."""

    def __init__(self, path: str | Path, *, read_only: bool = True) -> None:
        self.path = Path(path)
        if read_only:
            self._db = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, timeout=10.0, check_same_thread=False
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The Broadcaster writes from its lane reader's thread too (one at a time).
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0,
                                       check_same_thread=False)
            use_incremental_vacuum(self._db)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            _migrate(self._db)

    def close(self) -> None:
        self._db.close()

    def last_seq(self) -> int:
        (seq,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(seq)

    def texts_after(
        self, since: int, limit: int, types: Sequence[str] | None = None, until: int | None = None
    ) -> list[tuple[int, str, str]]:
        """``(seq, type, json_text)`` of events with ``since < seq <= until``, in seq order."""
        query = "SELECT seq, type, body FROM events WHERE seq > ?"
        params: list[Any] = [since]
        if until is not None:
            query += " AND seq <= ?"
            params.append(until)
        if types:
            query += f" AND type IN ({','.join('?' * len(types))})"
            params.extend(types)
        query += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return [(int(seq), kind, body) for seq, kind, body in self._db.execute(query, params)]

    def count_of_type(self, kind: str, after_seq: int = 0) -> int:
        """How many events of type ``kind`` have a seq above ``after_seq``."""
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM events WHERE type = ? AND seq > ?", (kind, after_seq)
        ).fetchone()
        return int(count)

    def latest_of_type(self, kind: str, limit: int) -> list[tuple[int, str, str]]:
        """The last ``limit`` events of type ``kind``, oldest first."""
        rows = self._db.execute(
            "SELECT seq, type, body FROM events WHERE type = ? ORDER BY seq DESC LIMIT ?",
            (kind, limit),
        ).fetchall()
        return [(int(seq), row_kind, body) for seq, row_kind, body in reversed(rows)]

    def wires_for_snapshot(
        self, recent: int, trades: int, latest_of: Iterable[str]
    ) -> list[dict[str, Any]]:
        """What rebuilds the rolling snapshot: the last ``recent`` events, the last ``trades``
        executions, and the latest event of each type in ``latest_of``, in seq order."""
        seqs: set[int] = set()
        rows: dict[int, str] = {}
        for seq, body in self._db.execute(
            "SELECT seq, body FROM events ORDER BY seq DESC LIMIT ?", (recent,)
        ):
            rows[seq] = body
        for seq, body in self._db.execute(
            "SELECT seq, body FROM events WHERE type = 'TRADE_EXECUTION' "
            "ORDER BY seq DESC LIMIT ?",
            (trades,),
        ):
            rows[seq] = body
        for kind in latest_of:
            row = self._db.execute(
                "SELECT seq, body FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1", (kind,)
            ).fetchone()
            if row is not None:
                rows[row[0]] = row[1]
        seqs.update(rows)
        return [json.loads(rows[seq]) for seq in sorted(seqs)]


class Journal(JournalReader):
    """The writer. Each :meth:`append` is one transaction."""

    def __init__(self, path: str | Path, keep: int = 500_000) -> None:
        super().__init__(path, read_only=False)
        self._db.execute("PRAGMA synchronous=NORMAL")
        # SQLite's own checkpoint would run inside the commit that crosses its threshold, and
        # with it the fsync (5-9 ms here, more on a busy machine), before the doorbell rings:
        # every event of that transaction waited for it. :meth:`maintain` checkpoints after
        # the ring instead; SQLite's stays on, at four times that, for a writer that never
        # calls it.
        self._db.execute(f"PRAGMA wal_autocheckpoint={4 * CHECKPOINT_PAGES}")
        self.keep = keep
        self._appended = 0
        self._pruned = 0  # rows deleted since the free pages were last reclaimed
        self._since_checkpoint = 0  # transactions since the last checkpoint

    def append(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """Store ``(seq, type, json_text)`` rows; a seq already stored is left as it was."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR IGNORE INTO events (seq, type, body) VALUES (?, ?, ?)", rows
            )
            self._appended += len(rows)
            pruned = 0
            if self._appended >= 1000:
                self._appended = 0
                pruned = self._db.execute(
                    "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?",
                    (self.keep,),
                ).rowcount
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._pruned += pruned
        self._since_checkpoint += 1

    @property
    def maintenance_due(self) -> bool:
        return bool(self._pruned) or self._since_checkpoint >= CHECKPOINT_TRANSACTIONS

    def maintain(self) -> None:
        """The upkeep that :meth:`append` leaves out of the events' path (call it once they
        are announced): release the pages pruned rows freed, and checkpoint the write-ahead
        log (passive: readers are not waited for) every ``CHECKPOINT_TRANSACTIONS``
        transactions."""
        if self._pruned:
            self._pruned = 0
            reclaim_free_pages(self._db)
        if self._since_checkpoint >= CHECKPOINT_TRANSACTIONS:
            self._since_checkpoint = 0
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
