"""Replay of recorded bars: CSV files in MetaTrader 5's "export bars" format.

MT5's History Center / chart export writes tab-separated files such as::

    <DATE>	<TIME>	<OPEN>	<HIGH>	<LOW>	<CLOSE>	<TICKVOL>	<VOL>	<SPREAD>
    2024.01.02	00:00:00	1.10427	1.10432	1.10413	1.10421	39	0	18

(``<TIME>`` is absent in daily exports; commas or semicolons are accepted too.) The symbol is the
file name up to the first ``_`` (MT5 names exports ``EURUSD_M1_202401020000_....csv``). A
:class:`ReplayBook` turns the bars into the market's per-day minute bars: M1 bars are used as they
are; a coarser bar is split into one-minute bars that open at its open, reach its high and low,
and close at its close (deterministically, from the bar's own time), so every timeframe built
from them agrees with the file.

Bars keep their weekday: when the clock lies outside the recorded period, the whole recording is
shifted by whole weeks (``shift_s``) so that replay starts a few days into it. After the last
recorded bar the symbol has no quotes, and trade requests get "market closed".
"""

from __future__ import annotations

import csv
import dataclasses
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from actors.broker.sim.market import SECONDS_PER_DAY, DayBars
from actors.broker.sim.universe import DEFAULT_UNIVERSE, MINUTES_PER_DAY, SymbolSpec

__all__ = ["ReplayBook", "ReplayError", "ReplaySeries", "read_mt5_csv"]

_WEEK_S = 7 * SECONDS_PER_DAY


class ReplayError(ValueError):
    """A replay file that cannot be used (names the file and the reason)."""


@dataclass(frozen=True, slots=True)
class ReplaySeries:
    """One file's bars: times (server epoch s) and prices as written, ascending."""

    symbol: str
    bar_seconds: int
    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    tick_volume: np.ndarray
    spread: np.ndarray
    digits: int


def _parse_time(date_text: str, time_text: str) -> int:
    stamp = datetime.strptime(date_text.strip(), "%Y.%m.%d")
    if time_text:
        parts = [int(p) for p in time_text.strip().split(":")]
        while len(parts) < 3:
            parts.append(0)
        stamp = stamp.replace(hour=parts[0], minute=parts[1], second=parts[2])
    return int(stamp.replace(tzinfo=UTC).timestamp())


