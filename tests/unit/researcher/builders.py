"""Builders for research inputs: market facts and Critic lessons with sane defaults."""

from __future__ import annotations

from dataclasses import replace

from messages.market import Side
from messages.research import Lesson, MarketFacts, Regime, TradeOutcome

NOW = 1_720_000_000.0


def facts(**overrides) -> MarketFacts:
    """Gold in an uptrend on every timeframe, ADX 31 with +DI leading, RSI 62."""
    base = MarketFacts(
        symbol="XAUUSD",
        close=2350.0,
        atr=2.0,
        atr_mean=1.8,
        adx=31.0,
        plus_di=28.0,
        minus_di=12.0,
        rsi=62.0,
        bollinger_upper=2356.0,
        bollinger_middle=2348.0,
        bollinger_lower=2340.0,
        trends={"M5": 1, "H1": 1, "H4": 1},
        buy_score=4,
        sell_score=0,
        regime=Regime.TREND,
    )
    return replace(base, **overrides)


def lesson(outcome: TradeOutcome, **overrides) -> Lesson:
    base = Lesson(
        ticket=1,
        symbol="XAUUSD",
        regime=Regime.TREND,
        direction=Side.BUY,
        outcome=outcome,
        r_multiple=-1.0 if outcome is TradeOutcome.LOSS else 2.0,
        score=3.0,
        advice="secure break-even sooner",
        created_at=NOW - 3600,
    )
    return replace(base, **overrides)
