"""Indicators against textbook and hand-computed values, and against naive reference loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.strategy.indicators import (
    Regime,
    adx,
    atr,
    bollinger,
    classify_regime,
    closed_bars,
    ema,
    last_finite,
    macd,
    rsi,
    sma,
    true_range,
    wilder_smooth,
)
from messages.market import Bars

# Wilder's RSI worked example as published by StockCharts (ChartSchool, "RSI"), 14 periods.
RSI_CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.2778, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826,
    45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439,
    46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672,
    43.4205, 42.6628, 43.1314,
]  # fmt: skip
RSI_PUBLISHED = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99,
    41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


def test_rsi_matches_the_published_wilder_example():
    values = rsi(np.array(RSI_CLOSES), 14)
    assert np.all(np.isnan(values[:14]))
    np.testing.assert_allclose(values[14:], RSI_PUBLISHED, atol=0.005)


def test_rsi_edge_cases():
    assert rsi(np.arange(20.0), 14)[-1] == 100.0  # no losses
    assert rsi(np.full(20, 5.0), 14)[-1] == 50.0  # no movement
    assert rsi(np.arange(20.0)[::-1], 14)[-1] == 0.0  # no gains
    assert np.all(np.isnan(rsi(np.arange(14.0), 14)))  # not enough bars


def test_sma_and_ema_by_hand():
    np.testing.assert_allclose(sma(np.array([1.0, 2, 3, 4, 5]), 3), [np.nan, np.nan, 2, 3, 4])
    # EMA(3): alpha 0.5, seeded with the mean of the first three values (11).
    np.testing.assert_allclose(
        ema(np.array([10.0, 11, 12, 13, 20]), 3), [np.nan, np.nan, 11, 12, 16]
    )
    assert np.all(np.isnan(sma(np.array([1.0, 2.0]), 3)))
    with pytest.raises(ValueError):
        sma(np.array([1.0]), 0)


def naive_recursive(values: np.ndarray, period: int, alpha: float) -> np.ndarray:
    out = np.full(len(values), np.nan)
    if len(values) < period:
        return out
    out[period - 1] = values[:period].mean()
    for i in range(period, len(values)):
        out[i] = (1 - alpha) * out[i - 1] + alpha * values[i]
    return out


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    length=st.integers(1, 1500),
    period=st.integers(1, 60),
    level=st.floats(1e-4, 1e5),
)
def test_block_evaluation_equals_the_plain_recursion(seed, length, period, level):
    values = level * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, length)))
    np.testing.assert_allclose(
        ema(values, period), naive_recursive(values, period, 2 / (period + 1)), rtol=1e-9
    )
    np.testing.assert_allclose(
        wilder_smooth(values, period), naive_recursive(values, period, 1 / period), rtol=1e-9
    )


def test_wilder_smooth_skips_leading_nans():
    values = np.array([np.nan, np.nan, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(wilder_smooth(values, 2), [np.nan, np.nan, np.nan, 3.0, 4.5])


def test_true_range_and_atr_by_hand():
    high = np.array([10.0, 11.0, 12.0, 15.0])
    low = np.array([8.0, 9.0, 10.5, 14.0])
    close = np.array([9.0, 10.5, 11.0, 14.5])
    # Bar 0: H−L = 2. Bar 1: max(2, |11−9|, |9−9|) = 2. Bar 2: max(1.5, 1.5, 0) = 1.5.
    # Bar 3 gaps up: max(1, |15−11|, |14−11|) = 4.
    np.testing.assert_allclose(true_range(high, low, close), [2.0, 2.0, 1.5, 4.0])
    # ATR(2): mean(2, 2) = 2, then (2 + 1.5) / 2 = 1.75, then (1.75 + 4) / 2 = 2.875.
    np.testing.assert_allclose(atr(high, low, close, 2), [np.nan, 2.0, 1.75, 2.875])


def test_atr_of_a_constant_range_is_that_range():
    close = 100 + np.arange(50.0) * 0.1
    assert atr(close + 0.5, close - 0.5, close, 14)[-1] == pytest.approx(1.0)


def naive_adx(high, low, close, n):
    """Wilder's own bookkeeping: running sums TR14, +DM14, −DM14, ADX from the DX mean."""
    tr, pdm, mdm = [], [], []
    for i in range(1, len(close)):
        up, down = high[i] - high[i - 1], low[i - 1] - low[i]
        pdm.append(up if up > down and up > 0 else 0.0)
        mdm.append(down if down > up and down > 0 else 0.0)
        tr.append(max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1])))
    tr14, p14, m14 = sum(tr[:n]), sum(pdm[:n]), sum(mdm[:n])
    dxs, plus_di, minus_di = [], None, None
    for i in range(n - 1, len(tr)):
        if i > n - 1:
            tr14 = tr14 - tr14 / n + tr[i]
            p14 = p14 - p14 / n + pdm[i]
            m14 = m14 - m14 / n + mdm[i]
        plus_di, minus_di = 100 * p14 / tr14, 100 * m14 / tr14
        dxs.append(100 * abs(plus_di - minus_di) / (plus_di + minus_di))
    value = sum(dxs[:n]) / n
    for dx in dxs[n:]:
        value = (value * (n - 1) + dx) / n
    return plus_di, minus_di, value


