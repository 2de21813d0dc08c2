"""The Critic's post-mortem of one closed trade: a score, a lesson and an analysis.

The score (0–10) compares the outcome with the plan, in four parts:

* result, 0–4: the R multiple (profit in units of the planned risk, entry to initial stop),
  −1 R or worse scoring 0 and +2 R or better scoring 4;
* discipline, 0–2: the exit was not beyond the stop (a stop that slipped or was moved away
  scores 0, and so does a trade without a stop);
* exit quality, 0–2: a winner's share of its best excursion that was kept; a loser's share of
  the planned risk it avoided;
* calibration, 0–2: 2 × (1 − Brier) of the Researcher's confidence against the outcome.

The lesson is keyed by symbol, market regime and direction, so that the Researcher can find it
the next time it considers the same kind of trade; unlike the seed's lessons, which nothing
ever read, it changes the next decision's confidence (see ``actors.researcher.analyst``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.risk.rules import is_missing
from messages.market import Side
from messages.research import Lesson, Regime, TradeOutcome

__all__ = [
    "ClosedTrade",
    "CriticParams",
    "Review",
    "review_trade",
]


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A closed trade and its plan. ``stop_loss`` and ``take_profit`` are the levels at entry;
    ``mae_price`` / ``mfe_price`` the worst and best prices seen while it was open; ``profit``
    the net result in the account currency."""

    ticket: int
    symbol: str
    direction: Side
    entry_price: float
    exit_price: float
    stop_loss: float | None
    take_profit: float | None
    volume: float
    profit: float
    mae_price: float | None = None
    mfe_price: float | None = None
    research_confidence: float | None = None
    research_action: str | None = None
    regime: Regime | None = None
    opened_at: float | None = None
    closed_at: float | None = None


@dataclass(frozen=True, slots=True)
class CriticParams:
    breakeven_band_r: float = 0.05
    stop_tolerance_r: float = 0.1
    high_confidence: float = 70.0
    giveback_mfe_r: float = 1.0
    low_capture: float = 0.5


@dataclass(frozen=True, slots=True)
class Review:
    """The CRITIC_REVIEW payload: ``symbol``, ``score``, ``lesson`` and ``analysis``, with the
    measurements behind them."""

    ticket: int
    symbol: str
    score: float
    lesson: Lesson
    analysis: str
    outcome: TradeOutcome
    r_multiple: float | None
    mae_r: float | None
    mfe_r: float | None
    stop_respected: bool | None
    target_reached: bool | None
    confidence_justified: bool | None
    components: dict[str, float] = field(default_factory=dict)


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(max(value, low), high)


@dataclass(frozen=True, slots=True)
class _Measures:
    risk: float | None
    r_multiple: float | None
    mae_r: float | None
    mfe_r: float | None
    stop_respected: bool | None
    target_reached: bool | None
    outcome: TradeOutcome


def _measure(trade: ClosedTrade, params: CriticParams) -> _Measures:
    sign = trade.direction.sign
    move = sign * (trade.exit_price - trade.entry_price)
    risk = None
    if not is_missing(trade.stop_loss):
        assert trade.stop_loss is not None
        planned = sign * (trade.entry_price - trade.stop_loss)
        risk = planned if planned > 0.0 else None

    def in_r(price: float | None) -> float | None:
        if risk is None or is_missing(price):
            return None
        assert price is not None
        return sign * (price - trade.entry_price) / risk

    r_multiple = move / risk if risk is not None else None
    stop_respected = None
    if risk is not None and r_multiple is not None:
        stop_respected = r_multiple >= -1.0 - params.stop_tolerance_r
    target_reached = None
    if not is_missing(trade.take_profit):
        assert trade.take_profit is not None
        best = trade.mfe_price if not is_missing(trade.mfe_price) else trade.exit_price
        assert best is not None
        target_reached = sign * (best - trade.take_profit) >= 0.0
    if r_multiple is not None:
        if abs(r_multiple) < params.breakeven_band_r:
            outcome = TradeOutcome.BREAKEVEN
        else:
            outcome = TradeOutcome.WIN if trade.profit > 0.0 else TradeOutcome.LOSS
    else:
        outcome = (
            TradeOutcome.WIN
            if trade.profit > 0.0
            else TradeOutcome.LOSS
            if trade.profit < 0.0
            else TradeOutcome.BREAKEVEN
        )
    return _Measures(
        risk,
        r_multiple,
        in_r(trade.mae_price),
        in_r(trade.mfe_price),
        stop_respected,
        target_reached,
        outcome,
    )


def _score(trade: ClosedTrade, m: _Measures) -> dict[str, float]:
    if m.r_multiple is not None:
        result = 4.0 * _clamp((m.r_multiple + 1.0) / 3.0)
    else:
        result = 2.0 if m.outcome is TradeOutcome.WIN else 0.0
    discipline = 2.0 if m.stop_respected else 0.0
    if m.outcome is TradeOutcome.WIN and m.mfe_r is not None and m.mfe_r > 0.0 and m.r_multiple:
        exit_quality = 2.0 * _clamp(m.r_multiple / m.mfe_r)
    elif m.outcome is TradeOutcome.LOSS and m.r_multiple is not None:
        exit_quality = 2.0 * _clamp(1.0 + m.r_multiple)
    else:
        exit_quality = 1.0
    calibration = 1.0
    if not is_missing(trade.research_confidence):
        assert trade.research_confidence is not None
        probability = _clamp(trade.research_confidence / 100.0)
        observed = {TradeOutcome.WIN: 1.0, TradeOutcome.LOSS: 0.0,
                    TradeOutcome.BREAKEVEN: 0.5}[m.outcome]
        calibration = 2.0 * (1.0 - (probability - observed) ** 2)
    return {
        "result": round(result, 2),
        "discipline": discipline,
        "exit_quality": round(exit_quality, 2),
        "calibration": round(calibration, 2),
    }


