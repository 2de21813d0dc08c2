"""Giving the space of deleted rows back to the file system, a little at a time.

SQLite keeps the pages of deleted rows in the file for reuse, so a database that is pruned
stops growing but never shrinks, and a full ``VACUUM`` rewrites the whole file while holding
the write lock. With ``auto_vacuum=INCREMENTAL`` the free pages can instead be released in
small steps (``PRAGMA incremental_vacuum(N)``) after each prune. The mode must be chosen before
the first table exists; an existing file is converted once, by one ``VACUUM``.
"""

from __future__ import annotations

import sqlite3

__all__ = ["INCREMENTAL", "reclaim_free_pages", "use_incremental_vacuum"]

INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


def use_incremental_vacuum(db: sqlite3.Connection) -> None:
    """Put ``db`` in incremental auto-vacuum mode (call outside a transaction)."""
    (mode,) = db.execute("PRAGMA auto_vacuum").fetchone()
    if mode == INCREMENTAL:
        return
    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    (tables,) = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    if tables:
        db.execute("VACUUM")  # converts a file made before; instant for a new one


def reclaim_free_pages(db: sqlite3.Connection, max_pages: int = 2000) -> int:
    """Release up to ``max_pages`` free pages to the file system; returns how many were free.
    Call outside a transaction. (The pragma frees one page per step; ``execute`` takes only
    the first step, ``executescript`` runs it to the end.)"""
    (free,) = db.execute("PRAGMA freelist_count").fetchone()
    if free:
        db.executescript(f"PRAGMA incremental_vacuum({min(int(free), int(max_pages))});")
    return int(free)
