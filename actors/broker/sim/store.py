"""SQLite persistence of the simulated account, in ``<data-dir>/sim.db``.

One table per kind of record (``positions``, ``orders`` for pending orders, ``history_orders``,
``deals``) with one column per field, plus a one-row ``account`` table. The terminal changes
its books inside :meth:`SimStore.transaction`, so each trade — the order, its deal, the
position and the new balance — is committed atomically or not at all. The database runs in WAL
mode with ``synchronous=FULL``: a committed trade survives a crash of the process or the machine.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.broker.sim.ledger import AccountState, Order, Position
from messages.books import DealRecord

__all__ = ["DB_FILENAME", "SimStore", "StoredBooks"]

DB_FILENAME = "sim.db"
_SCHEMA_VERSION = 2
_SQL_TYPES = {"int": "INTEGER", "float": "REAL", "str": "TEXT"}
_TABLES: dict[str, type] = {
    "account": AccountState,
    "positions": Position,
    "orders": Order,
    "history_orders": Order,
    "deals": DealRecord,
}


@dataclass(slots=True)
class StoredBooks:
    """Everything read back from a store at start-up."""

    account: AccountState | None
    positions: list[Position]
    orders: list[Order]
    history_orders: list[Order]
    deals: list[DealRecord]


def _columns(record_type: type) -> list[tuple[str, str]]:
    return [(f.name, _SQL_TYPES[str(f.type)]) for f in dataclasses.fields(record_type)]


def _names(record_type: type) -> list[str]:
    return [f.name for f in dataclasses.fields(record_type)]


def _column_list(record_type: type) -> str:
    """Columns by name (quoted: ``order`` is a keyword), so a column that a migration added at
    the end still reads into its field."""
    return ", ".join(f'"{name}"' for name in _names(record_type))


class SimStore:
    """The account's SQLite file. Not shared between processes: one terminal per data dir."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / DB_FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The terminal serialises access with its own lock; RPyC serves it from several threads.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._lock = threading.RLock()
        self._depth = 0
        self._create_schema()

    def _create_schema(self) -> None:
        with self.transaction():
            self._add_deal_seconds()
            for table, record_type in _TABLES.items():
                columns = _columns(record_type)
                key = columns[0][0] if table != "account" else "login"
                body = ", ".join(
                    f'"{name}" {sql}{" PRIMARY KEY" if name == key else ""}'
                    for name, sql in columns
                )
                self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(_SCHEMA_VERSION),)
            )

    def _add_deal_seconds(self) -> None:
        """Schema 1 filed deals without ``time`` (seconds): add it, from ``time_msc``."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(deals)")}
        if columns and "time" not in columns:
            self._db.execute("ALTER TABLE deals ADD COLUMN time INTEGER")
            self._db.execute("UPDATE deals SET time = time_msc / 1000")
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                             (str(_SCHEMA_VERSION),))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one atomic commit; nested uses join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def _upsert(self, table: str, record: Any) -> None:
        names = _names(type(record))
        values = [getattr(record, name) for name in names]
        marks = ", ".join("?" * len(values))
        self._db.execute(
            f"INSERT OR REPLACE INTO {table} ({_column_list(type(record))}) VALUES ({marks})",
            values)

    def save_account(self, account: AccountState) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM account")
            self._upsert("account", account)

    def save_position(self, position: Position) -> None:
        self._upsert("positions", position)

    def delete_position(self, ticket: int) -> None:
        self._db.execute("DELETE FROM positions WHERE ticket = ?", (ticket,))

    def save_order(self, order: Order) -> None:
        self._upsert("orders", order)

    def delete_order(self, ticket: int) -> None:
        self._db.execute("DELETE FROM orders WHERE ticket = ?", (ticket,))

    def add_history_order(self, order: Order) -> None:
        self._upsert("history_orders", order)

    def add_deal(self, deal: DealRecord) -> None:
        self._upsert("deals", deal)

    def load(self) -> StoredBooks:
        with self._lock:

            def rows(table: str, record_type: type, order_by: str) -> list[Any]:
                cursor = self._db.execute(
                    f"SELECT {_column_list(record_type)} FROM {table} ORDER BY {order_by}")
                return [record_type(*row) for row in cursor.fetchall()]

            accounts = rows("account", AccountState, "login")
            return StoredBooks(
                account=accounts[0] if accounts else None,
                positions=rows("positions", Position, "ticket"),
                orders=rows("orders", Order, "ticket"),
                history_orders=rows("history_orders", Order, "ticket"),
                deals=rows("deals", DealRecord, "ticket"),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
