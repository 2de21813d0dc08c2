"""A moving-average crossover with ATR stops: a short example of Ensemble's strategy API.

Buy when the fast SMA crosses above the slow one on the last closed bar, sell when it crosses
below; the stop is ``sl_atr`` × ATR away and the target ``tp_atr`` × ATR. Run it with::

    python run_system.py run --strategy examples/strategies/sma_cross.py:SmaCross

and tune it in the configuration (``[strategy.params.SmaCross]``: ``fast``, ``slow``,
``timeframe``, ``atr_period``, ``sl_atr``, ``tp_atr``, and ``symbols`` to trade others than
the configured universe).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from actors.strategy.api import Bars, Market, NoSignal, Side, Signal, Strategy


class SmaCrossParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = Field(10, ge=2, le=500)
    slow: int = Field(30, ge=3, le=1000)
    timeframe: str = "M5"
    atr_period: int = Field(14, ge=2, le=200)
    sl_atr: float = Field(1.5, gt=0, le=20)
    tp_atr: float = Field(3.0, gt=0, le=50)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class SmaCross(Strategy):
    Params = SmaCrossParams
    timeframes = ("M5",)

    def __init__(self, params: SmaCrossParams | None = None) -> None:
        super().__init__(params)
        # The bars it reads are its configured timeframe's: declared, so they are fetched.
        self.timeframes = (self.params.timeframe,)  # type: ignore[misc]

    def candidate_bars(self, bars: Bars) -> np.ndarray:
        """Every bar where the fast mean may cross the slow one, in one numpy pass: a backtest
        scans a symbol only there (and while a position is open). Means over sliding windows
        agree with scan's to a few ulps, so a crossover within a relative 1e-9 also counts:
        a near-tie is scanned rather than missed."""
        params: SmaCrossParams = self.params  # type: ignore[assignment]
        close = np.asarray(bars.close, dtype=float)
        marks = np.zeros(len(close), dtype=bool)
        if len(close) < params.slow + 2:
            return marks
        windows = np.lib.stride_tricks.sliding_window_view
        fast = windows(close, params.fast).mean(axis=1)[params.slow - params.fast:]
        slow = windows(close, params.slow).mean(axis=1)
        diff = fast - slow  # at bars slow-1 .. end
        margin = 1e-9 * np.abs(close[params.slow - 1:])
        before, now, tolerance = diff[:-1], diff[1:], margin[1:]
        up = (before <= tolerance) & (now > -tolerance)
        down = (before >= -tolerance) & (now < tolerance)
        marks[params.slow:] = up | down
        marks[:params.slow + 1] = False  # scan needs slow + 2 bars
        return marks

    def scan(self, market: Market) -> Signal | NoSignal:
        params: SmaCrossParams = self.params  # type: ignore[assignment]
        bars = market.bars.get(params.timeframe)
        if bars is None or len(bars) < params.slow + 2:
            return NoSignal(f"NO SETUP: {len(bars) if bars is not None else 0} closed "
                            f"{params.timeframe} bars, need {params.slow + 2}")
        close = np.asarray(bars.close, dtype=float)
        fast_now, fast_before = close[-params.fast:].mean(), close[-params.fast - 1:-1].mean()
        slow_now, slow_before = close[-params.slow:].mean(), close[-params.slow - 1:-1].mean()
        # The ATR needs only its last atr_period true ranges (and the close before them).
        window = min(len(close), params.atr_period + 1)
        high = np.asarray(bars.high[-window:], dtype=float)
        low = np.asarray(bars.low[-window:], dtype=float)
        recent = close[-window:]
        previous = np.concatenate([recent[:1], recent[:-1]])
        true_range = np.maximum(high - low, np.maximum(abs(high - previous), abs(low - previous)))
        atr = float(true_range[-params.atr_period:].mean())
        if not atr > 0:
            return NoSignal("LOW VOLATILITY: no range in the last bars")
        if fast_before <= slow_before and fast_now > slow_now:
            side = Side.BUY
        elif fast_before >= slow_before and fast_now < slow_now:
            side = Side.SELL
        else:
            return NoSignal(f"NO SETUP: no crossover (fast {fast_now:.5g}, slow {slow_now:.5g})")
        return Signal(side, sl_distance=params.sl_atr * atr, tp_distance=params.tp_atr * atr,
                      reason=f"SMA{params.fast} crossed SMA{params.slow}", score=1.0,
                      confidence=70.0)
