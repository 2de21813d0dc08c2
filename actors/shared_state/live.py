"""What a starting MT5Broker reads back: its live records, not its whole history.

The broker's keys grow with every order (``broker.intent.*``) and every closed trade
(``broker.reported.*``) until retention prunes them (:mod:`actors.shared_state.retention`,
30 market days by default). A starting broker needs only:

* every position it tracks (``broker.position.*``);
* the order intents that are *live*: not final (``writing``, ``sending``, ``unknown``: it must
  resolve them from the terminal's books), or of a tracked position (an opening order's
  strategy and planned risk, a close's purpose, go into the trade's report), or written within
  ``recent_s`` of now or of the earliest unresolved intent (the orders sent around an unknown
  one, which its search by shape must not take for it, and a position that filled just before
  a crash and is adopted with its decision);
* the keys it names (its deal cursor, its server clock offset).

Report claims are never read back (the broker claims each report by compare-and-set), nor are
final intents of closed positions: a client order id the broker does not hold is looked up on
its own before anything is decided about it, so it is still answered from its record and
never sent again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from actors.shared_state.keys import INTENT_PREFIX, POSITION_PREFIX
from actors.shared_state.retention import FINAL_INTENT_STATUSES

__all__ = ["live_broker_rows"]


def _prefixed(prefix: str) -> str:
    return f"substr(key, 1, {len(prefix)}) = '{prefix}'"


def _earlier(iso: str, seconds: float) -> str:
    """The store's ISO time ``iso`` less ``seconds``, in the same format (so that the text
    compares as the time does)."""
    when = datetime.fromisoformat(iso.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def live_broker_rows(db: sqlite3.Connection, keys: Sequence[str], recent_s: float,
                     now_iso: str) -> list[tuple[str, str, str]]:
    """``(key, json value, updated_at)`` of the broker's live records (the module doc), in key
    order. ``now_iso``: the store's clock, in its format."""
    finals = ", ".join(f"'{status}'" for status in FINAL_INTENT_STATUSES)
    not_final = f"json_extract(value, '$.status') NOT IN ({finals})"
    (earliest,) = db.execute(
        f"SELECT MIN(updated_at) FROM kv WHERE {_prefixed(INTENT_PREFIX)} AND {not_final}"
    ).fetchone()
    cut = min(_earlier(now_iso, recent_s), _earlier(earliest, recent_s) if earliest else now_iso)
    tracked = (f"SELECT CAST(substr(key, {len(POSITION_PREFIX) + 1}) AS INTEGER) FROM kv "
               f"WHERE {_prefixed(POSITION_PREFIX)}")
    named = ", ".join("?" * len(keys))
    rows = db.execute(
        f"SELECT key, value, updated_at FROM kv WHERE {_prefixed(POSITION_PREFIX)} "
        f"OR key IN ({named}) "
        f"OR ({_prefixed(INTENT_PREFIX)} AND ({not_final} "
        f"OR json_extract(value, '$.ticket') IN ({tracked}) OR updated_at >= ?)) "
        "ORDER BY key",
        (*keys, cut),
    )
    return [(str(key), str(value), str(updated)) for key, value, updated in rows]
