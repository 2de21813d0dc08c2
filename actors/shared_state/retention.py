"""What the state store may forget, and what it must keep however old it is.

``state.db`` would otherwise grow for ever (about 141 KB a minute at ``sim.speed=120``): the
decision journal, the broker's order intents (``broker.intent.*``) and report claims
(``broker.reported.*``), and the Critic's review claims (``critic.reviewed.*``). Age is market
time: the store records *watermarks*, (market time, wall time, last journal id), at each prune
pass, so whatever was written before the newest watermark older than the retention is old,
whichever clock the rows were stamped with.

Old rows are deleted unless they are still needed:

* an intent that is not final (``writing``, ``sending``, ``unknown``: the broker must still
  resolve it from the terminal), or that belongs to a position the broker still tracks;
* anything about a *live ticket*: a position the broker still tracks (``broker.position.*``),
  or a trade journalled but not yet reviewed (no ``review`` entry for its ticket);
* every journal entry of a *live decision*: one whose position is still open, whose trade is
  not yet reviewed, whose intent is not final, or that has any entry newer than the cut-off
  (its chain is still being written, or read by the Critic).
"""

from __future__ import annotations

import sqlite3

from actors.shared_state.keys import (
    INTENT_PREFIX,
    POSITION_PREFIX,
    REPORTED_PREFIX,
    REVIEWED_PREFIX,
)

__all__ = ["FINAL_INTENT_STATUSES", "prune_before"]

FINAL_INTENT_STATUSES = ("done", "rejected", "refused")

_LIVE = (
    "CREATE TEMP TABLE IF NOT EXISTS live_tickets (ticket INTEGER PRIMARY KEY)",
    "CREATE TEMP TABLE IF NOT EXISTS live_decisions (decision_id TEXT PRIMARY KEY)",
    "DELETE FROM live_tickets",
    "DELETE FROM live_decisions",
)


def _prefixed(column: str, prefix: str) -> str:
    return f"substr({column}, 1, {len(prefix)}) = '{prefix}'"


def _suffix_ticket(prefix: str) -> str:
    return f"CAST(substr(key, {len(prefix) + 1}) AS INTEGER)"


def prune_before(db: sqlite3.Connection, journal_id: int, wall_at: str) -> dict[str, int]:
    """Delete what was written up to journal entry ``journal_id`` and kv time ``wall_at`` and
    is not live. Runs inside the caller's transaction."""
    finals = ", ".join(f"'{status}'" for status in FINAL_INTENT_STATUSES)
    for statement in _LIVE:
        db.execute(statement)
    unreviewed = (
        "SELECT json_extract(record, '$.ticket') AS v FROM journal WHERE kind = 'trade' AND "
        "json_extract(record, '$.ticket') NOT IN (SELECT json_extract(record, '$.ticket') "
        "FROM journal WHERE kind = 'review' AND json_extract(record, '$.ticket') IS NOT NULL)"
    )
    for query in (
        f"SELECT {_suffix_ticket(POSITION_PREFIX)} AS v FROM kv "
        f"WHERE {_prefixed('key', POSITION_PREFIX)}",
        unreviewed,
    ):
        db.execute(f"INSERT OR IGNORE INTO live_tickets (ticket) SELECT v FROM ({query}) "
                   "WHERE v IS NOT NULL")
    for query, params in (
        (f"SELECT json_extract(value, '$.decision_id') AS v FROM kv "
         f"WHERE {_prefixed('key', POSITION_PREFIX)}", ()),
        (f"SELECT json_extract(value, '$.decision_id') AS v FROM kv "
         f"WHERE {_prefixed('key', INTENT_PREFIX)} "
         f"AND json_extract(value, '$.status') NOT IN ({finals})", ()),
        ("SELECT decision_id AS v FROM journal WHERE kind = 'trade' AND "
         "json_extract(record, '$.ticket') IN (SELECT ticket FROM live_tickets)", ()),
        ("SELECT decision_id AS v FROM journal WHERE id > ?", (journal_id,)),
    ):
        db.execute(f"INSERT OR IGNORE INTO live_decisions (decision_id) SELECT v FROM ({query}) "
                   "WHERE v IS NOT NULL AND v != ''", params)
    counts = {
        "journal": db.execute(
            "DELETE FROM journal WHERE id <= ? "
            "AND decision_id NOT IN (SELECT decision_id FROM live_decisions) "
            "AND NOT (kind = 'trade' AND "
            "json_extract(record, '$.ticket') IN (SELECT ticket FROM live_tickets))",
            (journal_id,)).rowcount,
        "intents": db.execute(
            f"DELETE FROM kv WHERE {_prefixed('key', INTENT_PREFIX)} AND updated_at <= ? "
            f"AND json_extract(value, '$.status') IN ({finals}) "
            "AND COALESCE(json_extract(value, '$.ticket'), -1) "
            "NOT IN (SELECT ticket FROM live_tickets) "
            "AND COALESCE(json_extract(value, '$.decision_id'), '') "
            "NOT IN (SELECT decision_id FROM live_decisions)", (wall_at,)).rowcount,
    }
    for name, prefix in (("reported", REPORTED_PREFIX), ("reviewed", REVIEWED_PREFIX)):
        counts[name] = db.execute(
            f"DELETE FROM kv WHERE {_prefixed('key', prefix)} AND updated_at <= ? "
            f"AND {_suffix_ticket(prefix)} NOT IN (SELECT ticket FROM live_tickets)",
            (wall_at,)).rowcount
    return counts
