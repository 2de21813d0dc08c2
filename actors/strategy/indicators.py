"""Technical indicators on closed bars, and the market regime they imply.

Every function takes plain numpy arrays (oldest bar first) and returns an array of the same
length, with NaN where the indicator is not yet defined. Nothing here looks at the clock or the
broker: :func:`closed_bars` is the one place that decides which bars are closed, so that no
indicator ever reads the still-forming bar that ``copy_rates_from_pos(..., 0, n)`` returns
last (its close is only the latest tick and changes until the bar closes).

The recursive averages (EMA and Wilder's smoothing) are evaluated block-wise in closed form, so
the work is vectorised and the number of Python-level iterations is the length divided by a
block size of a few hundred bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from messages.market import Bars
from messages.research import Regime

__all__ = [
    "TIMEFRAME_SECONDS",
    "Bars",
    "BollingerBands",
    "DirectionalIndex",
    "Macd",
    "RegimeParams",
    "adx",
    "atr",
    "bollinger",
    "classify_regime",
    "closed_bars",
    "ema",
    "last_finite",
    "macd",
    "rsi",
    "sma",
    "true_range",
    "wilder_smooth",
]

TIMEFRAME_SECONDS: dict[str, int] = {
    "M1": 60,
    "M5": 300,
    "M15": 900,
    "M30": 1800,
    "H1": 3600,
    "H4": 14400,
    "D1": 86400,
}

# exp(-300) is far above float64's smallest normal (~1e-308) and its inverse far below the
# largest, so a block of this decay can be scaled up and back down without under- or overflow.
_MAX_BLOCK_DECAY_LOG = 300.0




@dataclass(frozen=True, slots=True, eq=False)
class BollingerBands:
    middle: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class DirectionalIndex:
    """Wilder's directional movement system: +DI, −DI and ADX, each 0–100."""

    plus_di: np.ndarray
    minus_di: np.ndarray
    adx: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class Macd:
    line: np.ndarray
    signal: np.ndarray
    histogram: np.ndarray


def closed_bars(bars: Bars, now: float, timeframe: str) -> Bars:
    """Drop every bar that has not closed at ``now`` (epoch seconds, UTC).

    A bar opened at ``t`` closes at ``t + timeframe``; anything younger is still forming.
    """
    seconds = TIMEFRAME_SECONDS[timeframe]
    keep = np.asarray(bars.time, dtype=float) + seconds <= now
    count = int(np.count_nonzero(keep))
    # Bars are time-ordered, so the closed ones are a prefix; a later one cannot be closed.
    return Bars(
        bars.time[:count],
        bars.open[:count],
        bars.high[:count],
        bars.low[:count],
        bars.close[:count],
    )


