"""Sizing: risk percentage choice, the cap after multipliers, volume rounding, approval chain."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.risk.rules import RiskParams, money_at_sl
from actors.risk.sizing import (
    SizingInput,
    approve_order,
    kelly_fraction,
    quantise_down,
    quantise_up,
    size_position,
)
from actors.risk.state import CounterParams, RiskState, roll_broker_day
from messages.market import Side
from messages.risk import DenialCode
from tests.unit.risk.builders import NOW, closing, exposure, order, state_with, walk_bars

CLEAN = roll_broker_day(RiskState(), NOW, CounterParams())


def request(**overrides) -> SizingInput:
    """EURUSD, 10 000 balance, 20-pip stop: 1 lot loses 200 at the stop."""
    base = SizingInput(
        symbol="EURUSD",
        balance=10_000.0,
        equity=10_000.0,
        entry_price=1.08000,
        stop_loss=1.07800,
        tick_size=0.00001,
        tick_value_loss=1.0,
        volume_min=0.01,
        volume_max=100.0,
        volume_step=0.01,
        confidence=70.0,
    )
    return replace(base, **overrides)


def history(wins: int, win: float, losses: int, loss: float) -> RiskState:
    deals = [closing(i, win, NOW - 50_000 + i, symbol="EURUSD") for i in range(wins)]
    deals += [closing(900 + i, -loss, NOW - 40_000 + i, symbol="EURUSD") for i in range(losses)]
    return replace(state_with(deals), kill_switch_latched=False)


@pytest.mark.parametrize(
    ("confidence", "risk_pct", "volume"),
    [(85.0, 2.0, 1.0), (80.0, 2.0, 1.0), (70.0, 1.5, 0.75), (65.0, 1.5, 0.75), (40.0, 1.0, 0.5)],
)
def test_confidence_bands_without_history(confidence, risk_pct, volume):
    result = size_position(request(confidence=confidence), CLEAN, NOW)
    assert result.allowed and result.method == "confidence band"
    assert result.volume == pytest.approx(volume)
    assert result.risk_pct == pytest.approx(risk_pct)
    assert result.risk_money == pytest.approx(volume * 200.0)


def test_the_cap_applies_after_the_scaling_factor():
    # Seed bug: 2 % band × 2.0 scaling risked 4 %. Now the 2 % cap holds after multiplying.
    result = size_position(request(confidence=90.0, scaling_factor=2.0), CLEAN, NOW)
    assert result.risk_pct == pytest.approx(2.0) and result.volume == pytest.approx(1.0)
    smaller = size_position(request(confidence=40.0, scaling_factor=1.5), CLEAN, NOW)
    assert smaller.risk_pct == pytest.approx(1.5)
    reduced = size_position(request(confidence=90.0, scaling_factor=0.6), CLEAN, NOW)
    assert reduced.risk_pct == pytest.approx(1.2)


def test_kelly_fraction():
    # p = 0.5, b = 2: f = 0.5 − 0.5 / 2 = 0.25.
    assert kelly_fraction([20.0, -10.0] * 10) == pytest.approx(0.25)
    assert kelly_fraction([5.0] * 3) == 1.0
    assert kelly_fraction([-5.0] * 3) == -math.inf


def test_quarter_kelly_with_history_ignores_confidence():
    state = history(wins=10, win=20.0, losses=10, loss=10.0)  # f = 0.25 → 6.25 % → cap 2 %
    capped = size_position(request(confidence=None), state, NOW)
    assert capped.method == "kelly" and capped.risk_pct == pytest.approx(2.0)
    modest = history(wins=11, win=10.0, losses=9, loss=10.0)  # f = 0.1 → 2.5 % → cap
    assert size_position(request(), modest, NOW).risk_pct == pytest.approx(2.0)
    thin = history(wins=21, win=10.0, losses=19, loss=10.0)  # f = 0.05 → 1.25 % = 125
    result = size_position(request(), thin, NOW)
    assert result.volume == 0.62 and result.risk_money == pytest.approx(124.0)


def test_negative_kelly_denies():
    state = history(wins=5, win=10.0, losses=15, loss=10.0)
    result = size_position(request(), state, NOW)
    assert not result.allowed and result.verdict.code is DenialCode.NO_EDGE


def test_volume_is_rounded_down_to_the_step():
    # 1.5 % of 10 000 = 150 over a 23-pip stop (230/lot) = 0.652… → 0.65.
    result = size_position(request(stop_loss=1.07770), CLEAN, NOW)
    assert result.volume == 0.65 and result.risk_money <= 150.0


def test_minimum_volume_is_used_only_if_it_fits_the_cap():
    small = request(balance=100.0, equity=100.0)  # 1.5 % = 1.5; 0.01 lot loses 2.0; cap 2.0
    result = size_position(small, CLEAN, NOW)
    assert result.allowed and result.volume == 0.01 and result.risk_money == pytest.approx(2.0)
    tiny = request(balance=90.0, equity=90.0)  # cap 1.8 < 2.0
    denied = size_position(tiny, CLEAN, NOW)
    assert not denied.allowed and denied.verdict.code is DenialCode.VOLUME_BELOW_MIN


def test_the_smaller_of_balance_and_equity_is_the_capital():
    result = size_position(request(equity=5_000.0), CLEAN, NOW)
    assert result.volume == pytest.approx(0.37)  # 1.5 % of 5 000 = 75 → 0.375 → 0.37


def test_volume_max_clamps():
    result = size_position(request(stop_loss=1.07999, volume_max=5.0), CLEAN, NOW)
    assert result.volume == 5.0


def test_tail_risk_cap_matches_suffixed_names():
    gold = request(
        symbol="XAUUSDm",
        entry_price=2350.0,
        stop_loss=2348.0,
        tick_size=0.001,
        tick_value_loss=0.1,
    )
    # 1.5 % of 10 000 = 150, but XAUUSD(m) is capped at 30: 0.15 lot × 200 = 30.
    result = size_position(gold, CLEAN, NOW)
    assert result.cap_money == 30.0 and result.volume == pytest.approx(0.15)


def test_an_extra_cap_such_as_the_daily_budget_bounds_the_loss():
    result = size_position(request(max_risk_money=41.0), CLEAN, NOW)
    assert result.volume == 0.2 and result.risk_money <= 41.0
    spent = size_position(request(max_risk_money=0.0), CLEAN, NOW)
    assert spent.verdict.code is DenialCode.DAILY_LOSS_BUDGET


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("balance", None, DenialCode.MISSING_INPUT),
        ("tick_value_loss", math.nan, DenialCode.MISSING_INPUT),
        ("stop_loss", None, DenialCode.MISSING_INPUT),
        ("confidence", None, DenialCode.MISSING_INPUT),
        ("volume_step", 0.0, DenialCode.INVALID_INPUT),
        ("balance", -5.0, DenialCode.INVALID_INPUT),
        ("stop_loss", 1.08, DenialCode.INVALID_INPUT),
        ("confidence", 101.0, DenialCode.INVALID_INPUT),
        ("volume_max", 0.001, DenialCode.INVALID_INPUT),
    ],
)
def test_bad_inputs_deny(field, value, code):
    result = size_position(request(**{field: value}), CLEAN, NOW)
    assert not result.allowed and result.verdict.code is code and result.volume == 0.0


@pytest.mark.parametrize(
    ("value", "step", "down", "up"),
    [
        (0.29, 0.01, 0.29, 0.29),
        (0.299, 0.01, 0.29, 0.3),
        (1.0, 0.1, 1.0, 1.0),
        (7, 2, 6, 8),
        (2000.127, 0.01, 2000.12, 2000.13),
    ],
)
def test_quantise(value, step, down, up):
    assert quantise_down(value, step) == down
    assert quantise_up(value, step) == up


@settings(max_examples=400, deadline=None)
@given(
    balance=st.floats(1.0, 1e7),
    equity_ratio=st.floats(0.1, 2.0),
    entry_ticks=st.integers(1_000, 10_000_000),
    stop_ticks=st.integers(1, 100_000),
    direction=st.sampled_from([1, -1]),
    tick_size=st.sampled_from([1e-5, 1e-3, 0.01, 0.25, 1.0]),
    tick_value=st.floats(1e-3, 100.0),
    step=st.sampled_from([0.001, 0.01, 0.1, 1.0]),
    min_steps=st.integers(1, 20),
    max_steps=st.integers(1, 100_000),
    confidence=st.floats(0.0, 100.0),
    scaling=st.floats(0.1, 3.0),
    extra_cap=st.none() | st.floats(0.0, 1e5),
)
def test_property_loss_at_stop_never_exceeds_the_cap(
    balance,
    equity_ratio,
    entry_ticks,
    stop_ticks,
    direction,
    tick_size,
    tick_value,
    step,
    min_steps,
    max_steps,
    confidence,
    scaling,
    extra_cap,
):
    # Broker prices lie on the tick grid.
    entry = entry_ticks * tick_size
    stop = (entry_ticks - direction * min(stop_ticks, entry_ticks - 1)) * tick_size
    volume_min = min_steps * step
    volume_max = volume_min + max_steps * step
    sizing = request(
        balance=balance,
        equity=balance * equity_ratio,
        entry_price=entry,
        stop_loss=stop,
        tick_size=tick_size,
        tick_value_loss=tick_value,
        volume_min=volume_min,
        volume_max=volume_max,
        volume_step=step,
        confidence=confidence,
        scaling_factor=scaling,
        max_risk_money=extra_cap,
    )
    result = size_position(sizing, CLEAN, NOW)
    capital = min(balance, balance * equity_ratio)
    cap = capital * 0.02 if extra_cap is None else min(capital * 0.02, extra_cap)
    if not result.allowed:
        assert result.verdict.code in {
            DenialCode.VOLUME_BELOW_MIN,
            DenialCode.DAILY_LOSS_BUDGET,
        }
        assert result.volume == 0.0
        # Denied only when even the minimum volume would lose more than the cap.
        if result.verdict.code is DenialCode.VOLUME_BELOW_MIN:
            assert money_at_sl(volume_min, entry, stop, tick_size, tick_value) > cap
        return
    loss = money_at_sl(result.volume, entry, stop, tick_size, tick_value)
    assert loss <= cap
    assert loss == pytest.approx(result.risk_money)
    assert volume_min - 1e-9 <= result.volume <= volume_max + 1e-9
    steps = result.volume / step
    assert abs(steps - round(steps)) < 1e-6


# --- approve_order ----------------------------------------------------------------------------


def test_approve_order_sizes_inside_the_rules():
    approval = approve_order(order(), CLEAN)
    assert approval.allowed, approval.denial
    # 1.5 % of 10 000 = 150, but gold's tail-risk cap is 30: 0.15 lot over a 2.0 stop.
    assert approval.volume == pytest.approx(0.15)
    assert approval.sizing.risk_money <= 30.0
    assert approval.loss_budget == pytest.approx(100.0)


def test_approve_order_reports_the_first_rule_denial_before_sizing():
    approval = approve_order(order(market={"news_blackout": True}), CLEAN)
    assert not approval.allowed and approval.sizing is None
    assert approval.denial.code is DenialCode.NEWS_BLACKOUT


def test_approve_order_sizes_down_to_the_remaining_daily_budget():
    state = state_with([closing(1, -90.0, NOW - 60)])
    state = replace(state, consecutive_losses={})
    approval = approve_order(order(), state)
    assert approval.allowed and approval.loss_budget == pytest.approx(10.0)
    assert approval.sizing.risk_money <= 10.0 and approval.volume == pytest.approx(0.05)


def test_approve_order_denies_when_the_budget_is_spent_by_open_stops():
    open_risk = tuple(
        exposure(symbol, Side.BUY, volume=0.5, entry_price=1.08, stop_loss=1.078)
        for symbol in ("EURUSD", "GBPUSD")
    )  # 2 × 100 at risk
    bars = {name: order().m1_bars["XAUUSD"] for name in ("XAUUSD",)}
    approval = approve_order(
        order(market={"exposures": open_risk}, m1_bars=bars),
        CLEAN,
        RiskParams(max_correlation=1.0),
    )
    assert not approval.allowed
    # The correlation rule runs first and lacks bars for the open symbols.
    assert approval.denial.code is DenialCode.MISSING_INPUT
    with_bars = {**bars}
    with_bars.update({"EURUSD": walk_bars(5, start=1.08), "GBPUSD": walk_bars(6, start=1.27)})
    approval = approve_order(
        order(market={"exposures": open_risk}, m1_bars=with_bars),
        CLEAN,
        RiskParams(max_correlation=1.0, max_currency_exposure=10),
    )
    assert not approval.allowed
    assert approval.denial.code is DenialCode.DAILY_LOSS_BUDGET


def test_approve_order_refuses_open_positions_without_stops():
    approval = approve_order(
        order(
            market={"exposures": (exposure(stop_loss=None),)},
            m1_bars={"XAUUSD": order().m1_bars["XAUUSD"], "EURUSD": walk_bars(5, start=1.08)},
        ),
        CLEAN,
        RiskParams(max_correlation=1.0),
    )
    assert not approval.allowed and approval.denial.code is DenialCode.MISSING_INPUT
