"""A backtest's figures from its closed trades and its equity curve (pure functions).

The inputs are what the actors left: one :class:`TradeRow` per closed trade (the broker's
``TradeClosed`` joined with its decision's strategy and research confidence) and one
:class:`EquityPoint` per simulated bar (the account as the broker read it). Everything here is
a pure function of them, so the same run gives the same figures to the last digit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

__all__ = [
    "TRADE_COLUMNS",
    "EquityPoint",
    "TradeRow",
    "calibration",
    "drawdown_curve",
    "group_stats",
    "monthly_returns",
    "refusals",
    "summarise",
    "trade_stats",
]

TRADE_COLUMNS = ("strategy", "symbol", "side", "volume", "entry_time", "entry_price",
                 "exit_time", "exit_price", "sl", "tp", "profit", "commission", "swap",
                 "decision_id")
CONFIDENCE_BANDS = ((0.0, 60.0), (60.0, 70.0), (70.0, 80.0), (80.0, 101.0))


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One closed trade. Times are UTC epoch seconds; ``profit`` excludes commission and
    swap, as the terminal books them."""

    strategy: str
    symbol: str
    side: str
    volume: float
    entry_time: float
    entry_price: float
    exit_time: float
    exit_price: float
    sl: float
    tp: float
    profit: float
    commission: float
    swap: float
    decision_id: str
    ticket: int = 0
    confidence: float | None = None
    exit_reason: str = ""

    @property
    def net(self) -> float:
        return self.profit + self.commission + self.swap


@dataclass(frozen=True, slots=True)
class EquityPoint:
    time: float
    balance: float
    equity: float


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def trade_stats(trades: Sequence[TradeRow]) -> dict[str, Any]:
    """Count, net profit, win rate, profit factor and averages of ``trades``."""
    nets = [t.net for t in trades]
    wins = [n for n in nets if n > 0]
    losses = [n for n in nets if n < 0]
    gross_loss = -sum(losses)
    return {
        "trades": len(nets),
        "net_profit": _money(sum(nets)),
        "gross_profit": _money(sum(wins)),
        "gross_loss": _money(gross_loss),
        "commission": _money(sum(t.commission for t in trades)),
        "swap": _money(sum(t.swap for t in trades)),
        "win_rate": round(len(wins) / len(nets), 4) if nets else None,
        "profit_factor": round(sum(wins) / gross_loss, 4) if gross_loss > 0 else None,
        "average_trade": _money(sum(nets) / len(nets)) if nets else None,
    }


def group_stats(trades: Sequence[TradeRow], key: str) -> dict[str, dict[str, Any]]:
    """:func:`trade_stats` per value of ``key`` (``"symbol"`` or ``"strategy"``), sorted."""
    groups: dict[str, list[TradeRow]] = defaultdict(list)
    for trade in trades:
        groups[str(getattr(trade, key))].append(trade)
    return {name: trade_stats(groups[name]) for name in sorted(groups)}


def drawdown_curve(equity: Sequence[EquityPoint]) -> list[float]:
    """How far below its running peak the equity is at each point (money, >= 0)."""
    peak = -math.inf
    curve = []
    for point in equity:
        peak = max(peak, point.equity)
        curve.append(peak - point.equity)
    return curve


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d")


