"""Parameter sweeps: ``--sweep KEY=a,b,c`` (repeatable) runs every combination as its own
backtest in worker processes (one per core by default) and compares their summaries.

Each combination is the base request plus ``--set KEY=value`` for each swept key, written to
``OUT/sweep-<n>/``; ``OUT/sweep.csv`` and ``OUT/sweep.md`` hold one row per combination.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from actors.backtest.driver import BacktestError, BacktestRequest, run_backtest

__all__ = ["COMPARED", "combinations", "parse_sweep", "run_sweep"]

COMPARED = ("trades", "net_profit", "return_pct", "max_drawdown", "win_rate", "profit_factor",
            "sharpe")


def parse_sweep(texts: list[str]) -> list[tuple[str, list[str]]]:
    axes = []
    for text in texts:
        key, sep, values = text.partition("=")
        choices = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not choices:
            raise BacktestError(f"--sweep {text!r}: expected section.key=a,b,c, e.g. "
                                "--sweep strategy.params.SmaCross.fast=3,5")
        axes.append((key.strip(), choices))
    return axes


def combinations(axes: list[tuple[str, list[str]]]) -> list[tuple[str, ...]]:
    """Every combination as ``--set`` assignments, in a fixed order."""
    keys = [key for key, _ in axes]
    return [tuple(f"{k}={v}" for k, v in zip(keys, values, strict=True))
            for values in itertools.product(*(choices for _, choices in axes))]


def _one(request: BacktestRequest) -> dict[str, Any]:
    from actors.runtime.logs import configure_logging

    configure_logging("console", "warning")
    with open(os.devnull, "w", encoding="utf-8") as quiet:
        return run_backtest(request, progress_stream=quiet).summary


def run_sweep(request: BacktestRequest, axes: list[tuple[str, list[str]]],
              workers: int | None = None) -> list[dict[str, Any]]:
    combos = combinations(axes)
    requests = [dataclasses.replace(request, out=request.out / f"sweep-{n}",
                                    assignments=(*request.assignments, *combo))
                for n, combo in enumerate(combos, start=1)]
    workers = workers or os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited system
    with ProcessPoolExecutor(max_workers=min(workers, len(requests)),
                             mp_context=context) as pool:
        summaries = list(pool.map(_one, requests))
    rows = []
    for n, (combo, summary) in enumerate(zip(combos, summaries, strict=True), start=1):
        rows.append({"run": f"sweep-{n}", "settings": " ".join(combo),
                     **{key: summary.get(key) for key in COMPARED}})
    request.out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (request.out / "sweep.csv").write_text(buffer.getvalue(), encoding="utf-8")
    header = "| " + " | ".join(rows[0]) + " |"
    lines = [header, "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join("–" if v is None else str(v) for v in row.values()) + " |"
              for row in rows]
    (request.out / "sweep.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def read_table(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))
