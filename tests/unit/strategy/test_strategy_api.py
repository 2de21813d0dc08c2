"""The public strategy API and its loader, as a strategy author meets them: a class in their
own file, its parameters validated from its configuration section, clear errors otherwise."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from actors.app.settings import load_settings
from actors.strategy.api import Market, NoSignal, Side, Signal
from actors.strategy.loader import StrategyError, load_strategies, load_strategy_class
from messages.market import Bars

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "strategies" / "sma_cross.py"


def _settings(*assignments: str):
    return load_settings(assignments=list(assignments), environ={})


def _market(close: list[float], timeframe: str = "M5") -> Market:
    values = np.asarray(close, dtype=float)
    times = np.arange(len(values), dtype=float) * 300.0
    bars = Bars(times, values, values + 0.0005, values - 0.0005, values)
    return Market(symbol="EURUSD", now=float(times[-1] + 300), bars={timeframe: bars},
                  tick=None, spec=None)


def test_without_a_strategy_the_built_in_confluence_runs() -> None:
    [loaded] = load_strategies((), {}, _settings())
    assert loaded.name == "Confluence" and loaded.symbols is None


def test_a_strategy_in_a_file_outside_the_repository_loads_with_its_parameters(
        tmp_path: Path) -> None:
    copy = tmp_path / "mine" / "sma_cross.py"
    copy.parent.mkdir()
    shutil.copy(EXAMPLE, copy)
    settings = _settings("strategy.params.SmaCross.fast=5", "strategy.params.SmaCross.slow=12",
                         "strategy.params.SmaCross.symbols=['GBPUSD']")
    [loaded] = load_strategies((f"{copy}:SmaCross",), settings.strategy.params, settings)
    assert (loaded.name, loaded.symbols) == ("SmaCross", ("GBPUSD",))
    assert (loaded.strategy.params.fast, loaded.strategy.params.slow) == (5, 12)


def test_sma_cross_signals_on_a_crossover_and_explains_when_it_does_not() -> None:
    [loaded] = load_strategies((f"{EXAMPLE}:SmaCross",), {}, _settings())
    flat_then_up = [1.1] * 40 + [1.15]  # the fast average crosses above on the last bar
    signal = loaded.strategy.scan(_market(flat_then_up))
    assert isinstance(signal, Signal) and signal.side is Side.BUY
    assert 0 < signal.sl_distance < signal.tp_distance
    flat = loaded.strategy.scan(_market([1.1] * 5))
    assert isinstance(flat, NoSignal) and flat.reason.startswith("NO SETUP")


def test_sma_cross_declares_the_timeframe_it_is_configured_to_read() -> None:
    settings = _settings("strategy.params.SmaCross.timeframe='M15'")
    [loaded] = load_strategies((f"{EXAMPLE}:SmaCross",), settings.strategy.params, settings)
    assert loaded.strategy.timeframes == ("M15",)


def _full_window_atr(bars: Bars, period: int) -> float:
    """SmaCross's ATR as it was first written: true ranges over the whole window."""
    close, high, low = (np.asarray(v, dtype=float) for v in (bars.close, bars.high, bars.low))
    previous = np.concatenate([[close[0]], close[:-1]])
    ranges = np.maximum(high - low, np.maximum(abs(high - previous), abs(low - previous)))
    return float(ranges[-period:].mean())


@pytest.mark.parametrize(("length", "slow", "atr_period"), [(300, 30, 14), (10, 8, 14),
                                                           (15, 8, 14), (16, 8, 14)])
def test_sma_cross_takes_its_atr_from_the_last_bars_only_with_the_same_result(
        length: int, slow: int, atr_period: int) -> None:
    settings = _settings(f"strategy.params.SmaCross.slow={slow}",
                         "strategy.params.SmaCross.fast=3",
                         f"strategy.params.SmaCross.atr_period={atr_period}")
    [loaded] = load_strategies((f"{EXAMPLE}:SmaCross",), settings.strategy.params, settings)
    rng = np.random.default_rng(length)
    crossings = 0
    for _ in range(60):
        close = 1.1 + np.cumsum(rng.normal(0, 0.0004, length))
        times = np.arange(length, dtype=float) * 300.0
        bars = Bars(times, close, close + rng.uniform(0, 0.0008, length),
                    close - rng.uniform(0, 0.0008, length), close)
        answer = loaded.strategy.scan(Market(symbol="EURUSD", now=float(times[-1] + 300),
                                             bars={"M5": bars}, tick=None, spec=None))
        if isinstance(answer, Signal):
            crossings += 1
            assert answer.sl_distance == pytest.approx(1.5 * _full_window_atr(bars, atr_period),
                                                       rel=1e-12)
    assert crossings > 0


@pytest.mark.parametrize(("spec", "message"), [
    ("nonsense", "expected PATH/file.py:ClassName"),
    ("/no/such/file.py:X", "no such file"),
    ("actors.strategy.api:Market", "is not a subclass"),
    ("no_such_package.mod:X", "cannot import no_such_package.mod"),
])
def test_a_bad_spec_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        load_strategy_class(spec)


def test_bad_parameters_name_the_key_the_value_and_the_rule() -> None:
    settings = _settings("strategy.params.SmaCross.fast=0")
    with pytest.raises(StrategyError, match=r"strategy.params.SmaCross.fast: .*greater than or "
                                            r"equal to 2.*\(got 0\)"):
        load_strategies((f"{EXAMPLE}:SmaCross",), settings.strategy.params, settings)
    settings = _settings("strategy.params.SmaCross.fast=40")
    with pytest.raises(StrategyError, match=r"fast .40. must be shorter than slow .30."):
        load_strategies((f"{EXAMPLE}:SmaCross",), settings.strategy.params, settings)
    settings = _settings("strategy.params.SmaCross.bogus=1")
    with pytest.raises(StrategyError, match=r"strategy\.params\.SmaCross\.bogus: Extra inputs"):
        load_strategies((f"{EXAMPLE}:SmaCross",), settings.strategy.params, settings)


def test_parameters_for_a_strategy_that_is_not_running_are_refused() -> None:
    settings = _settings("strategy.params.Typo.x=1")
    with pytest.raises(StrategyError, match=r"strategy\.params\.Typo: no strategy of that name"):
        load_strategies((), settings.strategy.params, settings)


def test_two_strategies_need_two_names(tmp_path: Path) -> None:
    with pytest.raises(StrategyError, match="already named 'SmaCross'"):
        load_strategies((f"{EXAMPLE}:SmaCross", f"{EXAMPLE}:SmaCross"), {}, _settings())
    renamed = tmp_path / "fast.py"
    renamed.write_text(textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("sma_example", {str(EXAMPLE)!r})
        module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
        class FastCross(module.SmaCross):
            name = "FastCross"
    """))
    loaded = load_strategies((f"{EXAMPLE}:SmaCross", f"{renamed}:FastCross"), {}, _settings())
    assert [item.name for item in loaded] == ["SmaCross", "FastCross"]


def test_a_signal_refuses_what_would_make_a_bad_order() -> None:
    with pytest.raises(ValueError, match="sl_distance must be a finite price distance > 0"):
        Signal(Side.BUY, sl_distance=0.0, tp_distance=0.01, reason="x")
    with pytest.raises(ValueError, match="tp_distance"):
        Signal(Side.SELL, sl_distance=0.01, tp_distance=float("nan"), reason="x")
    with pytest.raises(TypeError, match=r"Signal\.side must be a Side"):
        Signal("BUY", sl_distance=0.01, tp_distance=0.02, reason="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confidence"):
        Signal(Side.BUY, 0.01, 0.02, "x", confidence=150)
