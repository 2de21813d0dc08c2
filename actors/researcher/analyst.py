"""The default Researcher: a deterministic bull-versus-bear analysis, with no network.

From the closed-bar facts of a candidate (:class:`~actors.strategy.signals.MarketFacts`) it
builds a bull case and a bear case, each a list of weighted facts: the SMA50 trend of each
timeframe (higher timeframes weigh more: the seed's "Trend > ML > Oscillators"), a trending
ADX for the side its DIs favour, RSI momentum or exhaustion, and in a range the Bollinger
band the price is pressing. The stronger case decides BUY or SELL; the confidence grows with
the gap between the cases and shrinks in a volatile market.

Then the Critic's lessons for the same symbol, regime and direction adjust it: every recent
losing lesson lowers the confidence, every winning one raises it a little, both capped. Below
the minimum confidence the answer is HOLD. The reason names the facts and lessons that decided.
:func:`finalise_decision` is shared with the LLM client, so a model's answer is held to the
same lessons and the same HOLD threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from messages.market import Side
from messages.research import Action, Lesson, MarketFacts, Regime, TradeOutcome

__all__ = [
    "Analysis",
    "AnalystParams",
    "Evidence",
    "LessonAdjustment",
    "analyse",
    "build_cases",
    "finalise_decision",
    "lesson_adjustment",
    "relevant_lessons",
]


@dataclass(frozen=True, slots=True)
class AnalystParams:
    trend_weights: dict[str, float] = field(
        default_factory=lambda: {"M5": 1.0, "H1": 1.5, "H4": 2.0}
    )
    trend_strength_weight: float = 1.0
    rsi_overbought: float = 70.0
    rsi_oversold: float = 30.0
    rsi_momentum_weight: float = 0.5
    rsi_extreme_weight: float = 1.0
    band_weight: float = 1.0
    # Evidence that counts as neither side: keeps one weak fact from meaning certainty.
    prior_weight: float = 1.5
    volatile_penalty: int = 15
    min_confidence: int = 50
    lesson_loss_penalty: int = 10
    lesson_max_penalty: int = 30
    lesson_win_bonus: int = 5
    lesson_max_bonus: int = 10
    lesson_recent: int = 10
    lesson_max_age_seconds: float = 30 * 86_400


@dataclass(frozen=True, slots=True)
class Evidence:
    fact: str
    weight: float


@dataclass(frozen=True, slots=True)
class LessonAdjustment:
    points: int
    losses: int
    wins: int
    summary: str


@dataclass(frozen=True, slots=True)
class Analysis:
    """The RESEARCH_RESULT payload (``symbol``, ``action``, ``confidence``, ``reason``) with its
    provenance: ``source`` is "rules" or the model's name, ``fallback`` why the model was not
    used (empty when it was, or when none was configured)."""

    symbol: str
    action: Action
    confidence: int
    reason: str
    regime: Regime
    bull_case: tuple[str, ...] = ()
    bear_case: tuple[str, ...] = ()
    source: str = "rules"
    fallback: str = ""
    lesson_points: int = 0
    lessons_used: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0


def build_cases(
    facts: MarketFacts, params: AnalystParams | None = None
) -> tuple[list[Evidence], list[Evidence]]:
    """(bull case, bear case) from the facts."""
    params = params or AnalystParams()
    bull: list[Evidence] = []
    bear: list[Evidence] = []
    for timeframe, trend in facts.trends.items():
        weight = params.trend_weights.get(timeframe, 1.0)
        if trend > 0:
            bull.append(Evidence(f"{timeframe} close above SMA50", weight))
        elif trend < 0:
            bear.append(Evidence(f"{timeframe} close below SMA50", weight))
    if facts.regime is Regime.TREND:
        side = bull if facts.plus_di > facts.minus_di else bear
        side.append(
            Evidence(
                f"ADX {facts.adx:.0f} trending (+DI {facts.plus_di:.0f} / −DI "
                f"{facts.minus_di:.0f})",
                params.trend_strength_weight,
            )
        )
    if facts.rsi >= params.rsi_overbought:
        bear.append(Evidence(f"RSI {facts.rsi:.0f} overbought", params.rsi_extreme_weight))
    elif facts.rsi <= params.rsi_oversold:
        bull.append(Evidence(f"RSI {facts.rsi:.0f} oversold", params.rsi_extreme_weight))
    elif facts.rsi > 50.0:
        bull.append(Evidence(f"RSI {facts.rsi:.0f} momentum up", params.rsi_momentum_weight))
    elif facts.rsi < 50.0:
        bear.append(Evidence(f"RSI {facts.rsi:.0f} momentum down", params.rsi_momentum_weight))
    if facts.regime is Regime.RANGE:
        if facts.close >= facts.bollinger_upper:
            bear.append(
                Evidence("close at the upper Bollinger band in a range", params.band_weight)
            )
        elif facts.close <= facts.bollinger_lower:
            bull.append(
                Evidence("close at the lower Bollinger band in a range", params.band_weight)
            )
    return bull, bear


def relevant_lessons(
    lessons: Sequence[Lesson],
    symbol: str,
    regime: Regime,
    direction: Side,
    now: float | None,
    params: AnalystParams | None = None,
) -> list[Lesson]:
    """The most recent lessons about the same symbol, regime and direction."""
    params = params or AnalystParams()
    matching = [
        lesson
        for lesson in lessons
        if lesson.symbol == symbol
        and lesson.regime is regime
        and lesson.direction is direction
        and (
            now is None
            or lesson.created_at is None
            or now - lesson.created_at <= params.lesson_max_age_seconds
        )
    ]
    matching.sort(key=lambda lesson: lesson.created_at or 0.0)
    return matching[-params.lesson_recent :]


def lesson_adjustment(lessons: Sequence[Lesson], params: AnalystParams) -> LessonAdjustment:
    losses = [lesson for lesson in lessons if lesson.outcome is TradeOutcome.LOSS]
    wins = [lesson for lesson in lessons if lesson.outcome is TradeOutcome.WIN]
    penalty = min(len(losses) * params.lesson_loss_penalty, params.lesson_max_penalty)
    bonus = min(len(wins) * params.lesson_win_bonus, params.lesson_max_bonus)
    summary = ""
    if losses or wins:
        latest = (losses or wins)[-1]
        summary = (
            f"lessons {bonus - penalty:+d} ({len(losses)} losing, {len(wins)} winning "
            f"past {latest.direction.value} trades on {latest.symbol} in "
            f"{latest.regime.value.lower() if latest.regime else 'this market'}; "
            f"last advice: {latest.advice})"
        )
    return LessonAdjustment(bonus - penalty, len(losses), len(wins), summary)


def _case_text(case: Sequence[Evidence]) -> str:
    ordered = sorted(case, key=lambda evidence: -evidence.weight)
    return ", ".join(evidence.fact for evidence in ordered) or "nothing"


def finalise_decision(
    facts: MarketFacts,
    action: Action,
    raw_confidence: float,
    bull_case: Sequence[str],
    bear_case: Sequence[str],
    lessons: Sequence[Lesson],
    now: float | None,
    explanation: str,
    params: AnalystParams | None = None,
    source: str = "rules",
) -> Analysis:
    """Apply the volatility penalty, the lessons and the HOLD threshold to a proposed action."""
    params = params or AnalystParams()
    confidence = float(raw_confidence)
    notes = [explanation]
    adjustment = LessonAdjustment(0, 0, 0, "")
    used: list[Lesson] = []
    direction = action.direction
    if direction is not None:
        if facts.regime is Regime.VOLATILE:
            confidence -= params.volatile_penalty
            notes.append(f"volatile market −{params.volatile_penalty}")
        used = relevant_lessons(lessons, facts.symbol, facts.regime, direction, now, params)
        adjustment = lesson_adjustment(used, params)
        confidence += adjustment.points
        if adjustment.summary:
            notes.append(adjustment.summary)
    confidence_int = round(min(max(confidence, 0.0), 100.0))
    final_action = action
    if direction is not None and confidence_int < params.min_confidence:
        final_action = Action.HOLD
        notes.append(f"{action.value} confidence {confidence_int} below {params.min_confidence}")
    reason = f"{final_action.value} {confidence_int}%: " + "; ".join(notes)
    return Analysis(
        symbol=facts.symbol,
        action=final_action,
        confidence=confidence_int,
        reason=reason,
        regime=facts.regime,
        bull_case=tuple(bull_case),
        bear_case=tuple(bear_case),
        source=source,
        lesson_points=adjustment.points,
        lessons_used=len(used),
    )


def analyse(
    facts: MarketFacts,
    lessons: Sequence[Lesson] = (),
    now: float | None = None,
    proposed: Side | None = None,
    params: AnalystParams | None = None,
) -> Analysis:
    """BUY, SELL or HOLD with a 0–100 confidence and a reason that names what decided it."""
    params = params or AnalystParams()
    bull, bear = build_cases(facts, params)
    bull_weight = sum(evidence.weight for evidence in bull)
    bear_weight = sum(evidence.weight for evidence in bear)
    gap = abs(bull_weight - bear_weight)
    raw_confidence = 100.0 * gap / (bull_weight + bear_weight + params.prior_weight)
    if bull_weight > bear_weight:
        action = Action.BUY
    elif bear_weight > bull_weight:
        action = Action.SELL
    else:
        action = Action.HOLD
    explanation = (
        f"bull {bull_weight:.1f} ({_case_text(bull)}) vs bear {bear_weight:.1f} "
        f"({_case_text(bear)}), {facts.regime.value.lower()} market"
    )
    if proposed is not None and action.direction not in (None, proposed):
        explanation += f"; disagrees with the candidate's {proposed.value}"
    if action is Action.HOLD:
        raw_confidence = 0.0
    return finalise_decision(
        facts,
        action,
        raw_confidence,
        [evidence.fact for evidence in bull],
        [evidence.fact for evidence in bear],
        lessons,
        now,
        explanation,
        params,
    )
