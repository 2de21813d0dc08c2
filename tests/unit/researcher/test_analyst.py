"""The deterministic analyst: bull and bear cases, confidence, and the Critic's lessons."""

from __future__ import annotations

from dataclasses import replace

from actors.researcher.analyst import AnalystParams, analyse, build_cases
from messages.market import Side
from messages.research import Action, Regime, TradeOutcome
from tests.unit.researcher.builders import NOW, facts, lesson


def test_a_clear_uptrend_is_a_confident_buy_with_the_deciding_facts_named():
    result = analyse(facts(), now=NOW)
    assert result.action is Action.BUY
    # bull 1 + 1.5 + 2 + 1 + 0.5 = 6.0, bear 0: 100 × 6 / 7.5 = 80.
    assert result.confidence == 80
    assert result.source == "rules" and result.fallback == ""
    assert "H4 close above SMA50" in result.reason and "ADX 31 trending" in result.reason
    assert result.reason.startswith("BUY 80%: bull 6.0")
    assert result.bull_case[0] == "M5 close above SMA50"
    assert result.bear_case == ()


def test_a_downtrend_is_a_sell():
    down = facts(trends={"M5": -1, "H1": -1, "H4": -1}, plus_di=10.0, minus_di=30.0, rsi=38.0)
    result = analyse(down, now=NOW)
    assert result.action is Action.SELL and result.confidence == 80


def test_overbought_rsi_weighs_on_the_bull_case():
    calm = analyse(facts(), now=NOW).confidence
    stretched = analyse(facts(rsi=76.0), now=NOW)
    assert stretched.action is Action.BUY and stretched.confidence < calm
    assert "RSI 76 overbought" in stretched.bear_case


def test_bollinger_extremes_count_only_in_a_range():
    ranging = facts(regime=Regime.RANGE, trends={"M5": 0, "H1": 0, "H4": 0}, close=2341.0, rsi=45.0)
    bull, _ = build_cases(replace(ranging, close=2339.0))
    assert "close at the lower Bollinger band in a range" in [e.fact for e in bull]
    trending_bull, _ = build_cases(facts(close=2339.0))
    assert all("Bollinger" not in e.fact for e in trending_bull)
    assert analyse(ranging, now=NOW).action is Action.HOLD  # RSI 45 alone is too thin


def test_balanced_evidence_is_hold():
    balanced = facts(trends={"M5": 1, "H1": -1, "H4": 0}, regime=Regime.RANGE, rsi=50.0)
    # bull 1.0 (M5) vs bear 1.5 (H1): SELL at 100 × 0.5 / 4 = 12.5 %, below 50 → HOLD.
    result = analyse(balanced, now=NOW)
    assert result.action is Action.HOLD
    assert "SELL confidence 12 below 50" in result.reason


def test_a_volatile_market_lowers_confidence():
    result = analyse(facts(regime=Regime.VOLATILE), now=NOW)
    # No ADX point outside a trend: bull 5.0 → 100 × 5 / 6.5 = 76.9, −15 → 62.
    assert result.confidence == 62 and "volatile market −15" in result.reason


def test_a_losing_lesson_lowers_the_next_similar_decision():
    before = analyse(facts(), now=NOW)
    after = analyse(facts(), [lesson(TradeOutcome.LOSS)], now=NOW)
    assert after.confidence == before.confidence - 10
    assert after.lesson_points == -10 and after.lessons_used == 1
    assert "1 losing" in after.reason and "secure break-even sooner" in after.reason


def test_repeated_losses_can_turn_a_buy_into_hold():
    losses = [lesson(TradeOutcome.LOSS, ticket=i, created_at=NOW - 100 * i) for i in range(5)]
    result = analyse(facts(rsi=76.0), losses, now=NOW)
    assert result.lesson_points == -30  # capped
    assert result.action is Action.HOLD


def test_winning_lessons_raise_confidence_a_little():
    wins = [lesson(TradeOutcome.WIN, ticket=i) for i in range(4)]
    result = analyse(facts(rsi=76.0), wins, now=NOW)
    assert result.lesson_points == 10
    assert result.confidence == analyse(facts(rsi=76.0), now=NOW).confidence + 10


def test_lessons_about_other_situations_are_ignored():
    unrelated = [
        lesson(TradeOutcome.LOSS, symbol="EURUSD"),
        lesson(TradeOutcome.LOSS, regime=Regime.RANGE),
        lesson(TradeOutcome.LOSS, direction=Side.SELL),
        lesson(TradeOutcome.LOSS, created_at=NOW - 40 * 86_400),  # too old
    ]
    result = analyse(facts(), unrelated, now=NOW)
    assert result.lessons_used == 0 and result.confidence == 80


def test_only_the_most_recent_lessons_count():
    params = AnalystParams(lesson_recent=2, lesson_max_penalty=100)
    old_losses = [lesson(TradeOutcome.LOSS, ticket=i, created_at=NOW - 5000 + i) for i in range(3)]
    recent_wins = [lesson(TradeOutcome.WIN, ticket=10 + i, created_at=NOW - 10 + i)
                   for i in range(2)]
    result = analyse(facts(), old_losses + recent_wins, now=NOW, params=params)
    assert result.lesson_points == 10 and result.lessons_used == 2


def test_disagreement_with_the_candidate_is_stated():
    result = analyse(facts(), now=NOW, proposed=Side.SELL)
    assert result.action is Action.BUY
    assert "disagrees with the candidate's SELL" in result.reason
