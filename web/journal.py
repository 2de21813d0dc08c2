"""Views of the trade journal for the API: closed trades with their review (as JSON or CSV),
the day's totals, and the calibration of research confidence. Pure functions over journal
entries."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from actors.critic.calibration import calibration_report

__all__ = ["TRADE_CSV_COLUMNS", "calibration", "daily_stats", "trades_csv",
           "trades_with_reviews"]

# The CSV's columns: the trade's own fields, then its review's (empty until it is written).
TRADE_CSV_COLUMNS = (
    "ticket", "decision_id", "strategy", "symbol", "direction", "volume", "entry_price",
    "exit_price", "sl", "tp", "profit", "commission", "swap", "opened_at", "closed_at",
    "exit_reason", "review_score", "review_outcome", "review_r_multiple", "review_lesson",
)
_TIME_COLUMNS = frozenset({"opened_at", "closed_at"})
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def trades_with_reviews(trades: Sequence[dict[str, Any]],
                        reviews: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Closed trades, newest first, each with its Critic review (None until it is written)."""
    by_ticket = {entry["record"].get("ticket"): entry["record"] for entry in reviews}
    merged = []
    for entry in trades:
        trade = dict(entry["record"])
        trade.setdefault("decision_id", entry.get("decision_id") or None)
        review = by_ticket.get(trade.get("ticket"))
        if not trade.get("strategy") and review is not None:
            trade["strategy"] = review.get("strategy") or ""  # the Critic read it from the chain
        trade["review"] = None if review is None else {
            key: review.get(key) for key in ("score", "outcome", "r_multiple", "analysis")
        } | {"lesson": (review.get("lesson") or {}).get("advice")}
        merged.append(trade)
    return merged


def _iso(epoch: Any) -> str:
    try:
        moment = datetime.fromtimestamp(float(epoch), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return moment.isoformat().replace("+00:00", "Z")


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in _TIME_COLUMNS:
        return _iso(value)
    if isinstance(value, bool | int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def trades_csv(trades: Sequence[dict[str, Any]]) -> str:
    """Closed trades (as :func:`trades_with_reviews` returns them) as CSV: a header, then one
    row per trade, times in ISO 8601 UTC. Text that a spreadsheet would run as a formula gets a
    leading apostrophe; numbers are written as they are."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TRADE_CSV_COLUMNS)
    for trade in trades:
        review = trade.get("review") or {}
        row = {**trade, **{f"review_{key}": value for key, value in review.items()}}
        row["review_lesson"] = review.get("lesson")
        writer.writerow([_cell(column, row.get(column)) for column in TRADE_CSV_COLUMNS])
    return out.getvalue()


def _day_of(epoch: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(epoch), tz=UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def daily_stats(trades: Sequence[dict[str, Any]], day: str | None = None) -> dict[str, Any]:
    """Totals of the trades closed on broker day ``day`` (the trade server's calendar date, the
    day the loss limit counts; default: the day of the newest trade). A trade journaled before
    its broker day was recorded counts on its UTC date."""
    days = [trade.get("broker_day") or _day_of(trade.get("closed_at")) for trade in trades]
    day = day or next((d for d in days if d), datetime.now(tz=UTC).date().isoformat())
    profits = [float(trade.get("profit") or 0.0) for trade, d in zip(trades, days, strict=True)
               if d == day]
    wins = sum(1 for profit in profits if profit > 0)
    losses = sum(1 for profit in profits if profit < 0)
    return {
        "day": day,
        "total": len(profits),
        "wins": wins,
        "losses": losses,
        "total_profit": round(sum(profits), 2),
        "win_rate": round(wins / len(profits), 4) if profits else None,
    }


def calibration(reviews: Sequence[dict[str, Any]], bins: int = 10) -> dict[str, Any]:
    """Brier score and reliability bins of research confidence against winning trades."""
    pairs = [
        (float(record["confidence"]), record.get("outcome") == "WIN")
        for record in (entry["record"] for entry in reviews)
        if isinstance(record.get("confidence"), int | float)
    ]
    report = calibration_report([c for c, _ in pairs], [won for _, won in pairs], bins)
    return {
        "count": report.count,
        "brier": report.brier,
        "ece": report.expected_calibration_error,
        "bins": [
            {"lower": b.lower, "upper": b.upper, "count": b.count,
             "mean_confidence": b.mean_confidence, "hit_rate": b.win_rate}
            for b in report.bins
        ],
    }
