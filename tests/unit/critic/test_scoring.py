"""The Critic's score, lesson and analysis of closed trades."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.critic.scoring import ClosedTrade, review_trade
from messages.market import Side
from messages.research import Lesson, Regime, TradeOutcome


def trade(**overrides) -> ClosedTrade:
    """A gold BUY from 2000 with a 2.0 stop (1R = 2.0) and a 4.0 target (2R)."""
    base = ClosedTrade(
        ticket=11,
        symbol="XAUUSD",
        direction=Side.BUY,
        entry_price=2000.0,
        exit_price=2004.0,
        stop_loss=1998.0,
        take_profit=2004.0,
        volume=0.1,
        profit=40.0,
        mae_price=1999.0,
        mfe_price=2004.0,
        research_confidence=80.0,
        research_action="BUY",
        regime=Regime.TREND,
        opened_at=1_000.0,
        closed_at=2_000.0,
    )
    return replace(base, **overrides)


def test_a_textbook_win_scores_high():
    review = review_trade(trade())
    assert review.outcome is TradeOutcome.WIN
    assert review.r_multiple == pytest.approx(2.0)
    assert review.mae_r == pytest.approx(-0.5) and review.mfe_r == pytest.approx(2.0)
    assert review.stop_respected and review.target_reached and review.confidence_justified
    # result 4 + discipline 2 + exit quality 2 + calibration 2 × (1 − 0.04) = 9.92 → 9.9
    assert review.components == {
        "result": 4.0,
        "discipline": 2.0,
        "exit_quality": 2.0,
        "calibration": 1.92,
    }
    assert review.score == 9.9
    assert review.lesson.advice.startswith("The plan worked")
    assert "Score 9.9/10." in review.analysis and "+2.00R" in review.analysis


def test_a_confident_loss_at_the_stop_scores_low_and_says_why():
    review = review_trade(
        trade(exit_price=1998.0, profit=-20.0, mae_price=1998.0, mfe_price=2000.3)
    )
    assert review.outcome is TradeOutcome.LOSS and review.r_multiple == pytest.approx(-1.0)
    assert review.confidence_justified is False
    # result 0, discipline 2, exit quality 0, calibration 2 × (1 − 0.64) = 0.72
    assert review.score == pytest.approx(2.7)
    assert "80% confidence was not justified" in review.lesson.advice
    assert review.lesson.symbol == "XAUUSD" and review.lesson.regime is Regime.TREND
    assert review.lesson.direction is Side.BUY and review.lesson.outcome is TradeOutcome.LOSS


def test_giving_back_a_big_favourable_move_is_the_lesson():
    review = review_trade(
        trade(exit_price=1998.0, profit=-20.0, mfe_price=2003.0, mae_price=1998.0)
    )
    assert review.mfe_r == pytest.approx(1.5)
    assert "+1.50R before it lost" in review.lesson.advice


def test_an_exit_beyond_the_stop_is_a_discipline_failure():
    review = review_trade(trade(exit_price=1997.0, profit=-30.0, mae_price=1997.0))
    assert review.stop_respected is False
    assert review.components["discipline"] == 0.0
    assert "1.50R against a 1R plan" in review.lesson.advice
    assert "The exit was beyond the stop." in review.analysis


def test_a_trade_without_a_stop_cannot_be_measured_in_r_and_is_faulted():
    review = review_trade(trade(stop_loss=None))
    assert review.r_multiple is None and review.stop_respected is None
    assert review.components["discipline"] == 0.0
    assert review.lesson.advice.startswith("Never open a BUY XAUUSD")


def test_a_winner_that_kept_little_of_its_move():
    review = review_trade(
        trade(exit_price=2001.0, profit=10.0, take_profit=2010.0, mfe_price=2006.0)
    )
    assert review.target_reached is False
    assert review.components["exit_quality"] == pytest.approx(2.0 * 0.5 / 3.0, abs=0.01)
    assert "Only 17% of the +3.00R move was kept" in review.lesson.advice


def test_a_short_trade_mirrors_the_long_one():
    review = review_trade(
        trade(
            direction=Side.SELL,
            exit_price=1996.0,
            stop_loss=2002.0,
            take_profit=1996.0,
            mae_price=2001.0,
            mfe_price=1996.0,
            research_action="SELL",
        )
    )
    assert review.r_multiple == pytest.approx(2.0) and review.mae_r == pytest.approx(-0.5)
    assert review.target_reached and review.outcome is TradeOutcome.WIN


def test_flat_trades_and_trades_against_advice():
    flat = review_trade(trade(exit_price=2000.05, profit=0.3))
    assert flat.outcome is TradeOutcome.BREAKEVEN and flat.confidence_justified is None
    against = review_trade(trade(research_action="HOLD", research_confidence=30.0))
    assert "against that advice" in against.analysis


def test_missing_research_and_excursions_are_neutral_not_errors():
    review = review_trade(
        trade(
            research_confidence=None,
            research_action=None,
            mae_price=None,
            mfe_price=None,
            regime=None,
        )
    )
    assert review.components["calibration"] == 1.0
    assert review.mae_r is None and review.confidence_justified is None


def test_lesson_round_trips_through_json():
    lesson = review_trade(trade(), now=5_000.0).lesson
    assert lesson.created_at == 5_000.0
    assert Lesson.from_record(json.loads(json.dumps(lesson.to_record()))) == lesson


prices = st.floats(1.0, 5_000.0)


@settings(max_examples=200, deadline=None)
@given(
    direction=st.sampled_from(list(Side)),
    entry=prices,
    exit_=prices,
    stop=st.none() | prices,
    target=st.none() | prices,
    mae=st.none() | prices,
    mfe=st.none() | prices,
    profit=st.floats(-1e4, 1e4),
    confidence=st.none() | st.floats(0.0, 100.0),
    regime=st.none() | st.sampled_from(list(Regime)),
)
def test_property_any_trade_gets_a_score_between_0_and_10(
    direction, entry, exit_, stop, target, mae, mfe, profit, confidence, regime
):
    review = review_trade(
        trade(
            direction=direction,
            entry_price=entry,
            exit_price=exit_,
            stop_loss=stop,
            take_profit=target,
            mae_price=mae,
            mfe_price=mfe,
            profit=profit,
            research_confidence=confidence,
            regime=regime,
        )
    )
    assert 0.0 <= review.score <= 10.0
    assert review.lesson.advice and review.analysis