def _month(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m")


def _last_by(equity: Iterable[EquityPoint], period: Any) -> dict[str, float]:
    last: dict[str, float] = {}
    for point in equity:
        last[period(point.time)] = point.equity
    return last


def sharpe(equity: Sequence[EquityPoint], periods_per_year: float = 252.0) -> float | None:
    """Annualised Sharpe ratio of daily equity returns (risk-free rate 0); None with fewer
    than two daily returns or none that vary."""
    closes = list(_last_by(equity, _day).values())
    returns = [b / a - 1.0 for a, b in pairwise(closes) if a > 0]
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if variance <= 0:
        return None
    return round(mean / math.sqrt(variance) * math.sqrt(periods_per_year), 4)


def monthly_returns(equity: Sequence[EquityPoint]) -> dict[str, float]:
    """Each month's return in percent, from the previous month's last equity (the first
    point's for the first month)."""
    if not equity:
        return {}
    before = equity[0].equity
    result = {}
    for month, last in _last_by(equity, _month).items():
        result[month] = round((last / before - 1.0) * 100.0, 4) if before > 0 else 0.0
        before = last
    return result


def calibration(trades: Sequence[TradeRow]) -> list[dict[str, Any]]:
    """Research confidence against outcome: for each confidence band, the trades in it and how
    many won (a calibrated researcher's 70-80 band wins about 70-80 % of the time)."""
    rows = []
    for low, high in CONFIDENCE_BANDS:
        inside = [t for t in trades if t.confidence is not None and low <= t.confidence < high]
        wins = sum(1 for t in inside if t.net > 0)
        rows.append({"band": f"{low:g}-{min(high, 100.0):g}", "trades": len(inside),
                     "wins": wins,
                     "win_rate": round(wins / len(inside), 4) if inside else None})
    return rows


def refusals(decisions: Iterable[dict[str, Any]],
             gated: Iterable[tuple[str, str, int]] = ()) -> list[dict[str, Any]]:
    """Why candidates did not become trades, from the decision journal's records: each
    refusing step (a pre-scan or approval rule, an abandoned candidate, an order the broker
    did not fill) with its code, how often, and the first time's words; most frequent first.
    ``gated`` adds the candidates stopped before the RiskManager while new entries were
    blocked (step ``gate``), as ``(code, words, count)`` per cycle, in order."""
    tally: dict[tuple[str, str], list[Any]] = {}
    for code, words, count in gated:
        if count:
            tally.setdefault(("gate", code), [0, words])[0] += count
    for record in decisions:
        step = str(record.get("step", ""))
        if step in ("pre_scan", "approval"):
            if record.get("allowed", record.get("approved", True)):
                continue
            code, words = str(record.get("code") or "refused"), str(record.get("message", ""))
        elif step == "abandoned":
            code, words = "ABANDONED", str(record.get("reason", ""))
        elif step == "order_done" and record.get("status") != "done":
            code, words = f"ORDER_{str(record.get('status', '')).upper()}", str(
                record.get("reason", ""))
        else:
            continue
        found = tally.setdefault((step, code), [0, f"{record.get('symbol', '')}: {words}"])
        found[0] += 1
    ranked = sorted(tally.items(), key=lambda item: (-item[1][0], item[0]))
    return [{"step": step, "code": code, "count": count, "first": first}
            for (step, code), (count, first) in ranked]


def summarise(trades: Sequence[TradeRow], equity: Sequence[EquityPoint], *, bars: int,
              symbols: int, seconds: float, balance: float,
              refused: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The figures of ``summary.json``. Only ``seconds`` and ``bars_per_second`` depend on
    the machine; ``bars_per_second`` counts symbol-bars (bars × symbols ÷ seconds)."""
    drawdowns = drawdown_curve(equity)
    deepest = max(drawdowns, default=0.0)
    at = drawdowns.index(deepest) if drawdowns else 0
    peak = equity[at].equity + deepest if equity else balance
    final = equity[-1].equity if equity else balance
    summary = {
        **trade_stats(trades),
        "initial_balance": _money(balance),
        "final_equity": _money(final),
        "return_pct": round((final / balance - 1.0) * 100.0, 4) if balance > 0 else None,
        "max_drawdown": _money(deepest),
        "max_drawdown_pct": round(deepest / peak * 100.0, 4) if peak > 0 else None,
        "sharpe": sharpe(equity),
        "bars": bars,
        "symbols": symbols,
        "symbol_bars": bars * symbols,
        "seconds": round(seconds, 3),
        "bars_per_second": round(bars * symbols / seconds, 1) if seconds > 0 else None,
        "per_symbol": group_stats(trades, "symbol"),
        "per_strategy": group_stats(trades, "strategy"),
        "monthly_returns_pct": monthly_returns(equity),
        "calibration": calibration(trades),
        "refusals": list(refused),
    }
    return summary