def test_adx_matches_wilders_running_sums():
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0.05, 1.0, 120))
    high = close + rng.uniform(0.1, 1.0, 120)
    low = close - rng.uniform(0.1, 1.0, 120)
    result = adx(high, low, close, 14)
    plus_di, minus_di, value = naive_adx(high, low, close, 14)
    assert result.plus_di[-1] == pytest.approx(plus_di)
    assert result.minus_di[-1] == pytest.approx(minus_di)
    assert result.adx[-1] == pytest.approx(value)
    assert np.isnan(result.adx[26]) and not np.isnan(result.adx[27])  # first at 2·14 − 1


def test_adx_of_a_steady_rise_is_one_hundred():
    close = np.arange(60.0)
    result = adx(close + 0.5, close - 0.5, close, 14)
    assert result.adx[-1] == pytest.approx(100.0)
    assert result.minus_di[-1] == 0.0 and result.plus_di[-1] > 0


def test_bollinger_uses_the_population_deviation():
    bands = bollinger(np.array([1.0, 2, 3, 4, 5]), 5, 2.5)
    assert bands.middle[-1] == 3.0
    assert bands.upper[-1] == pytest.approx(3 + 2.5 * math.sqrt(2))
    assert bands.lower[-1] == pytest.approx(3 - 2.5 * math.sqrt(2))
    flat = bollinger(np.full(25, 7.0))
    assert flat.upper[-1] == flat.lower[-1] == 7.0


def test_macd_is_the_difference_of_emas():
    close = 50 + np.cumsum(np.random.default_rng(3).normal(0, 1, 100))
    result = macd(close)
    np.testing.assert_allclose(result.line, ema(close, 12) - ema(close, 26))
    np.testing.assert_allclose(result.histogram, result.line - result.signal)
    assert np.isnan(result.signal[32]) and not np.isnan(result.signal[33])


def test_closed_bars_drop_the_forming_bar():
    time = np.array([0.0, 300.0, 600.0])
    bars = Bars(time, time, time, time, np.array([1.0, 2.0, 3.0]))
    assert len(closed_bars(bars, now=899.0, timeframe="M5")) == 2
    assert len(closed_bars(bars, now=900.0, timeframe="M5")) == 3
    assert len(bars.tail(2)) == 2 and bars.tail(2).close[0] == 2.0
    with pytest.raises(ValueError):
        Bars(time, time, time, time, np.array([1.0]))


def test_last_finite():
    assert last_finite(np.array([1.0, np.nan])) is None
    assert last_finite(np.array([])) is None
    assert last_finite(np.array([np.nan, 2.0])) == 2.0


@pytest.mark.parametrize(
    ("adx_value", "atr_value", "atr_mean", "regime"),
    [
        (30.0, 1.0, 1.0, Regime.TREND),
        (20.0, 1.0, 1.0, Regime.RANGE),
        (40.0, 2.0, 1.0, Regime.VOLATILE),
    ],
)
def test_regime(adx_value, atr_value, atr_mean, regime):
    assert classify_regime(adx_value, atr_value, atr_mean) is regime


def test_regime_refuses_undefined_inputs():
    with pytest.raises(ValueError):
        classify_regime(math.nan, 1.0, 1.0)
