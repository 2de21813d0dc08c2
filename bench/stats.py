"""Percentiles and a one-line summary, shared by the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile", "summary"]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float], unit: str = "ms", scale: float = 1000.0) -> str:
    if not values:
        return "no samples"
    return (f"median {percentile(values, 0.5) * scale:.1f} {unit}, "
            f"p99 {percentile(values, 0.99) * scale:.1f} {unit}, n={len(values)}")
