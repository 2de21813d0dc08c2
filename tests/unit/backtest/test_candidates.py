"""A strategy's ``candidate_bars`` never misses a bar where its ``scan`` signals: SmaCross's
hook against its own scan over long seeded series and over prices full of exact ties, and the
backtest's plan against the bars the broker serves the Strategy at every step."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.backtest.candidates import has_hook, plan_candidates
from actors.broker.sim import constants as c
from actors.broker.sim.config import SimConfig
from actors.broker.sim.market import SimulatedMarket
from actors.broker.sim.terminal import SimTerminal
from actors.broker.sim.universe import DEFAULT_UNIVERSE
from actors.runtime.clock import ManualClock
from actors.strategy.api import Bars, Market, Signal, Strategy
from actors.strategy.confluence import Confluence
from actors.strategy.indicators import closed_bars

SMA_FILE = Path(__file__).resolve().parents[3] / "examples" / "strategies" / "sma_cross.py"
MONDAY = 1_704_700_800.0  # 2024-01-08 08:00 UTC


def _sma_module():
    spec = importlib.util.spec_from_file_location("sma_cross_for_test", SMA_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMA = _sma_module()


def _scan_signals(strategy: Strategy, bars: Bars, history: int = 300) -> np.ndarray:
    """Where ``scan`` signals, bar by bar, on the last ``history`` bars up to each."""
    out = np.zeros(len(bars), dtype=bool)
    for i in range(len(bars)):
        window = Bars(bars.time[:i + 1], bars.open[:i + 1], bars.high[:i + 1],
                      bars.low[:i + 1], bars.close[:i + 1]).tail(history)
        market = Market("X", float(bars.time[i]) + 300, {"M5": window}, None, None)
        out[i] = isinstance(strategy.scan(market), Signal)
    return out


def _bars(close: np.ndarray) -> Bars:
    close = np.asarray(close, dtype=float)
    times = MONDAY + 300.0 * np.arange(len(close))
    return Bars(times, close, close + 0.0002, close - 0.0002, close)


def test_the_hook_marks_every_bar_where_scan_signals_on_long_seeded_series() -> None:
    market = SimulatedMarket(seed=11, universe=DEFAULT_UNIVERSE)
    server_ms = int((MONDAY + 10 * 86_400) * 1000)
    for params in (SMA.SmaCrossParams(), SMA.SmaCrossParams(fast=3, slow=8)):
        strategy = SMA.SmaCross(params)
        for symbol in ("EURUSD", "USDJPY", "BTCUSD"):
            rates = market.visible_bars(symbol, c.TIMEFRAME_M5, server_ms, 2000)[:-1]
            bars = Bars.from_rates(rates, 7200)
            marks = np.asarray(strategy.candidate_bars(bars), dtype=bool)
            signals = _scan_signals(strategy, bars)
            assert marks.shape == (len(bars),)
            assert signals.any(), symbol
            missed = np.flatnonzero(signals & ~marks)
            assert not len(missed), f"{symbol} {params}: scan signals at {missed[:5]} unmarked"
            # It proposes: the bars it marks are few (a crossover is rare).
            assert marks.sum() < 0.3 * len(bars)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=10, max_size=120), st.integers(2, 5))
def test_the_hook_marks_ties_and_flat_prices(steps: list[int], fast: int) -> None:
    """Prices of few distinct values make the two means meet exactly: an exact tie is where
    float sums differ most, and a tie either way is still marked."""
    close = 1.1 + 0.0001 * np.asarray(steps, dtype=float)
    strategy = SMA.SmaCross(SMA.SmaCrossParams(fast=fast, slow=fast + 3))
    bars = _bars(close)
    marks = np.asarray(strategy.candidate_bars(bars), dtype=bool)
    assert not (_scan_signals(strategy, bars) & ~marks).any()


def test_without_the_hook_every_bar_is_scanned() -> None:
    assert has_hook(SMA.SmaCross())
    assert not has_hook(Confluence())
    assert plan_candidates(SimConfig(seed=3, start=MONDAY), Confluence(), ("EURUSD",),
                           [MONDAY + 300], 300) is None


def test_the_plan_proposes_every_symbol_the_strategy_signals_on_at_each_step(
        tmp_path: Path) -> None:
    """The plan against what the Strategy gets at every step: ``copy_rates_from_pos`` from
    position 1 (the broker's closed bars) on a terminal driven bar by bar."""
    symbols = ("AUDCAD", "EURUSD", "BTCUSD", "USDJPY")
    config = SimConfig(seed=7, start=MONDAY, symbols=list(symbols), driven=True)
    strategy = SMA.SmaCross(SMA.SmaCrossParams(fast=3, slow=8))
    steps = [MONDAY + 300.0 * k for k in range(1, 2 * 288)]
    steps += [steps[-1] + 37.5 + 61.0 * k for k in range(40)]  # off the bar closes too
    plan = plan_candidates(config, strategy, symbols, steps, 300)
    assert plan is not None
    clock = ManualClock(MONDAY)
    terminal = SimTerminal(config, tmp_path, clock)
    signalled = proposed = 0
    try:
        for k, now in enumerate(steps):
            clock.set(now)
            offset = terminal.server_time.offset_s(now)
            for symbol in symbols:
                rates = terminal.rates_from_pos(symbol, c.TIMEFRAME_M5, 1, 300)
                bars = closed_bars(Bars.from_rates(rates, offset), now, "M5")
                market = Market(symbol, now, {"M5": bars}, None, None)
                if isinstance(strategy.scan(market), Signal):
                    signalled += 1
                    assert symbol in plan.at(k), (k, now, symbol)
                proposed += symbol in plan.at(k)
    finally:
        terminal.close()
    assert signalled > 10 and proposed < 0.5 * len(steps) * len(symbols)
