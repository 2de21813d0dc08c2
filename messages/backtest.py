"""Messages of the backtest driver (DESIGN.md §6): it moves market time bar by bar and asks the
strategies to scan, waiting for each to finish before the next bar.

Only a backtest sends these. A live daemon never does, so its actors keep their own clocks and
timers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MarketTime", "MarketTimeSet", "ScanDone", "ScanNow"]


@dataclass(frozen=True, slots=True)
class MarketTime:
    """The market time (UTC epoch seconds) is now ``now``. Every actor takes it as its clock;
    the broker also moves the (driven) simulated terminal there, polls it, and answers
    :class:`MarketTimeSet`."""

    request_id: str
    now: float


@dataclass(frozen=True, slots=True)
class MarketTimeSet:
    """The broker's answer to :class:`MarketTime`: the account after the poll."""

    request_id: str
    now: float
    balance: float
    equity: float
    positions: int
    ok: bool = True
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ScanNow:
    """Run one scan cycle now (a Strategy actor), and answer :class:`ScanDone` once it and the
    orders it submitted are settled. Decision ids of the cycle derive from ``cycle_key`` (the
    bar's time), so that the same backtest gives the same ids. ``symbols``, when given, are
    the only ones that may signal now (the strategy's ``candidate_bars``): the cycle scans
    them and the symbols with an open position or order, and no others."""

    request_id: str
    cycle_key: str
    symbols: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ScanDone:
    request_id: str
    strategy: str
    candidates: int = 0
    orders: int = 0
    ok: bool = True
    detail: str = ""
    gated: int = 0
    """Candidates stopped before the RiskManager because new entries were blocked."""
    gated_code: str = ""
    """Why (``actors.strategy.decisions.Blocked.code``), and in words:"""
    gated_words: str = ""
