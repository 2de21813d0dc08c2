"""numpy's seeded generators for the simulated market, bit for bit, at less of numpy's cost.

The market keys every random draw by four small ints (``default_rng([seed, crc, layer,
index])``: the seed, the symbol's CRC, the layer, the day or minute), and a quote at a minute
boundary needs two minutes' generators: the minute that ended (its last tick) and the one
that begins, only to learn when its first tick comes (one draw). numpy takes 30-50 µs to make
one, most of it in Python-level glue around a few hundred integer operations. This module
gives the same numbers:

* :func:`seeded` is ``default_rng(list(words))``, with the words handed over as one uint32
  array (an int in ``0..2**32-1`` is exactly one of SeedSequence's words, so the entropy is
  the same), for about 60% of the time;
* :class:`MinuteSeeds` is SeedSequence's hash (``mix_entropy`` and ``generate_state(4,
  uint64)``) for three fixed words and a fourth that varies, with the fixed words' share of
  the hash done once; :func:`pcg64_start` is PCG64's seeding from those words, and
  :func:`first_below` the Generator's first ``integers(0, bound)`` (Lemire's method on the
  low half of one 64-bit output, the high half kept for the next 32-bit draw), returning where
  the generator then stands;
* :class:`Restarter` puts one reused PCG64 there, so the rest of the minute's draws come from
  numpy itself, as from a generator made afresh.

The algorithms are numpy's (``bit_generator.pyx``, ``_pcg64.pyx``, ``pcg64.h``,
``distributions.c``); the unit tests compare each with numpy over thousands of seeds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["WORD", "MinuteSeeds", "Restarter", "first_below", "pcg64_start", "seeded"]

WORD = 0xFFFF_FFFF
"""The largest int that is one SeedSequence word."""

_M64 = (1 << 64) - 1
_M128 = (1 << 128) - 1
# SeedSequence's hash constants.
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
# PCG64's 128-bit multiplier (PCG_DEFAULT_MULTIPLIER_HIGH, _LOW).
_PCG_MULT = (2549297995355413924 << 64) | 4865540595714422341


def seeded(*words: int) -> np.random.Generator:
    """``np.random.default_rng(list(words))``: the same generator (other ints than
    ``0..2**32-1`` take numpy's own path)."""
    if all(0 <= word <= WORD for word in words):
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            np.array(words, dtype=np.uint32))))
    return np.random.default_rng(list(words))


def _constants(init: int, mult: int, count: int) -> tuple[tuple[int, int], ...]:
    """The hash constant before and after each of ``count`` steps (it is the same sequence
    whatever is hashed)."""
    out, value = [], init
    for _ in range(count):
        following = value * mult & WORD
        out.append((value, following))
        value = following
    return tuple(out)


_HASH_A = _constants(_INIT_A, _MULT_A, 16)  # 4 words in, then 12 cross-mixes
_HASH_B = _constants(_INIT_B, _MULT_B, 8)  # 8 uint32 words out


def _hashmix(value: int, step: int) -> int:
    before, after = _HASH_A[step]
    value = ((value ^ before) * after) & WORD
    return value ^ (value >> 16)


def _mix(x: int, y: int) -> int:
    result = (_MIX_L * x - _MIX_R * y) & WORD
    return result ^ (result >> 16)


class MinuteSeeds:
    """``SeedSequence([a, b, c, v]).generate_state(4, np.uint64)`` for fixed ``a, b, c`` and
    any ``v``, every word in ``0..2**32-1``. SeedSequence mixes each pool word into every
    other in a fixed order (pool size 4): what depends on ``a, b, c`` alone is done here."""

    def __init__(self, a: int, b: int, c: int) -> None:
        if not all(0 <= word <= WORD for word in (a, b, c)):
            raise ValueError("every word must be in 0..2**32-1")
        m0, m1, m2 = _hashmix(a, 0), _hashmix(b, 1), _hashmix(c, 2)
        m1 = _mix(m1, _hashmix(m0, 4))
        m2 = _mix(m2, _hashmix(m0, 5))
        into_3 = [_hashmix(m0, 6)]
        m0 = _mix(m0, _hashmix(m1, 7))
        m2 = _mix(m2, _hashmix(m1, 8))
        into_3.append(_hashmix(m1, 9))
        m0 = _mix(m0, _hashmix(m2, 10))
        m1 = _mix(m1, _hashmix(m2, 11))
        into_3.append(_hashmix(m2, 12))
        self._fixed = (m0, m1, m2, *into_3)

    def words(self, v: int) -> tuple[int, int, int, int]:
        if not 0 <= v <= WORD:
            raise ValueError("every word must be in 0..2**32-1")
        m0, m1, m2, first, second, third = self._fixed
        m3 = _mix(_mix(_mix(_hashmix(v, 3), first), second), third)
        pool = (_mix(m0, _hashmix(m3, 13)), _mix(m1, _hashmix(m3, 14)),
                _mix(m2, _hashmix(m3, 15)), m3)
        out = []
        for index, (before, after) in enumerate(_HASH_B):
            value = ((pool[index & 3] ^ before) * after) & WORD
            out.append(value ^ (value >> 16))
        # Two 32-bit words make one 64-bit word, the first its low half (numpy's view).
        return (out[0] | out[1] << 32, out[2] | out[3] << 32, out[4] | out[5] << 32,
                out[6] | out[7] << 32)


def pcg64_start(words: tuple[int, int, int, int]) -> tuple[int, int]:
    """PCG64's (state, increment) seeded from ``generate_state(4, uint64)``'s words
    (``pcg64_set_seed``: state 0, one step, add the seed, one step)."""
    initstate = (words[0] << 64) | words[1]
    inc = ((((words[2] << 64) | words[3]) << 1) | 1) & _M128
    return ((inc + initstate) * _PCG_MULT + inc) & _M128, inc


def first_below(state: int, inc: int, bound: int) -> tuple[int, int, int] | None:
    """A fresh Generator's first ``integers(0, bound)`` (default int64, one value) from a
    PCG64 at ``state``: the value, the state after it and the high 32 bits the bit generator
    keeps for its next 32-bit draw. None on Lemire's rejection path (one draw in about
    ``2**32 / bound``), which the caller leaves to numpy."""
    if not 1 < bound <= WORD:
        raise ValueError("bound must be in 2..2**32-1")
    state = (state * _PCG_MULT + inc) & _M128
    high, low = state >> 64, state & _M64
    xored = high ^ low
    rotation = high >> 58
    output = ((xored >> rotation) | (xored << ((-rotation) & 63))) & _M64
    product = (output & WORD) * bound
    if (product & WORD) < (WORD + 1) % bound:  # numpy's threshold: 2**32 mod bound
        return None
    return product >> 32, state, output >> 32


class Restarter:
    """One PCG64 and its Generator, put where :func:`first_below` left a fresh one. Not
    thread-safe (the market uses it under its lock), and a generator it gives is good until
    the next call."""

    def __init__(self) -> None:
        self._bits = np.random.PCG64(0)
        self._generator = np.random.Generator(self._bits)

    def generator(self, state: int, inc: int, kept: int) -> np.random.Generator:
        self._bits.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                            "has_uint32": 1, "uinteger": kept}
        return self._generator