def _as_float_array(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _check_period(period: int) -> None:
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")


def _exponential_filter(values: np.ndarray, alpha: float, seed: float) -> np.ndarray:
    """y[k] = (1 − alpha)·y[k−1] + alpha·values[k], starting from y[−1] = seed.

    Inside a block, y[k] = d^(k+1)·(seed + alpha·Σ_{j≤k} values[j]·d^−(j+1)) with d = 1 − alpha;
    blocks are short enough that d^−k stays representable.
    """
    decay = 1.0 - alpha
    if decay <= 0.0:
        return values.copy()
    block = max(1, int(_MAX_BLOCK_DECAY_LOG / -math.log(decay)))
    out = np.empty_like(values)
    previous = seed
    for start in range(0, len(values), block):
        chunk = values[start : start + block]
        powers = decay ** np.arange(1, len(chunk) + 1, dtype=float)
        out[start : start + len(chunk)] = powers * (previous + alpha * np.cumsum(chunk / powers))
        previous = out[start + len(chunk) - 1]
    return out


def _recursive_average(values: np.ndarray, period: int, alpha: float) -> np.ndarray:
    """Seeded with the simple mean of the first ``period`` finite values, then exponential.

    Leading NaNs (from an input that is itself not yet defined) are skipped.
    """
    _check_period(period)
    values = _as_float_array(values)
    out = np.full(len(values), np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    if len(finite) == 0:
        return out
    first = int(finite[0])
    if len(values) - first < period:
        return out
    seed_end = first + period
    seed = float(np.mean(values[first:seed_end]))
    out[seed_end - 1] = seed
    if seed_end < len(values):
        out[seed_end:] = _exponential_filter(values[seed_end:], alpha, seed)
    return out


def sma(values: np.ndarray, period: int) -> np.ndarray:
    """Simple moving average; NaN for the first ``period − 1`` values."""
    _check_period(period)
    values = _as_float_array(values)
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        out[period - 1 :] = sliding_window_view(values, period).mean(axis=1)
    return out


def ema(values: np.ndarray, period: int) -> np.ndarray:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the SMA of the first
    ``period`` values (the usual charting convention)."""
    return _recursive_average(values, period, 2.0 / (period + 1.0))


def wilder_smooth(values: np.ndarray, period: int) -> np.ndarray:
    """Wilder's running average (alpha = 1 / period), seeded with a simple mean."""
    return _recursive_average(values, period, 1.0 / period)


def rsi(close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's Relative Strength Index, 0–100; the first value is at index ``period``.

    With no losses in the window it is 100, and with no movement at all 50.
    """
    close = _as_float_array(close)
    out = np.full(len(close), np.nan)
    if len(close) <= period:
        return out
    change = np.diff(close)
    average_gain = wilder_smooth(np.clip(change, 0.0, None), period)
    average_loss = wilder_smooth(np.clip(-change, 0.0, None), period)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + average_gain / average_loss)
    value = np.where(average_loss == 0.0, np.where(average_gain == 0.0, 50.0, 100.0), value)
    value = np.where(np.isfinite(average_gain), value, np.nan)
    out[1:] = value
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """True range; the first bar, having no previous close, uses high − low."""
    high, low, close = _as_float_array(high), _as_float_array(low), _as_float_array(close)
    previous_close = np.concatenate(([np.nan], close[:-1]))
    ranges = np.vstack((high - low, np.abs(high - previous_close), np.abs(low - previous_close)))
    return np.nanmax(ranges, axis=0) if len(close) else np.empty(0)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's Average True Range; the first value (index ``period − 1``) is the mean of the
    first ``period`` true ranges."""
    return wilder_smooth(true_range(high, low, close), period)


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> DirectionalIndex:
    """Wilder's +DI, −DI and ADX. DIs start at index ``period``, ADX at ``2·period − 1``."""
    high, low, close = _as_float_array(high), _as_float_array(low), _as_float_array(close)
    n = len(close)
    plus_di = np.full(n, np.nan)
    minus_di = np.full(n, np.nan)
    adx_out = np.full(n, np.nan)
    if n < 2:
        return DirectionalIndex(plus_di, minus_di, adx_out)
    up_move = high[1:] - high[:-1]
    down_move = low[:-1] - low[1:]
    plus_dm = np.where((up_move > down_move) & (up_move > 0.0), up_move, 0.0)
    minus_dm = np.where((down_move > up_move) & (down_move > 0.0), down_move, 0.0)
    # Directional movement needs the previous bar, so every series starts at bar 1.
    tr = true_range(high, low, close)[1:]
    smoothed_tr = wilder_smooth(tr, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus = 100.0 * wilder_smooth(plus_dm, period) / smoothed_tr
        minus = 100.0 * wilder_smooth(minus_dm, period) / smoothed_tr
        total = plus + minus
        dx = np.where(total > 0.0, 100.0 * np.abs(plus - minus) / total, 0.0)
    flat = smoothed_tr == 0.0
    plus = np.where(flat, 0.0, plus)
    minus = np.where(flat, 0.0, minus)
    dx = np.where(np.isfinite(smoothed_tr), dx, np.nan)
    plus_di[1:] = plus
    minus_di[1:] = minus
    adx_out[1:] = wilder_smooth(dx, period)
    return DirectionalIndex(plus_di, minus_di, adx_out)


def bollinger(close: np.ndarray, period: int = 20, width: float = 2.5) -> BollingerBands:
    """Bollinger bands: SMA ± ``width`` population standard deviations (the seed's 20 / 2.5)."""
    _check_period(period)
    close = _as_float_array(close)
    middle = sma(close, period)
    deviation = np.full(len(close), np.nan)
    if len(close) >= period:
        deviation[period - 1 :] = sliding_window_view(close, period).std(axis=1)
    return BollingerBands(middle, middle + width * deviation, middle - width * deviation)


def macd(close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """MACD line (EMA fast − EMA slow), its signal EMA and the histogram."""
    line = ema(close, fast) - ema(close, slow)
    signal_line = ema(line, signal)
    return Macd(line, signal_line, line - signal_line)


def last_finite(values: np.ndarray) -> float | None:
    """The last value if it is a finite number, else None (not yet defined or bad data)."""
    if len(values) == 0:
        return None
    value = float(values[-1])
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """ADX above ``trend_adx`` is a trend (the seed's ADX > 25 confluence point); ATR above
    ``volatile_atr_ratio`` × its 100-bar mean is a volatile market, whatever the ADX says."""

    trend_adx: float = 25.0
    volatile_atr_ratio: float = 1.5


def classify_regime(
    adx_value: float, atr_value: float, atr_mean: float, params: RegimeParams | None = None
) -> Regime:
    """Trend, range or volatile from the latest ADX, ATR and the ATR's longer mean."""
    params = params or RegimeParams()
    for name, value in (("adx", adx_value), ("atr", atr_value), ("atr_mean", atr_mean)):
        if value is None or not math.isfinite(value):
            raise ValueError(f"classify_regime needs a finite {name}, got {value!r}")
    if atr_mean > 0.0 and atr_value > params.volatile_atr_ratio * atr_mean:
        return Regime.VOLATILE
    if adx_value > params.trend_adx:
        return Regime.TREND
    return Regime.RANGE
