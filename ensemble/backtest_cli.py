"""``backtest`` and ``data download``: the command lines of :mod:`actors.backtest`.

``python run_system.py backtest --strategy SPEC --symbols EURUSD,GBPUSD --timeframe M5
--from 2024-01-01 --to 2024-03-31 --out DIR`` runs the strategies through the actors on a
driven clock and writes DIR/trades.csv, DIR/summary.json and DIR/report.html; the run's journal
is DIR/data (open it with ``run_system.py run --data-dir DIR/data``).
``python run_system.py data download --symbols ... --timeframe ... --from ... --to ... --out DIR``
writes the configured terminal's bars as MT5 CSV files for ``--data DIR``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from actors.app.settings import ConfigError, load_settings
from actors.backtest.download import download_bars
from actors.backtest.driver import BacktestError, BacktestRequest, parse_day, run_backtest
from actors.backtest.sweep import parse_sweep, run_sweep
from actors.runtime.logs import configure_logging
from actors.strategy.loader import StrategyError

__all__ = ["main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbols", required=True, help="comma-separated, e.g. EURUSD,GBPUSD")
    parser.add_argument("--timeframe", default="M5", help="M1, M5, M15, M30, H1, H4 or D1")
    parser.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--config", metavar="FILE.toml")
    parser.add_argument("--set", dest="assignments", action="append", default=[],
                        metavar="SECTION.KEY=VALUE")


def _backtest_parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{prog or 'ensemble'} backtest",
                                     description="Backtest strategies through Ensemble's actors.")
    _common(parser)
    parser.add_argument("--strategy", dest="strategies", action="append", default=[],
                        metavar="SPEC", help="PATH/file.py:Class or package.module:Class "
                        "(repeatable; default: the built-in Confluence)")
    parser.add_argument("--data", metavar="DIR", help="MT5 bar exports (default: the "
                        "simulator's seeded market)")
    parser.add_argument("--seed", type=int, help="the seeded market's seed")
    parser.add_argument("--balance", type=float, default=10_000.0)
    parser.add_argument("--every-bar", action="store_true",
                        help="step the actors at every bar, even where a strategy's "
                             "candidate_bars says nothing can happen (the same trades, slower)")
    parser.add_argument("--sweep", action="append", default=[], metavar="KEY=a,b,c",
                        help="run every combination in parallel (repeatable)")
    parser.add_argument("--workers", type=int, help="sweep worker processes (default: cores)")
    return parser


def _symbols(text: str) -> tuple[str, ...]:
    return tuple(s.strip().upper() for s in text.split(",") if s.strip())


def _log_level(assignments: list[str]) -> str:
    given = [a.partition("=")[2].strip().strip("'\"") for a in assignments
             if a.replace(" ", "").startswith("log.level=")]
    return given[-1] if given else "warning"


def backtest(argv: list[str], prog: str | None = None) -> int:
    args = _backtest_parser(prog).parse_args(argv)
    try:
        request = BacktestRequest(
            strategies=tuple(args.strategies), symbols=_symbols(args.symbols),
            timeframe=args.timeframe.upper(), start=parse_day(args.start, "--from"),
            end=parse_day(args.end, "--to"), out=Path(args.out),
            data=Path(args.data) if args.data else None, seed=args.seed,
            balance=args.balance, config=args.config, assignments=tuple(args.assignments),
            every_bar=args.every_bar)
        configure_logging("console", _log_level(args.assignments))
        if args.sweep:
            rows = run_sweep(request, parse_sweep(args.sweep), args.workers)
            print((request.out / "sweep.md").read_text(encoding="utf-8"), end="")
            print(f"{len(rows)} runs; table in {request.out / 'sweep.csv'}")
            return 0
        result = run_backtest(request)
    except (BacktestError, ConfigError, StrategyError) as error:
        print(f"ensemble backtest: {error}", file=sys.stderr)
        return 2
    summary = result.summary
    state = "interrupted; report of what was simulated" if result.interrupted else "done"
    print(f"backtest {state}: {summary['trades']} trades, net profit {summary['net_profit']}, "
          f"max drawdown {summary['max_drawdown']}, {summary['bars']} bars in "
          f"{summary['seconds']} s ({summary['bars_per_second']} symbol-bars/s)")
    out = result.out.resolve()
    print(f"report: {out / 'report.html'}\ntrades: {out / 'trades.csv'}\n"
          f"summary: {out / 'summary.json'}\n"
          f"journal: run_system.py run --data-dir {out / 'data'} (then open the dashboard; new "
          f"entries are paused there until you resume)")
    for problem in result.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 130 if result.interrupted else 0


def data_download(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{prog or 'ensemble'} data download",
                                     description="Bars from the configured terminal as MT5 "
                                     "CSV files, for backtest --data.")
    _common(parser)
    args = parser.parse_args(argv)
    try:
        start, end = parse_day(args.start, "--from"), parse_day(args.end, "--to")
        overrides = {"sim.start": end + 86_400.0, "sim.speed": 1.0}  # the simulator: after --to
        settings = load_settings(args.config, args.assignments, overrides=overrides)
        configure_logging("console", _log_level(args.assignments))
        scratch = tempfile.TemporaryDirectory(prefix="ensemble-download-")
        if settings.broker.kind == "sim":  # a terminal of its own, not a daemon's sim.db
            settings = load_settings(args.config, args.assignments, overrides={
                **overrides, "runtime.data_dir": scratch.name})
        tty = sys.stderr.isatty()

        def progress(done: int, total: int, symbol: str) -> None:
            if tty or done == total or done % 10 == 0:
                end_char = "\r" if tty and done < total else "\n"
                sys.stderr.write(f"downloading {symbol}: {done}/{total} chunks{end_char}")

        with scratch:
            files = download_bars(settings, _symbols(args.symbols), args.timeframe.upper(),
                                  start, end, Path(args.out), progress)
    except (BacktestError, ConfigError, ValueError, RuntimeError, OSError) as error:
        print(f"ensemble data download: {error}", file=sys.stderr)
        return 2
    for path in files:
        print(path)
    return 0


def main(argv: list[str], prog: str | None = None) -> int:
    """``argv`` starts with ``backtest`` or ``data``."""
    if argv[0] == "backtest":
        return backtest(argv[1:], prog)
    if argv[1:2] != ["download"]:
        print("ensemble data: the only subcommand is `data download`", file=sys.stderr)
        return 2
    return data_download(argv[2:], prog)
