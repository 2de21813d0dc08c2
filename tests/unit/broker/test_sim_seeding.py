"""The simulated market's seeding (actors/broker/sim/seeding.py) is numpy's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from actors.broker.sim.seeding import MinuteSeeds, Restarter, first_below, pcg64_start, seeded


@pytest.mark.parametrize("words", [
    (0, 0, 4, 0), (7, 0xFFFF_FFFF, 4, 28_401_234), (2**32 - 1, 123, 1, 0), (1, 2, 3, 4),
    (2**32, 5, 3, 19_000), (2**40 + 3, 0, 2, 1),  # a seed of more than one word: numpy's path
])
def test_seeded_generators_are_numpys_default_rng(words: tuple[int, ...]) -> None:
    """The same state and the same draws of every kind the market makes."""
    ours, numpys = seeded(*words), np.random.default_rng(list(words))
    assert ours.bit_generator.state == numpys.bit_generator.state
    assert ours.integers(0, 300) == numpys.integers(0, 300)
    assert (ours.integers(5, 60_000, 40) == numpys.integers(5, 60_000, 40)).all()
    assert (ours.choice(np.arange(1, 30), 2, replace=False)
            == numpys.choice(np.arange(1, 30), 2, replace=False)).all()
    assert (ours.standard_normal(9) == numpys.standard_normal(9)).all()
    assert (ours.poisson(3.0, 9) == numpys.poisson(3.0, 9)).all()


def test_a_minutes_generator_is_numpys_after_its_first_draw() -> None:
    """MinuteSeeds and pcg64_start give numpy's seeded state, first_below its first
    integers(0, bound) and the state after it, and the Restarter the generator that goes on
    from there: every later draw (32- and 64-bit ones, numpy's choice) is numpy's."""
    rng = np.random.default_rng(11)
    restarter = Restarter()
    checked = 0
    for a, b, c in rng.integers(0, 2**32, (60, 3)).tolist():
        seeds = MinuteSeeds(a, b, c)
        for v in [0, 2**32 - 1, *rng.integers(0, 2**32, 25).tolist()]:
            numpys = np.random.default_rng([a, b, c, v])
            words = seeds.words(v)
            assert words == tuple(int(w) for w in
                                  np.random.SeedSequence([a, b, c, v]).generate_state(4, np.uint64))
            state, inc = pcg64_start(words)
            assert numpys.bit_generator.state["state"] == {"state": state, "inc": inc}
            bound = int(rng.choice([300, 2, 60_000, 2**31 + 12_345]))
            drawn = first_below(state, inc, bound)
            want = int(numpys.integers(0, bound))
            if drawn is None:  # Lemire's rejection: left to numpy
                continue
            first, after, kept = drawn
            assert first == want
            assert numpys.bit_generator.state == {
                "bit_generator": "PCG64", "state": {"state": after, "inc": inc},
                "has_uint32": 1, "uinteger": kept}
            ours = restarter.generator(after, inc, kept)
            assert (ours.integers(101, 60_000, 7) == numpys.integers(101, 60_000, 7)).all()
            assert (ours.choice(40, 2, replace=False)
                    == numpys.choice(40, 2, replace=False)).all()
            assert (ours.standard_normal(5) == numpys.standard_normal(5)).all()
            assert ours.integers(0, 9) == numpys.integers(0, 9)
            checked += 1
    assert checked > 1000


def test_a_rejected_first_draw_is_left_to_numpy() -> None:
    """With a bound just above 2**31 Lemire's method rejects about half the draws: first_below
    says so (None) rather than guess, and never gives a value numpy would not."""
    rng = np.random.default_rng(5)
    rejected = 0
    for v in rng.integers(0, 2**32, 400).tolist():
        words = MinuteSeeds(1, 2, 3).words(v)
        drawn = first_below(*pcg64_start(words), 2**31 + 1)
        if drawn is None:
            rejected += 1
        else:
            assert drawn[0] == int(np.random.default_rng([1, 2, 3, v]).integers(0, 2**31 + 1))
    assert rejected > 0


def test_words_outside_one_seed_word_are_refused() -> None:
    with pytest.raises(ValueError):
        MinuteSeeds(2**32, 0, 4)
    with pytest.raises(ValueError):
        MinuteSeeds(1, 2, 3).words(-1)
