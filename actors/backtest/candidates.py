"""Where a backtest's strategies may signal: the bars their optional hook marks, per symbol.

A strategy that implements :meth:`~actors.strategy.api.Strategy.candidate_bars` computes, in
one vectorised pass over a symbol's whole history, the bars at which its ``scan`` might
return a Signal. The driver then steps the actors at those bars, and at every bar while a
position or an order is open, and skips the others (nothing can happen there). ``scan`` stays
the authority wherever the actors step: the hook only proposes.

The history is read from a simulated terminal of the run's own configuration (the same seed,
universe, replayed bars and server clock as the broker's), on a scratch store, so the bars are
the ones the strategy will be given, and no actor is involved. Times of the bars given to the
hook are UTC.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors.broker.gateway import TIMEFRAMES
from actors.broker.sim.config import SimConfig
from actors.broker.sim.terminal import SimTerminal
from actors.runtime.clock import ManualClock
from actors.strategy.api import Bars, Strategy
from actors.strategy.indicators import TIMEFRAME_SECONDS

__all__ = ["CandidatePlan", "has_hook", "plan_candidates"]


def has_hook(strategy: Strategy) -> bool:
    """Whether ``strategy`` overrides :meth:`Strategy.candidate_bars`."""
    return type(strategy).candidate_bars is not Strategy.candidate_bars


@dataclass(frozen=True, slots=True)
class CandidatePlan:
    """For one strategy: at step ``k`` of the run, the symbols it may signal on."""

    steps: tuple[tuple[str, ...], ...]

    def at(self, index: int) -> tuple[str, ...]:
        return self.steps[index]


def _history(terminal: SimTerminal, symbol: str, timeframe: str, first_step: float,
             last_step: float, history: int) -> tuple[np.ndarray, Bars]:
    """The symbol's bars visible at ``last_step`` (their server open times, the last one
    perhaps still forming) and its closed ones as UTC :class:`Bars`, reaching at least
    ``history`` bars before ``first_step``."""
    seconds = TIMEFRAME_SECONDS[timeframe]
    wanted = math.ceil((last_step - first_step) / seconds) + history + 2
    now_ms = terminal.now_ms()
    rates = terminal.market.visible_bars(symbol, TIMEFRAMES[timeframe], now_ms, wanted)
    server_open = np.asarray(rates["time"], dtype=np.int64)
    closed = int(np.count_nonzero(server_open + seconds <= now_ms // 1000))
    # Each bar to UTC at the offset in force at its own time (one rule per distinct hour).
    hours = server_open[:closed] // 3600
    unique, inverse = np.unique(hours, return_inverse=True)
    guess = terminal.server_time.offset_s(last_step)
    offsets = np.array([terminal.server_time.offset_s(float(h * 3600 - guess)) for h in unique],
                       dtype=np.int64)
    utc = server_open[:closed] - (offsets[inverse] if len(unique) else 0)
    bars = Bars(time=utc.astype(float), open=np.asarray(rates["open"][:closed], dtype=float),
                high=np.asarray(rates["high"][:closed], dtype=float),
                low=np.asarray(rates["low"][:closed], dtype=float),
                close=np.asarray(rates["close"][:closed], dtype=float))
    return server_open, bars


def _marked_steps(strategy: Strategy, terminal: SimTerminal, symbol: str, timeframe: str,
                  server_open: np.ndarray, bars: Bars, step_server_ms: np.ndarray) -> np.ndarray:
    """Which steps (by index) have a marked bar as the last closed one the Strategy gets.

    The broker serves bars from position 1 (``copy_rates_from_pos(start=1)``): it drops the
    newest visible bar, which is the forming one once that has a tick and otherwise the bar
    that has just closed. So at a step the Strategy's last closed bar is the one before the
    newest visible bar; whether a forming bar has its first tick yet is asked of the
    terminal only where the answer changes the mark."""
    marks = strategy.candidate_bars(bars)
    steps = len(step_server_ms)
    if marks is None:
        return np.ones(steps, dtype=bool)
    mask = np.asarray(marks, dtype=bool)
    if mask.shape != (len(bars),):
        raise ValueError(f"{type(strategy).__name__}.candidate_bars returned shape "
                         f"{mask.shape}; expected ({len(bars)},)")
    seconds = TIMEFRAME_SECONDS[timeframe]
    padded = np.concatenate([mask, np.zeros(len(server_open) - len(mask) + 1, dtype=bool)])

    def marked(index: np.ndarray) -> np.ndarray:
        return np.where(index >= 0, padded[np.maximum(index, 0)], False)

    step_s = step_server_ms // 1000
    newest = np.searchsorted(server_open, step_s, side="right") - 1  # opened by then
    forming = (newest >= 0) & (server_open[np.maximum(newest, 0)] + seconds
                               > step_server_ms / 1000.0)
    with_tick, without = marked(newest - 1), marked(newest - 2)
    out = np.where(forming, without, with_tick)
    calendar = timeframe in ("W1", "MN1")
    for k in np.flatnonzero(forming & (with_tick != without)):
        opened, at = int(server_open[newest[k]]), int(step_server_ms[k])
        if calendar:
            seen = terminal.market.visible_bars(symbol, TIMEFRAMES[timeframe], at, 1)
            shows = bool(len(seen)) and int(seen["time"][-1]) == opened
        else:
            shows = terminal.market.has_partial_bar(symbol, opened // 60, at)
        if shows:
            out[k] = with_tick[k]  # the forming bar shows: it is the one dropped
    return out


def plan_candidates(config: SimConfig, strategy: Strategy, symbols: Sequence[str],
                    steps: Sequence[float], history: int) -> CandidatePlan | None:
    """The symbols ``strategy`` may signal on at each of ``steps`` (UTC epoch seconds), or
    None when it has no hook (every bar is then scanned)."""
    if not has_hook(strategy) or not steps:
        return None
    timeframe = strategy.timeframes[0]
    start = float(config.start if config.start is not None else steps[0])
    with tempfile.TemporaryDirectory(prefix="ensemble-candidates-") as scratch:
        clock = ManualClock(start)  # the broker's terminal opens at the same instant
        terminal = SimTerminal(config, Path(scratch), clock)
        try:
            clock.set(steps[-1])
            # The terminal's own server time at each step (its now_ms()).
            step_server_ms = np.array([int(t * 1000) + terminal.server_time.offset_s(t) * 1000
                                       for t in steps], dtype=np.int64)
            per_symbol = {}
            for symbol in symbols:
                server_open, bars = _history(terminal, symbol, timeframe, steps[0], steps[-1],
                                             history)
                per_symbol[symbol] = _marked_steps(strategy, terminal, symbol, timeframe,
                                                   server_open, bars, step_server_ms)
        finally:
            terminal.close()
    return CandidatePlan(tuple(tuple(s for s in symbols if per_symbol[s][k])
                               for k in range(len(steps))))
