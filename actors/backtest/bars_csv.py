"""Checking MetaTrader 5 bar exports before a backtest replays them.

MT5's "export bars" writes tab-separated files with the header
``<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>`` (``<TIME>`` absent in
daily exports). The simulated terminal replays such files (``sim.replay_csv``,
:mod:`actors.broker.sim.replay`) and stops at the first line it cannot read. A backtest must
not run on half-read history, and a trader fixing a file wants every bad line at once, so
:func:`check_mt5_csv` reads a whole file and returns one :class:`DataProblem` per bad field
(file, line, field, value, what is wrong). :func:`check_data_dir` does it for the files of the
symbols a backtest asks for.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["REQUIRED_COLUMNS", "DataProblem", "check_data_dir", "check_mt5_csv", "files_for"]

REQUIRED_COLUMNS = ("<DATE>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>")
_NUMBERS = ("<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>")
_COUNTS = ("<TICKVOL>", "<VOL>", "<SPREAD>")


@dataclass(frozen=True, slots=True)
class DataProblem:
    """One thing wrong in one file (``line`` 0 and ``field`` "" for the whole file)."""

    file: str
    line: int
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f" {self.field}={self.value!r}" if self.field else ""
        return f"{where}:{what} {self.message}"


def _time_of(date_text: str, time_text: str | None) -> int | None:
    try:
        stamp = datetime.strptime(date_text.strip(), "%Y.%m.%d")
        if time_text is not None:
            stamp = datetime.strptime(f"{date_text.strip()} {time_text.strip()}",
                                      "%Y.%m.%d %H:%M:%S" if time_text.count(":") == 2
                                      else "%Y.%m.%d %H:%M")
    except ValueError:
        return None
    return int(stamp.replace(tzinfo=UTC).timestamp())


def check_mt5_csv(path: str | Path) -> list[DataProblem]:
    """Every problem of one MT5 bar export; an empty list means the file can be replayed."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return [DataProblem(name, 0, "", "", f"cannot be read: {error}")]
    lines = text.splitlines()
    if not lines:
        return [DataProblem(name, 0, "", "", "is empty")]
    delimiter = "\t" if "\t" in lines[0] else (";" if ";" in lines[0] else ",")
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [h.strip().upper() for h in rows[0]]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        return [DataProblem(name, 1, "", "", f"header lacks {', '.join(missing)} (an MT5 bar "
                            "export starts <DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> ...)")]
    column = {title: index for index, title in enumerate(header)}
    problems: list[DataProblem] = []
    previous: int | None = None
    bars = 0
    for number, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < len(header):
            problems.append(DataProblem(name, number, "", delimiter.join(row),
                                        f"has {len(row)} fields, the header {len(header)}"))
            continue
        found = len(problems)
        date_text = row[column["<DATE>"]]
        time_text = row[column["<TIME>"]] if "<TIME>" in column else None
        stamp = _time_of(date_text, time_text)
        if stamp is None:
            field = "<DATE>" if _time_of(date_text, None) is None else "<TIME>"
            value = date_text if field == "<DATE>" else str(time_text)
            problems.append(DataProblem(name, number, field, value,
                                        "is not a date YYYY.MM.DD and time HH:MM[:SS]"))
        prices: dict[str, float] = {}
        for title in _NUMBERS:
            raw = row[column[title]].strip()
            try:
                prices[title] = float(raw)
            except ValueError:
                problems.append(DataProblem(name, number, title, raw, "is not a number"))
                continue
            if not math.isfinite(prices[title]) or prices[title] <= 0:
                problems.append(DataProblem(name, number, title, raw, "must be above 0"))
        for title in (t for t in _COUNTS if t in column):
            raw = row[column[title]].strip()
            try:
                ok = float(raw) >= 0 and float(raw).is_integer()
            except ValueError:
                ok = False
            if not ok:
                problems.append(DataProblem(name, number, title, raw,
                                            "must be a whole number >= 0"))
        if len(problems) == found and len(prices) == 4:
            high, low = prices["<HIGH>"], prices["<LOW>"]
            inside = [t for t in ("<OPEN>", "<CLOSE>") if not low <= prices[t] <= high]
            if high < low or inside:
                field = inside[0] if inside and high >= low else "<HIGH>"
                problems.append(DataProblem(name, number, field, row[column[field]].strip(),
                                            f"outside the bar's range (low {low:g}, "
                                            f"high {high:g})"))
        if stamp is not None and len(problems) == found:
            if previous is not None and stamp <= previous:
                problems.append(DataProblem(name, number, "<DATE>",
                                            f"{date_text} {time_text or ''}".strip(),
                                            "is not after the line before (bars must ascend)"))
            previous = stamp
            bars += 1
    if bars < 2 and not problems:
        problems.append(DataProblem(name, 0, "", "", "needs at least two bars"))
    return problems


def files_for(directory: Path, symbols: tuple[str, ...]) -> dict[str, Path]:
    """The export of each symbol in ``directory`` (named ``SYMBOL_...csv`` or
    ``SYMBOL.csv``), as the simulated terminal finds them."""
    found: dict[str, Path] = {}
    for path in sorted(directory.glob("*.csv")):
        symbol = path.name.split("_")[0].split(".")[0].upper()
        if symbol in symbols:
            found.setdefault(symbol, path)
    return found


def check_data_dir(directory: str | Path, symbols: tuple[str, ...]) -> list[DataProblem]:
    """Problems with the history of ``symbols`` in ``directory``: a missing file, or the bad
    lines of each one."""
    directory = Path(directory)
    if not directory.is_dir():
        return [DataProblem(str(directory), 0, "", "", "is not a directory")]
    files = files_for(directory, symbols)
    problems = [DataProblem(str(directory), 0, "", "",
                            f"has no file for {symbol} (expected {symbol}_<TF>_....csv, as "
                            "MT5 names its exports)") for symbol in symbols if symbol not in files]
    for symbol in symbols:
        if symbol in files:
            problems += check_mt5_csv(files[symbol])
    return problems
