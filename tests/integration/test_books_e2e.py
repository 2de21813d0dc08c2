"""With the defaults, on the fast simulated market: every position the terminal closed with our
magic number is in the journal, once; no trade planned to lose more than a quarter of the day's
limit; and no broker day lost more than its limit plus what was recorded as lost beyond stops."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from tests.support.daemon import FAST_MARKET

pytestmark = pytest.mark.integration

MAGIC = 234000  # broker.magic's default
BALANCE = 10_000.0  # sim.balance's default
DAY_LIMIT = 0.02 * BALANCE  # risk.rules.max_daily_loss_pct's default
MAX_RISK = 0.005  # risk.rules.max_risk_pct's default: of the balance (or equity, if lower)


def _closed_in_terminal(data_dir) -> set[int]:
    """Positions of ours that the terminal's own books (sim.db) show closed."""
    with sqlite3.connect(f"file:{data_dir / 'sim.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT position_id FROM deals WHERE magic = ? AND entry != 0",
                          (MAGIC,)).fetchall()
        still_open = {row[0] for row in db.execute("SELECT ticket FROM positions")}
    return {int(row[0]) for row in rows} - still_open


def _peak_balance(data_dir) -> float:
    """The highest the balance was in the run (every deal, the opening deposit first): a trade
    is sized on the balance of its moment (or the equity, if lower), which grows with the
    trades won before it."""
    with sqlite3.connect(f"file:{data_dir / 'sim.db'}?mode=ro", uri=True) as db:
        changes = [row[0] for row in db.execute(
            "SELECT profit + commission + swap + fee FROM deals ORDER BY time_msc, ticket")]
    balance = peak = 0.0
    for change in changes:
        balance += change
        peak = max(peak, balance)
    return peak


def _enough_trades(daemon) -> bool:
    """Four closed trades; or fewer, when the RiskManager has stopped the broker day (a trade
    that lost beyond its stop, or the day's limit reached): no new entry comes before the next
    broker day, hours of market time away, and the stop is itself a limit holding."""
    closed = len(daemon.get("/api/journal/trades?limit=10000"))
    return closed >= 4 or (closed >= 1 and "DAY_STOPPED" in daemon.get("/api/risk")["blocked_by"])


def test_the_books_match_the_terminal_and_the_limits_hold(make_daemon) -> None:
    daemon = make_daemon(*FAST_MARKET, "strategy.scan_interval_s=2")
    daemon.wait_until(lambda: _enough_trades(daemon), timeout=300,
                      what="four closed trades, or one and the broker day stopped")
    daemon.stop()
    daemon.start()  # the journal as a restarted daemon serves it
    trades = daemon.get("/api/journal/trades?limit=10000")
    offset = daemon.get("/api/broker")["server_utc_offset_s"]  # the broker day's clock
    daemon.stop()

    journaled = [t["ticket"] for t in trades]
    assert len(journaled) == len(set(journaled)), "a trade is in the journal twice"
    assert set(journaled) == _closed_in_terminal(daemon.data_dir)
    most_at_risk = MAX_RISK * _peak_balance(daemon.data_dir)
    for trade in trades:
        assert trade["strategy"] == "Confluence"  # whose decision it was, from the broker
        assert 0 < trade["planned_risk"] <= most_at_risk + 0.01, (trade, most_at_risk)
        assert trade["loss_beyond_stop"] >= 0
    by_day: dict[str, list[dict]] = defaultdict(list)
    for trade in trades:
        broker_day = datetime.fromtimestamp(trade["closed_at"] + offset, UTC).date()
        by_day[broker_day.isoformat()].append(trade)
    for day, closed in by_day.items():
        realised = sum(t["realised"] for t in closed)
        beyond = sum(t["loss_beyond_stop"] for t in closed)
        assert realised >= -(DAY_LIMIT + beyond) - 0.01, (day, realised, beyond)
