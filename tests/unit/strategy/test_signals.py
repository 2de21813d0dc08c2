"""Candidate selection: every symbol gets a reason from the fixed vocabulary."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from actors.risk.rules import Verdict
from actors.strategy.indicators import TIMEFRAME_SECONDS
from actors.strategy.signals import (
    ScanResult,
    ScanStatus,
    SignalParams,
    SymbolMarket,
    rank_candidates,
    reason_for_denial,
    scan_summary,
    scan_symbol,
    status_of_reason,
    with_risk_denial,
)
from messages.market import Bars, Side
from messages.research import Regime
from messages.risk import DenialCode

# Wednesday 2024-07-03 09:50 UTC: London is open.
NOW = 1_720_000_200.0  # a multiple of 300 s, so a new M5 bar has just opened
SATURDAY = NOW + 3 * 86_400


def series(timeframe: str, count: int, drift: float, seed: int, noise: float = 1.0) -> Bars:
    """Bars ending with one still forming at NOW; the price drifts by ``drift`` per bar."""
    step = TIMEFRAME_SECONDS[timeframe]
    rng = np.random.default_rng(seed)
    last_open = NOW - NOW % step
    time = last_open - step * np.arange(count)[::-1]
    close = 2300.0 + np.cumsum(drift + rng.normal(0.0, noise, count))
    open_ = np.concatenate(([close[0]], close[:-1]))
    return Bars(time, open_, np.maximum(open_, close) + 0.4, np.minimum(open_, close) - 0.4, close)


def market(drift: float = 0.3, **overrides) -> SymbolMarket:
    bars = {
        "M5": series("M5", 300, drift, 1),
        "H1": series("H1", 120, drift, 2),
        "H4": series("H4", 120, drift, 3),
    }
    base = SymbolMarket("XAUUSDm", 2350.0, 2350.2, 0.001, bars, news_blackout=False)
    return replace(base, **overrides)


def test_an_uptrend_is_a_buy_candidate_and_its_reason_says_so():
    result = scan_symbol(market(0.3), NOW)
    assert result.is_candidate and result.direction is Side.BUY
    assert result.reason.startswith("CANDIDATE BUY: score")
    # Seed bug: candidates read "CANDIDATE (BUY)" and the dashboard showed them as SKIP.
    assert status_of_reason(result.reason) is ScanStatus.CANDIDATE
    assert result.facts.trends == {"M5": 1, "H1": 1, "H4": 1}
    assert result.sl_distance == pytest.approx(0.8 * result.facts.atr)
    assert result.tp_distance == pytest.approx(2.0 * result.facts.atr + 0.2)


def test_a_downtrend_is_a_sell_candidate():
    result = scan_symbol(market(-0.3), NOW)
    assert result.direction is Side.SELL
    assert result.reason.startswith("CANDIDATE SELL: ")
    assert result.facts.sell_score >= 3 and result.facts.buy_score == 0


def test_a_timeframe_against_the_trade_blocks_it():
    bars = dict(market(0.3).bars)
    bars["H4"] = series("H4", 120, -0.3, 3)
    result = scan_symbol(market(0.3, bars=bars), NOW)
    assert result.status is ScanStatus.NO_SETUP
    assert result.facts.buy_score == 0 and result.facts.sell_score == 0
    assert result.reason.startswith("NO SETUP: ")


def test_the_forming_bar_is_ignored():
    calm = market(0.3)
    spiked = dict(calm.bars)
    m5 = calm.bars["M5"]
    close, low = m5.close.copy(), m5.low.copy()
    close[-1] = low[-1] = 1.0  # the bar opened at NOW is still forming
    spiked["M5"] = Bars(m5.time, m5.open, m5.high, low, close)
    assert scan_symbol(replace(calm, bars=spiked), NOW) == scan_symbol(calm, NOW)


def test_dead_market():
    m5 = series("M5", 300, 0.3, 1)
    quiet = np.arange(300) >= 240  # the last five hours barely move
    close = np.where(quiet, m5.close[239], m5.close)
    dead = Bars(
        m5.time,
        close,
        np.where(quiet, close + 0.01, m5.high),
        np.where(quiet, close - 0.01, m5.low),
        close,
    )
    result = scan_symbol(market(0.3, bars={**market().bars, "M5": dead}), NOW)
    assert result.status is ScanStatus.LOW_VOLATILITY
    assert result.reason.startswith("LOW VOLATILITY: ATR")


def test_off_session_except_crypto():
    assert scan_symbol(market(), SATURDAY).status is ScanStatus.OFF_SESSION
    crypto = scan_symbol(market(symbol="BTCUSD", ask=2350.5), SATURDAY)
    assert crypto.status is not ScanStatus.OFF_SESSION
    tokyo_only = SignalParams(allowed_sessions=("Tokyo",))
    off = scan_symbol(market(), NOW + 6 * 3600, tokyo_only)
    assert off.reason == "OFF-SESSION: no session open (Tokyo)"


def test_news_blackout_and_unknown_news_block():
    blackout = scan_symbol(market(news_blackout=True, news_event="US CPI"), NOW)
    assert blackout.reason == "NEWS: US CPI"
    unknown = scan_symbol(market(news_blackout=None), NOW)
    assert unknown.status is ScanStatus.NEWS


def test_spread_and_missing_quotes():
    wide = scan_symbol(market(ask=2351.0), NOW)  # 1000 points on gold
    assert wide.status is ScanStatus.SPREAD and "1000 points" in wide.reason
    no_tick = scan_symbol(market(bid=None), NOW)
    assert no_tick.status is ScanStatus.ERROR and "bid" in no_tick.reason


def test_data_problems_are_errors():
    short = scan_symbol(market(bars={**market().bars, "M5": series("M5", 50, 0.3, 1)}), NOW)
    assert short.reason.startswith("ERROR: insufficient data: 49 closed M5 bars")
    no_h4 = {k: v for k, v in market().bars.items() if k != "H4"}
    assert "H4" in scan_symbol(market(bars=no_h4), NOW).reason
    fetch = scan_symbol(market(error="copy_rates_from_pos returned None"), NOW)
    assert fetch.reason == "ERROR: copy_rates_from_pos returned None"


def test_an_unexpected_failure_becomes_that_symbols_error():
    broken = market(bars={"M5": "not bars"})
    result = scan_symbol(broken, NOW)
    assert result.status is ScanStatus.ERROR and result.reason.startswith("ERROR: ")


def test_every_reason_maps_back_to_its_badge():
    for status in ScanStatus:
        if status is ScanStatus.CANDIDATE:
            continue
        assert status_of_reason(f"{status.value}: details mentioning spread and session") is status
    assert status_of_reason("CANDIDATE SELL: spread ok, session open") is ScanStatus.CANDIDATE
    assert status_of_reason("something else") is ScanStatus.ERROR


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (DenialCode.SPREAD_TOO_WIDE, ScanStatus.SPREAD),
        (DenialCode.NEWS_BLACKOUT, ScanStatus.NEWS),
        (DenialCode.KILL_SWITCH, ScanStatus.RISK_BLOCK),
        (DenialCode.MISSING_INPUT, ScanStatus.RISK_BLOCK),
    ],
)
def test_risk_denials_relabel_a_candidate(code, status):
    candidate = scan_symbol(market(), NOW)
    blocked = with_risk_denial(candidate, Verdict("rule", code, "why"))
    assert blocked.status is status and not blocked.is_candidate
    assert status_of_reason(blocked.reason) is status
    if status is ScanStatus.RISK_BLOCK:
        assert blocked.reason == f"RISK BLOCK: {code.value}: why"
    assert with_risk_denial(candidate, Verdict("rule")) is candidate
    assert reason_for_denial(Verdict("r", code, "why")) == blocked.reason


def test_ranking_and_summary():
    results = [
        ScanResult("B", ScanStatus.CANDIDATE, "CANDIDATE BUY: x", Side.BUY, score=3),
        ScanResult("A", ScanStatus.CANDIDATE, "CANDIDATE SELL: x", Side.SELL, score=3),
        ScanResult("C", ScanStatus.CANDIDATE, "CANDIDATE BUY: x", Side.BUY, score=4),
        ScanResult("D", ScanStatus.SPREAD, "SPREAD: x"),
    ]
    assert [r.symbol for r in rank_candidates(results)] == ["C", "A", "B"]
    assert scan_summary(results) == {r.symbol: r.reason for r in results}


def test_regime_is_reported_with_the_facts():
    result = scan_symbol(market(0.3), NOW)
    assert result.facts.regime in set(Regime)
    assert result.facts.regime.value.lower() in result.reason
