"""A backtest's strategies get their declared ``history`` before the first bar: a strategy
that buys as soon as it sees its whole history opens its first trade at the first bar's close,
on the seeded market and on replayed MT5 exports with history before ``--from``."""

from __future__ import annotations

import csv
from pathlib import Path

from actors.backtest.driver import parse_day
from tests.integration.test_backtest import _export, backtest

STRATEGY = '''
from actors.strategy.api import Market, NoSignal, Side, Signal, Strategy


class WholeHistory(Strategy):
    timeframes = ("M5",)
    history = 120

    def scan(self, market: Market) -> Signal | NoSignal:
        bars = market.bars.get("M5")
        if bars is None or len(bars) < self.history:
            return NoSignal(f"{0 if bars is None else len(bars)} bars")
        return Signal(Side.BUY, sl_distance=0.0008, tp_distance=0.0016,
                      reason="history complete", score=1.0, confidence=70.0)
'''


def _first_entry(tmp_path: Path, *extra: str) -> float:
    path = tmp_path / "whole_history.py"
    path.write_text(STRATEGY, encoding="utf-8")
    out = tmp_path / "out"
    done = backtest("--strategy", f"{path}:WholeHistory", "--symbols", "EURUSD",
                    "--timeframe", "M5", "--from", "2024-01-08T09:00",
                    "--to", "2024-01-08T12:00", *extra, "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader((out / "trades.csv").open()))
    assert rows, "no trade closed"
    return min(parse_day(row["entry_time"].replace("Z", "+00:00"), "entry_time") for row in rows)


def _first_close() -> float:
    return parse_day("2024-01-08T09:05", "--from")


def test_the_seeded_market_warms_the_strategy_up(tmp_path: Path) -> None:
    entry = _first_entry(tmp_path, "--seed", "7")
    assert _first_close() <= entry < _first_close() + 60


def test_replayed_history_before_from_warms_the_strategy_up(tmp_path: Path) -> None:
    data = tmp_path / "history"
    data.mkdir()
    _export(data / "EURUSD_M5_202401070000.csv", 3 * 288)
    entry = _first_entry(tmp_path, "--data", str(data))
    assert _first_close() <= entry < _first_close() + 60