def _confidence_justified(trade: ClosedTrade, outcome: TradeOutcome) -> bool | None:
    if is_missing(trade.research_confidence) or outcome is TradeOutcome.BREAKEVEN:
        return None
    assert trade.research_confidence is not None
    return (trade.research_confidence >= 50.0) == (outcome is TradeOutcome.WIN)


def _advice(trade: ClosedTrade, m: _Measures, params: CriticParams) -> str:
    where = f"{trade.direction.value} {trade.symbol}" + (
        f" in a {trade.regime.value.lower()} market" if trade.regime else ""
    )
    if m.risk is None:
        return f"Never open a {where} without a stop loss on the losing side of the entry."
    if m.stop_respected is False:
        assert m.r_multiple is not None
        return (
            f"The exit was {-m.r_multiple:.2f}R against a 1R plan on a {where}: check the "
            "stop against the stops level and expected slippage before entering."
        )
    if m.outcome is TradeOutcome.LOSS:
        if m.mfe_r is not None and m.mfe_r >= params.giveback_mfe_r:
            return (
                f"The {where} was +{m.mfe_r:.2f}R before it lost: secure break-even and the "
                "partial close sooner."
            )
        confidence = trade.research_confidence
        if confidence is not None and confidence >= params.high_confidence:
            return (
                f"{confidence:.0f}% confidence was not justified for a {where}: require more "
                "confluence before this setup."
            )
        return f"A {where} went to its stop: wait for confirmation or skip this setup."
    if m.outcome is TradeOutcome.WIN:
        if m.target_reached:
            return f"The plan worked for a {where}: repeat the setup."
        if m.mfe_r and m.r_multiple is not None and m.r_multiple / m.mfe_r < params.low_capture:
            return (
                f"Only {m.r_multiple / m.mfe_r:.0%} of the +{m.mfe_r:.2f}R move was kept on a "
                f"{where}: trail closer once the trade is well in profit."
            )
        return f"A {where} won without reaching its target: keep the management as it is."
    return f"A {where} closed flat: the entry had no follow-through; look for momentum first."


def _analysis(trade: ClosedTrade, m: _Measures, score: float, justified: bool | None) -> str:
    def fmt(value: float | None, suffix: str = "R") -> str:
        return "n/a" if value is None else f"{value:+.2f}{suffix}"

    parts = [
        f"{trade.symbol} {trade.direction.value} {trade.volume:g} lots from {trade.entry_price} "
        f"to {trade.exit_price} (stop {trade.stop_loss}, target {trade.take_profit}) closed "
        f"{m.outcome.value.lower()} with {trade.profit:+.2f}, {fmt(m.r_multiple)}.",
        f"It went {fmt(m.mae_r)} against and {fmt(m.mfe_r)} in favour at the extremes.",
    ]
    if m.stop_respected is not None:
        parts.append("The stop held." if m.stop_respected else "The exit was beyond the stop.")
    if m.target_reached is not None:
        parts.append("The target was reached." if m.target_reached else "The target was missed.")
    if trade.research_confidence is not None:
        said = trade.research_action or "?"
        verdict = {True: "justified", False: "not justified", None: "not testable"}[justified]
        parts.append(
            f"Research said {said} at {trade.research_confidence:.0f}% confidence, {verdict}."
        )
        if said not in {trade.direction.value, "?"}:
            parts.append(f"The trade went {trade.direction.value} against that advice.")
    if trade.regime is not None:
        parts.append(f"Market: {trade.regime.value.lower()}.")
    parts.append(f"Score {score:.1f}/10.")
    return " ".join(parts)


def review_trade(
    trade: ClosedTrade, params: CriticParams | None = None, now: float | None = None
) -> Review:
    """Score one closed trade and write its lesson and analysis."""
    params = params or CriticParams()
    measures = _measure(trade, params)
    components = _score(trade, measures)
    score = round(_clamp(sum(components.values()), 0.0, 10.0), 1)
    justified = _confidence_justified(trade, measures.outcome)
    lesson = Lesson(
        ticket=trade.ticket,
        symbol=trade.symbol,
        regime=trade.regime,
        direction=trade.direction,
        outcome=measures.outcome,
        r_multiple=measures.r_multiple,
        score=score,
        advice=_advice(trade, measures, params),
        created_at=now if now is not None else trade.closed_at,
    )
    return Review(
        ticket=trade.ticket,
        symbol=trade.symbol,
        score=score,
        lesson=lesson,
        analysis=_analysis(trade, measures, score, justified),
        outcome=measures.outcome,
        r_multiple=measures.r_multiple,
        mae_r=measures.mae_r,
        mfe_r=measures.mfe_r,
        stop_respected=measures.stop_respected,
        target_reached=measures.target_reached,
        confidence_justified=justified,
        components=components,
    )
