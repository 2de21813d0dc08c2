"""Properties found with hypothesis: volume quantisation, P&L symmetry, group masks."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.broker.gateway import quantize_volume
from actors.broker.sim import constants as c
from actors.broker.sim.terminal import SimTerminal, group_matches
from messages.market import SymbolSpecRecord

_SPEC = SymbolSpecRecord(**{f.name: 0 for f in dataclasses.fields(SymbolSpecRecord)})

volumes = st.floats(min_value=0.0, max_value=2000.0, allow_nan=False)
steps = st.sampled_from(
    [(0.01, 0.01, 100.0), (0.1, 0.1, 50.0), (1.0, 1.0, 500.0), (0.01, 0.05, 20.0)]
)


@given(volume=volumes, grid=steps)
def test_quantized_volumes_never_grow_and_the_terminal_accepts_them(
    volume: float, grid: tuple[float, float, float]
) -> None:
    step, minimum, maximum = grid
    spec = dataclasses.replace(_SPEC, volume_step=step, volume_min=minimum, volume_max=maximum)
    quantized = quantize_volume(volume, spec)
    assert quantized <= volume + 1e-9
    if quantized:
        assert minimum - 1e-9 <= quantized <= maximum + 1e-9
        fake_spec = type("Spec", (), {"volume_min": minimum, "volume_max": maximum,
                                      "volume_step": step})()  # fmt: skip
        assert SimTerminal._volume_valid(fake_spec, quantized)  # type: ignore[arg-type]
        # Nothing on the grid lies between the result and the request.
        assert quantized + step > min(volume, maximum) - 1e-9
    else:
        assert volume < minimum + step or volume < minimum


@settings(max_examples=60, deadline=None)
@given(
    symbol=st.sampled_from(["EURUSD", "USDJPY", "GBPJPY", "XAUUSD", "GER40", "EURGBP"]),
    lots=st.integers(min_value=1, max_value=5000).map(lambda n: n / 100),
    move=st.floats(min_value=-0.05, max_value=0.05, allow_nan=False),
)
def test_profit_is_antisymmetric_between_buy_and_sell(
    mt5_module: Any, symbol: str, lots: float, move: float
) -> None:
    price = mt5_module.symbol_info_tick(symbol).bid
    close = round(price * (1 + move), mt5_module.symbol_info(symbol).digits)
    buy = mt5_module.order_calc_profit(c.ORDER_TYPE_BUY, symbol, lots, price, close)
    sell = mt5_module.order_calc_profit(c.ORDER_TYPE_SELL, symbol, lots, price, close)
    assert buy == -sell
    assert (buy > 0) == (close > price) or buy == 0


@given(names=st.lists(st.sampled_from(["EURUSD", "GBPUSD", "USDJPY", "EURJPY", "XAUUSD"]),
                      unique=True))  # fmt: skip
def test_group_masks_include_then_exclude(names: list[str]) -> None:
    assert group_matches("*", names) == names
    assert group_matches("*,!*EUR*", names) == [n for n in names if "EUR" not in n]
    assert group_matches("*USD*,!XAU*", names) == [
        n for n in names if "USD" in n and not n.startswith("XAU")
    ]
