"""The supervision rules: which children restart, intensity, backoff."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from actors.runtime.restart_policy import (
    ChildSpec,
    Intensity,
    backoff_delay,
    children_to_restart,
    should_restart,
)

ORDER = ["a", "b", "c", "d"]


def test_strategies_pick_the_erlang_sets() -> None:
    assert children_to_restart("one_for_one", ORDER, "b") == ["b"]
    assert children_to_restart("rest_for_one", ORDER, "b") == ["b", "c", "d"]
    assert children_to_restart("one_for_all", ORDER, "b") == ORDER


def test_restart_types() -> None:
    for failed in (True, False):
        assert should_restart(ChildSpec("x", "m.X", "X", restart="permanent"), failed)
        assert not should_restart(ChildSpec("x", "m.X", "X", restart="temporary"), failed)
    assert should_restart(ChildSpec("x", "m.X", "X", restart="transient"), True)
    assert not should_restart(ChildSpec("x", "m.X", "X", restart="transient"), False)


def test_intensity_allows_max_restarts_within_the_period_then_refuses() -> None:
    intensity = Intensity(max_restarts=5, period_s=30.0)
    assert all(intensity.record(100.0 + i) for i in range(5))
    assert not intensity.record(105.0)


def test_intensity_forgets_restarts_older_than_the_period() -> None:
    intensity = Intensity(max_restarts=2, period_s=10.0)
    assert intensity.record(0.0) and intensity.record(5.0)
    assert intensity.record(10.5)  # the one at 0.0 has left the window
    assert intensity.recent(10.5) == 2


def test_first_restart_is_immediate_and_later_ones_back_off_to_the_cap() -> None:
    rng = random.Random(1)
    assert backoff_delay(1, 0.05, 5.0, 0.2, rng) == 0.0
    assert backoff_delay(2, 0.05, 5.0, 0.0, rng) == 0.05
    assert backoff_delay(3, 0.05, 5.0, 0.0, rng) == 0.1
    assert backoff_delay(30, 0.05, 5.0, 0.0, rng) == 5.0


@given(st.integers(2, 50), st.floats(0.001, 1), st.floats(0.001, 60), st.floats(0, 1),
       st.integers(0, 2**32))
def test_jitter_stays_within_its_fraction(attempt: int, initial: float, cap: float,
                                          jitter: float, seed: int) -> None:
    base = min(cap, initial * 2 ** (attempt - 2))
    delay = backoff_delay(attempt, initial, cap, jitter, random.Random(seed))
    assert base * (1 - jitter) - 1e-12 <= delay <= base * (1 + jitter) + 1e-12
