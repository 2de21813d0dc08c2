"""A strategy's decisions through the RiskManager to the broker on the real daemon, with the
simulated market running in the past (``sim.start``), as a replay of history does: the counters
keep market time, so the trade interval is measured on the market's clock, not the wall's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.decision_probe import DECISION_PROBE, DecisionRun
from bench.order_client import probing_daemon

pytestmark = pytest.mark.integration


def test_the_trade_interval_runs_on_market_time_when_the_market_is_in_the_past(
        tmp_path: Path) -> None:
    interval_s = 900  # the default: 15 market minutes between two orders on one symbol
    with probing_daemon(tmp_path / "data", f"risk.rules.min_trade_interval_seconds={interval_s}",
                        probe_class=DECISION_PROBE) as (client, broker, probe):
        result = client.run_probe(probe, DecisionRun(2, broker, client.address("risk")), 120)
    assert len(result.samples) == 1, result.failures  # the first decision filled
    [denial] = result.failures
    assert denial.startswith("denied TRADE_INTERVAL"), denial
    # Stamped with the wall clock, the first order would lie years ahead of the market, and
    # the second would be told to wait that long.
    wait = re.search(r"wait (-?\d+) s more", denial)
    assert wait is not None and 0 < int(wait.group(1)) <= interval_s, denial
