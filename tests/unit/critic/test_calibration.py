"""Brier score, reliability bins and expected calibration error, by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.critic.calibration import brier_score, calibration_report, reliability_bins


def test_brier_by_hand():
    assert brier_score([100.0, 0.0], [True, False]) == 0.0
    assert brier_score([50.0, 50.0], [True, False]) == 0.25
    assert brier_score([0.0], [True]) == 1.0
    # (0.8 − 1)² = 0.04 and (0.6 − 0)² = 0.36: mean 0.20.
    assert brier_score([80.0, 60.0], [True, False]) == pytest.approx(0.2)


def test_reliability_bins_by_hand():
    confidences = [5.0, 15.0, 55.0, 58.0, 95.0, 100.0]
    outcomes = [False, False, True, False, True, True]
    bins = reliability_bins(confidences, outcomes, bins=10)
    assert len(bins) == 10
    assert (bins[0].count, bins[0].win_rate, bins[0].mean_confidence) == (1, 0.0, 5.0)
    assert (bins[5].count, bins[5].win_rate, bins[5].mean_confidence) == (2, 0.5, 56.5)
    assert bins[9].count == 2 and bins[9].win_rate == 1.0  # 100 falls in the last bin
    assert bins[3].count == 0 and bins[3].win_rate is None
    assert (bins[5].lower, bins[5].upper) == (50.0, 60.0)


def test_calibration_report_and_ece():
    confidences = [5.0, 15.0, 55.0, 58.0, 95.0, 100.0]
    outcomes = [False, False, True, False, True, True]
    report = calibration_report(confidences, outcomes, bins=10)
    # |0.05−0|·1 + |0.15−0|·1 + |0.565−0.5|·2 + |0.975−1|·2, over 6 decisions.
    expected = (0.05 + 0.15 + 2 * 0.065 + 2 * 0.025) / 6
    assert report.count == 6
    assert report.expected_calibration_error == pytest.approx(expected)
    assert report.brier == pytest.approx(brier_score(confidences, outcomes))


def test_no_decisions():
    report = calibration_report([], [])
    assert report.count == 0 and report.brier is None and report.expected_calibration_error is None
    with pytest.raises(ValueError):
        brier_score([], [])


@pytest.mark.parametrize(
    ("confidences", "outcomes"),
    [([50.0], []), ([101.0], [True]), ([-1.0], [False]), ([math.nan], [True])],
)
def test_bad_input_is_refused(confidences, outcomes):
    with pytest.raises(ValueError):
        calibration_report(confidences, outcomes)
    with pytest.raises(ValueError):
        reliability_bins([50.0], [True], bins=0)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 100.0), st.booleans()), min_size=1, max_size=200),
    st.integers(1, 20),
)
def test_property_bins_partition_the_decisions(pairs, bin_count):
    confidences = [c for c, _ in pairs]
    outcomes = [o for _, o in pairs]
    report = calibration_report(confidences, outcomes, bin_count)
    assert sum(entry.count for entry in report.bins) == len(pairs)
    assert 0.0 <= report.brier <= 1.0
    assert 0.0 <= report.expected_calibration_error <= 1.0
    for entry in report.bins:
        if entry.count:
            assert entry.lower <= entry.mean_confidence <= entry.upper
