"""Backtest speed: symbol-bars per second through the actors, against a numpy pass.

Each case runs :func:`~actors.backtest.driver.run_backtest` in this process on the simulator's
seeded market (M5, from Monday 2024-01-08 06:00 UTC) and reports symbol-bars (bars x symbols)
per second of the whole run (actor start-up, every bar's MarketTime / poll / ScanNow cycle,
the report files), by the wall clock and per CPU second of this process (all its threads: the
simulated terminal runs on the gateway's), which other work on a shared machine inflates less.
The baseline, measured in the same run over the same bars (read from the same seeded market),
is SmaCross's signal in one vectorised numpy pass, per CPU second: the fast and slow means by
cumulative sums and every crossover at once. It is what the signal costs with nothing around
it; the backtest also fetches the market data per bar, consults the RiskManager, sizes, fills,
journals and reviews every trade. Each SmaCross case runs twice: with ``--every-bar`` (every
actor steps at every bar, every symbol is scanned) and skipping (SmaCross's
``candidate_bars`` proposes where it may signal; bars where nothing is proposed or open are
skipped, and only the proposed and held symbols are scanned), which give the same trades.

    python -m bench.backtest [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from actors.backtest.driver import BacktestRequest, parse_day, run_backtest
from actors.broker.sim import constants as c
from actors.broker.sim.config import SimConfig
from actors.broker.sim.market import SimulatedMarket
from actors.broker.sim.server_clock import server_utc_offset_at
from actors.broker.sim.universe import DEFAULT_UNIVERSE
from actors.runtime.logs import configure_logging

SMA = str(Path(__file__).resolve().parents[1] / "examples" / "strategies" / "sma_cross.py")
SMA_SPEC = f"{SMA}:SmaCross"
START = "2024-01-08T06:00"
SEED = 7
FAST, SLOW = 10, 30


def _symbols(count: int) -> tuple[str, ...]:
    return tuple(sorted(DEFAULT_UNIVERSE))[:count]


def _run(strategy: str | None, symbols: tuple[str, ...], hours: float,
         root: Path, every_bar: bool = False) -> dict[str, Any]:
    start = parse_day(START, "--from")
    request = BacktestRequest(strategies=(strategy,) if strategy else (), symbols=symbols,
                              timeframe="M5", start=start, end=start + hours * 3600,
                              out=root / f"{strategy is not None}-{len(symbols)}-{hours}"
                                         f"-{every_bar}",
                              seed=SEED, every_bar=every_bar)
    cpu = time.process_time()
    with open(os.devnull, "w", encoding="utf-8") as quiet:
        result = run_backtest(request, progress_stream=quiet)
    return {**result.summary, "cpu_seconds": time.process_time() - cpu}


def _closes(symbols: tuple[str, ...], hours: float) -> list[np.ndarray]:
    """The M5 closes the backtest's strategies saw: SLOW bars of warm-up, then the period."""
    market = SimulatedMarket(seed=SEED, universe=DEFAULT_UNIVERSE)
    start = parse_day(START, "--from")
    end = start + hours * 3600
    offset = server_utc_offset_at(SimConfig(), end)
    server_ms = int((end + offset) * 1000)
    wanted = int(hours * 12) + SLOW + 2
    return [np.asarray(market.visible_bars(s, c.TIMEFRAME_M5, server_ms, wanted)["close"][-wanted:],
                       dtype=float) for s in symbols]


def sma_cross_signals(close: np.ndarray, fast: int = FAST, slow: int = SLOW) -> np.ndarray:
    """+1 where the fast mean crosses above the slow one, -1 below, 0 elsewhere: SmaCross's
    rule at every bar at once."""
    sums = np.concatenate([[0.0], np.cumsum(close)])
    fast_mean = (sums[fast:] - sums[:-fast]) / fast
    slow_mean = (sums[slow:] - sums[:-slow]) / slow
    fast_mean = fast_mean[slow - fast:]
    diff = fast_mean - slow_mean
    up = (diff[:-1] <= 0) & (diff[1:] > 0)
    down = (diff[:-1] >= 0) & (diff[1:] < 0)
    return up.astype(np.int8) - down.astype(np.int8)


def _numpy_rate(closes: list[np.ndarray], bars: int) -> float:
    """Symbol-bars per CPU second of the numpy pass (the best of five rounds)."""
    repeats, best = 200, float("inf")
    for _ in range(5):
        began = time.process_time()
        for _ in range(repeats):
            for close in closes:
                sma_cross_signals(close)
        best = min(best, (time.process_time() - began) / repeats)
    return bars * len(closes) / max(best, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases only")
    args = parser.parse_args()
    configure_logging("console", "error")
    hours = 3.0 if args.quick else 6.0
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as folder:
        root = Path(folder)
        full, skip = "SmaCross, every bar", "SmaCross, skipping"
        cases = [("Confluence", None, 8, hours, True)]
        for count, length in ((1, hours), (8, hours), (40, hours), (8, 2 * hours),
                              (8, 4 * hours), (40, 4 * hours)):
            cases += [(full, SMA_SPEC, count, length, True),
                      (skip, SMA_SPEC, count, length, False)]
        cases.append((skip, SMA_SPEC, 40, 16 * hours, False))  # four days: skipping only
        cases.append((skip, SMA_SPEC, 40, 64 * hours, False))  # sixteen days
        if args.quick:
            cases = cases[:5]
        for name, spec, count, length, every_bar in cases:
            symbols = _symbols(count)
            summary = _run(spec, symbols, length, root, every_bar)
            bars = summary["bars"]
            baseline = _numpy_rate(_closes(symbols, length), bars)
            cpu = summary["cpu_seconds"]
            rows.append((name, count, bars, summary["symbol_bars"], summary["seconds"],
                         summary["bars_per_second"], cpu, summary["symbol_bars"] / cpu,
                         baseline, summary["trades"]))
    print("| strategy | symbols | bars | symbol-bars | wall s | symbol-bars/s (wall) | CPU s | "
          "symbol-bars per CPU s | numpy SmaCross per CPU s | numpy ÷ backtest | trades |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, count, bars, symbol_bars, wall, rate, cpu, per_cpu, baseline, trades in rows:
        print(f"| {name} | {count} | {bars} | {symbol_bars} | {wall:.2f} | {rate:,.0f} | "
              f"{cpu:.2f} | {per_cpu:,.0f} | {baseline:,.0f} | {baseline / per_cpu:,.0f} | "
              f"{trades} |")


if __name__ == "__main__":
    main()
