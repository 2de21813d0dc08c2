"""The hub's flush pacing (:class:`web.hub.FlushPacer`), on a clock the test gives it."""

from __future__ import annotations

import pytest

from web.hub import FlushPacer

INTERVAL = 0.010


def test_a_stream_one_interval_apart_with_jitter_is_flushed_as_each_batch_comes() -> None:
    """Batches 10.3 ms apart on average, some early: none waits (a fixed spacing of one
    interval would have held each early one until the interval's end)."""
    pacer = FlushPacer(INTERVAL)
    now = 0.0
    for gap in [0.0104, 0.0060, 0.0148, 0.0070, 0.0135, 0.0104, 0.0065, 0.0140] * 20:
        now += gap
        assert pacer.delay(now) == 0.0
        pacer.flushed(now)


def test_a_faster_stream_is_flushed_once_an_interval_after_a_burst_of_two() -> None:
    pacer = FlushPacer(INTERVAL)
    assert pacer.delay(1.0) == 0.0
    pacer.flushed(1.0)
    assert pacer.delay(1.0) == 0.0  # the burst's second token
    pacer.flushed(1.0)
    assert pacer.delay(1.0) == pytest.approx(INTERVAL)
    assert pacer.delay(1.004) == pytest.approx(INTERVAL - 0.004)
    flushes, now = 0, 1.0
    while now < 2.0:  # batches every millisecond for a second, each flush when allowed
        now += 0.001
        if pacer.delay(now) == 0.0:
            pacer.flushed(now)
            flushes += 1
    assert flushes <= 1.0 / INTERVAL + 1


def test_a_quiet_spell_refills_the_burst_and_no_more() -> None:
    pacer = FlushPacer(INTERVAL)
    for _ in range(2):
        pacer.flushed(5.0)
    assert pacer.delay(5.0) > 0
    assert pacer.delay(6.0) == 0.0  # a second later: the bucket is full again, never fuller
    for _ in range(2):
        pacer.flushed(6.0)
    assert pacer.delay(6.0) == pytest.approx(INTERVAL)


def test_no_interval_means_no_pacing() -> None:
    pacer = FlushPacer(0.0)
    for _ in range(10):
        assert pacer.delay(1.0) == 0.0
        pacer.flushed(1.0)
