"""``data download``: bars from the configured terminal into MT5-format CSV files.

The terminal is the one ``broker.kind`` names (the simulator, ``MetaTrader5`` or
``mt5linux``), reached through the broker's gateway and its ``copy_rates_range``, a month at a
time. Each symbol's bars go to ``DIR/<SYMBOL>_<TF>_<from>_<to>.csv`` in the format MT5's own
export writes (tab-separated, server times), which ``backtest --data DIR`` replays.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from actors.broker.backends import make_backend
from actors.broker.sim import constants as c

__all__ = ["MT5_TIMEFRAMES", "download_bars", "rates_to_csv"]

MT5_TIMEFRAMES = {"M1": c.TIMEFRAME_M1, "M5": c.TIMEFRAME_M5, "M15": c.TIMEFRAME_M15,
                  "M30": c.TIMEFRAME_M30, "H1": c.TIMEFRAME_H1, "H4": c.TIMEFRAME_H4,
                  "D1": c.TIMEFRAME_D1}
CHUNK_S = 30 * 86_400
HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"


def rates_to_csv(rates: np.ndarray, digits: int) -> str:
    lines = [HEADER]
    for bar in rates:
        stamp = datetime.fromtimestamp(int(bar["time"]), tz=UTC).strftime("%Y.%m.%d\t%H:%M:%S")
        prices = "\t".join(f"{float(bar[k]):.{digits}f}" for k in ("open", "high", "low", "close"))
        lines.append(f"{stamp}\t{prices}\t{int(bar['tick_volume'])}\t{int(bar['real_volume'])}"
                     f"\t{int(bar['spread'])}")
    return "\n".join(lines) + "\n"


def download_bars(settings: Any, symbols: tuple[str, ...], timeframe: str, start: float,
                  end: float, out: Path,
                  progress: Callable[[int, int, str], None] | None = None) -> list[Path]:
    """Write one CSV per symbol; returns the files. Raises ValueError on a bad timeframe,
    RuntimeError when the terminal cannot be reached or serves no bars."""
    if timeframe not in MT5_TIMEFRAMES:
        raise ValueError(f"--timeframe {timeframe!r}: one of {', '.join(MT5_TIMEFRAMES)}")
    backend = make_backend(settings)
    gateway = backend.open_gateway()
    written = []
    try:
        credentials = backend.credentials()
        gateway.connect(path=credentials.path, login=credentials.login,
                        password=credentials.password, server=credentials.server)
        chunks = [(a, min(a + CHUNK_S, end)) for a in np.arange(start, end, CHUNK_S)]
        total, done = len(chunks) * len(symbols), 0
        out.mkdir(parents=True, exist_ok=True)
        for symbol in symbols:
            gateway.select_symbol(symbol)
            parts = []
            for a, b in chunks:
                parts.append(gateway.rates_range(symbol, MT5_TIMEFRAMES[timeframe], float(a),
                                                 float(b)))
                done += 1
                if progress is not None:
                    progress(done, total, symbol)
            rates = np.concatenate(parts) if parts else np.array([])
            if len(rates) == 0:
                raise RuntimeError(f"{symbol}: the terminal has no {timeframe} bars between "
                                   "--from and --to")
            rates = rates[np.unique(rates["time"], return_index=True)[1]]
            digits = gateway.symbol(symbol).digits
            first = datetime.fromtimestamp(int(rates["time"][0]), tz=UTC).strftime("%Y%m%d%H%M")
            last = datetime.fromtimestamp(int(rates["time"][-1]), tz=UTC).strftime("%Y%m%d%H%M")
            path = out / f"{symbol}_{timeframe}_{first}_{last}.csv"
            path.write_text(rates_to_csv(rates, digits), encoding="utf-8")
            written.append(path)
    finally:
        gateway.close()
    return written