def read_mt5_csv(path: str | Path, symbol: str | None = None) -> ReplaySeries:
    """Read one MT5 bar export. Times are taken as server times, as MT5 writes them."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    sample = text.splitlines()[0] if text else ""
    delimiter = "\t" if "\t" in sample else (";" if ";" in sample else ",")
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    if not rows or "<DATE>" not in [h.strip().upper() for h in rows[0]]:
        raise ReplayError(f"{path}: not an MT5 bar export (no <DATE> header)")
    header = [h.strip().upper() for h in rows[0]]
    column = {name: header.index(name) for name in header}
    needed = ("<DATE>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>")
    if any(name not in column for name in needed):
        raise ReplayError(f"{path}: missing one of {', '.join(needed)}")
    times, opens, highs, lows, closes, ticks, spreads = [], [], [], [], [], [], []
    digits = 0
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        try:
            time_text = row[column["<TIME>"]] if "<TIME>" in column else ""
            times.append(_parse_time(row[column["<DATE>"]], time_text))
            values = [row[column[name]].strip() for name in needed[1:]]
            for value in values:
                if "." in value:
                    digits = max(digits, len(value.split(".")[1]))
            o, h, lo, cl = (float(v) for v in values)
            opens.append(o)
            highs.append(h)
            lows.append(lo)
            closes.append(cl)
            ticks.append(int(float(row[column["<TICKVOL>"]])) if "<TICKVOL>" in column else 0)
            spreads.append(int(float(row[column["<SPREAD>"]])) if "<SPREAD>" in column else 0)
        except (ValueError, IndexError) as error:
            raise ReplayError(f"{path}:{line_number}: {error}") from None
    if len(times) < 2:
        raise ReplayError(f"{path}: needs at least two bars")
    order = np.argsort(np.array(times), kind="stable")
    time_array = np.array(times, dtype=np.int64)[order]
    steps = np.diff(time_array)
    bar_seconds = int(np.min(steps[steps > 0])) if np.any(steps > 0) else 60
    name = symbol or path.name.split("_")[0].split(".")[0].upper()
    return ReplaySeries(
        symbol=name,
        bar_seconds=min(bar_seconds, SECONDS_PER_DAY),
        time=time_array,
        open=np.array(opens)[order],
        high=np.array(highs)[order],
        low=np.array(lows)[order],
        close=np.array(closes)[order],
        tick_volume=np.array(ticks, dtype=np.int64)[order],
        spread=np.array(spreads, dtype=np.int64)[order],
        digits=digits,
    )


def _spec_for(series: ReplaySeries, universe: dict[str, SymbolSpec]) -> SymbolSpec:
    known = universe.get(series.symbol)
    if known is not None:
        return known
    # An instrument the default universe lacks: shaped like the nearest kind we know.
    template = universe.get("EURUSD") if len(series.symbol) == 6 else universe.get("US500")
    template = template or next(iter(DEFAULT_UNIVERSE.values()))
    middle = float(np.median(series.close))
    return dataclasses.replace(
        template,
        name=series.symbol,
        description=f"{series.symbol} (replayed)",
        digits=series.digits,
        reference_price=middle,
        spread_points=max(1, int(np.median(series.spread)) or template.spread_points),
        currency_base=series.symbol[:3] if len(series.symbol) == 6 else template.currency_base,
        currency_profit=(
            series.symbol[3:6] if len(series.symbol) == 6 else template.currency_profit
        ),
        currency_margin=series.symbol[:3] if len(series.symbol) == 6 else template.currency_margin,
    )


class ReplayBook:
    """Recorded bars of one or more symbols, served as the market's day-by-day minute bars."""

    def __init__(self, series: list[ReplaySeries], universe: dict[str, SymbolSpec]) -> None:
        self.series = {s.symbol: s for s in series}
        self.specs = {s.symbol: _spec_for(s, universe) for s in series}
        self.shift_s = 0

    @classmethod
    def load(cls, path: str | Path, universe: dict[str, SymbolSpec]) -> ReplayBook:
        """Load a CSV file, or every ``*.csv`` in a directory."""
        path = Path(path)
        files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        if not files:
            raise ReplayError(f"{path}: no CSV files to replay")
        return cls([read_mt5_csv(f) for f in files], universe)

    @property
    def symbols(self) -> set[str]:
        return set(self.series)

    def natural_shift(self, now_server_s: int, warmup_days: float) -> int:
        """Whole weeks to add to recorded times so that ``now`` falls ``warmup_days`` into
        the recording (0 when it already falls inside it)."""
        first = min(int(s.time[0]) for s in self.series.values())
        last = max(int(s.time[-1]) for s in self.series.values())
        start = first + int(warmup_days * SECONDS_PER_DAY)
        if start <= now_server_s <= last:
            return 0
        return round((now_server_s - start) / _WEEK_S) * _WEEK_S

    def first_day(self, symbol: str) -> int:
        return (int(self.series[symbol].time[0]) + self.shift_s) // SECONDS_PER_DAY

    def day_bars(self, symbol: str, day: int) -> DayBars:
        series = self.series[symbol]
        spec = self.specs[symbol]
        start = day * SECONDS_PER_DAY - self.shift_s
        lo = int(np.searchsorted(series.time, start - series.bar_seconds + 1, side="left"))
        hi = int(np.searchsorted(series.time, start + SECONDS_PER_DAY, side="left"))
        minutes: list[int] = []
        columns: list[list[int]] = [[], [], [], [], [], []]
        point = spec.point
        for i in range(lo, hi):
            bar_start = int(series.time[i])
            pieces = self._split(series, i, point, spec.spread_points)
            for offset, values in enumerate(pieces):
                minute_abs = (bar_start - start) // 60 + offset
                if 0 <= minute_abs < MINUTES_PER_DAY:
                    minutes.append(minute_abs)
                    for column, value in zip(columns, values, strict=True):
                        column.append(value)
        if not minutes:
            return DayBars.empty(day)
        order = np.argsort(np.array(minutes), kind="stable")
        arrays = [np.array(col, dtype=np.int64)[order] for col in columns]
        return DayBars(day, np.array(minutes, dtype=np.int32)[order], *arrays)

    @staticmethod
    def _split(
        series: ReplaySeries, index: int, point: float, default_spread: int
    ) -> list[tuple[int, int, int, int, int, int]]:
        """One recorded bar as (open, high, low, close, ticks, spread) minute bars, in points."""
        o, h, lo, cl = (
            round(float(getattr(series, name)[index]) / point)
            for name in ("open", "high", "low", "close")
        )
        h, lo = max(h, o, cl), min(lo, o, cl)
        spread = int(series.spread[index]) or default_spread
        count = max(1, series.bar_seconds // 60)
        ticks = max(4, int(series.tick_volume[index]) // count)
        if count == 1:
            return [(o, h, lo, cl, ticks, spread)]
        rng = np.random.default_rng([zlib.crc32(series.symbol.encode()), int(series.time[index])])
        path = np.rint(np.linspace(o, cl, count + 1) + rng.normal(0, (h - lo) / 4 + 0.1, count + 1))
        path = np.clip(path, lo, h).astype(np.int64)
        path[0], path[-1] = o, cl
        high_minute, low_minute = (int(x) for x in rng.integers(0, count, 2))
        pieces = []
        for j in range(count):
            po, pc = int(path[j]), int(path[j + 1])
            ph = h if j == high_minute else max(po, pc)
            pl = lo if j == low_minute else min(po, pc)
            pieces.append((po, ph, pl, pc, ticks, spread))
        return pieces
