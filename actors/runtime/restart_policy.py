"""Erlang/OTP supervision rules as pure functions: child specs, restart strategies, restart
intensity, and the backoff between attempts. The supervisor actor only applies them.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ChildSpec",
    "Intensity",
    "RestartType",
    "Strategy",
    "backoff_delay",
    "children_to_restart",
    "should_restart",
]

Strategy = Literal["one_for_one", "rest_for_one", "one_for_all"]
RestartType = Literal["permanent", "transient", "temporary"]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One child of a supervisor: its name, the actor class (an import path, so that the spec
    pickles), and when to restart it.

    ``permanent`` children are always restarted, ``transient`` ones only after a failure (not
    after a normal stop), ``temporary`` ones never.
    """

    name: str
    actor: str
    role: str
    restart: RestartType = "permanent"
    is_supervisor: bool = False


def should_restart(spec: ChildSpec, failed: bool) -> bool:
    if spec.restart == "permanent":
        return True
    if spec.restart == "transient":
        return failed
    return False


def children_to_restart(
    strategy: Strategy, order: Sequence[str], failed: str
) -> list[str]:
    """Which children, in start order, go down and come back up when ``failed`` fails."""
    if strategy == "one_for_one":
        return [failed]
    if strategy == "rest_for_one":
        return list(order[order.index(failed) :])
    return list(order)


class Intensity:
    """At most ``max_restarts`` restarts in any window of ``period_s`` seconds."""

    def __init__(self, max_restarts: int, period_s: float) -> None:
        self.max_restarts = max_restarts
        self.period_s = period_s
        self._times: deque[float] = deque()

    def record(self, now: float) -> bool:
        """Count a restart at ``now``; False when it exceeds the intensity (give up)."""
        self._times.append(now)
        while self._times and self._times[0] <= now - self.period_s:
            self._times.popleft()
        return len(self._times) <= self.max_restarts

    def recent(self, now: float) -> int:
        return sum(1 for moment in self._times if moment > now - self.period_s)


def backoff_delay(
    attempt: int,
    initial_s: float,
    max_s: float,
    jitter: float,
    rng: random.Random | None = None,
) -> float:
    """Delay before restart number ``attempt`` within the intensity window (1 = the first).

    The first restart is immediate: most failures are one-off, and a trader's dashboard should
    not wait. Later ones back off exponentially, capped, with ± ``jitter`` so that siblings that
    failed together do not come back in lockstep.
    """
    if attempt <= 1 or initial_s <= 0:
        return 0.0
    base = min(max_s, initial_s * 2 ** (attempt - 2))
    spread = base * jitter
    return max(0.0, base + (rng or random).uniform(-spread, spread))
