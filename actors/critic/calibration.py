"""How well the Researcher's confidence predicts outcomes.

Confidence is the Researcher's 0–100 number, read as the probability that the trade wins. The
Brier score is the mean squared gap between that probability and the outcome (1 for a win, 0
for a loss): 0 is perfect, 0.25 is what always saying 50 % earns. Reliability bins group the
decisions by confidence and compare each bin's mean confidence with its observed win rate; the
expected calibration error (ECE) is their gap, weighted by how many decisions each bin holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CalibrationReport",
    "ReliabilityBin",
    "brier_score",
    "calibration_report",
    "reliability_bins",
]


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """Decisions with confidence in [lower, upper) (the last bin includes 100)."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    win_rate: float | None


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    count: int
    brier: float | None
    expected_calibration_error: float | None
    bins: tuple[ReliabilityBin, ...]


def _probabilities(confidences: Sequence[float], outcomes: Sequence[bool]) -> list[float]:
    if len(confidences) != len(outcomes):
        raise ValueError(f"{len(confidences)} confidences but {len(outcomes)} outcomes")
    probabilities = []
    for confidence in confidences:
        if not math.isfinite(confidence) or not 0.0 <= confidence <= 100.0:
            raise ValueError(f"confidence must be within 0–100, got {confidence!r}")
        probabilities.append(confidence / 100.0)
    return probabilities


def brier_score(confidences: Sequence[float], outcomes: Sequence[bool]) -> float:
    """Mean of (confidence/100 − won)²; raises ValueError on no data."""
    probabilities = _probabilities(confidences, outcomes)
    if not probabilities:
        raise ValueError("the Brier score of no decisions is undefined")
    return sum(
        (p - (1.0 if won else 0.0)) ** 2 for p, won in zip(probabilities, outcomes, strict=True)
    ) / len(probabilities)


def reliability_bins(
    confidences: Sequence[float], outcomes: Sequence[bool], bins: int = 10
) -> tuple[ReliabilityBin, ...]:
    """``bins`` equal-width confidence bins over 0–100 with their counts and win rates."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    _probabilities(confidences, outcomes)
    width = 100.0 / bins
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for confidence, won in zip(confidences, outcomes, strict=True):
        index = min(int(confidence // width), bins - 1)
        members[index].append((confidence, bool(won)))
    result = []
    for index, group in enumerate(members):
        lower, upper = index * width, (index + 1) * width
        if not group:
            result.append(ReliabilityBin(lower, upper, 0, None, None))
            continue
        mean = sum(confidence for confidence, _ in group) / len(group)
        rate = sum(1 for _, won in group if won) / len(group)
        result.append(ReliabilityBin(lower, upper, len(group), mean, rate))
    return tuple(result)


def calibration_report(
    confidences: Sequence[float], outcomes: Sequence[bool], bins: int = 10
) -> CalibrationReport:
    """Brier score, reliability bins and ECE; ``brier`` and ECE are None with no decisions."""
    table = reliability_bins(confidences, outcomes, bins)
    count = len(confidences)
    if count == 0:
        return CalibrationReport(0, None, None, table)
    ece = sum(
        entry.count / count * abs(entry.mean_confidence / 100.0 - entry.win_rate)
        for entry in table
        if entry.count and entry.mean_confidence is not None and entry.win_rate is not None
    )
    return CalibrationReport(count, brier_score(confidences, outcomes), ece, table)
