"""The broker's clock on the real daemon in summer: the simulated server runs at UTC+3 from the
US daylight-saving switch (the "New York close" convention), the broker measures that offset,
and the newest bar that /api/bars and the Strategy use is the last closed one, in UTC."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.order_client import BENCH_SETTINGS
from tests.support.daemon import Daemon

pytestmark = pytest.mark.integration

SUMMER_START = 1_720_605_750  # Wednesday 2024-07-10 10:02:30 UTC, at sim.speed 1
LAST_CLOSED_M5 = 1_720_605_300  # 09:55 UTC: the bar 10:00 is still forming


def test_in_summer_the_server_is_at_utc_plus_3_and_the_last_bar_is_the_last_closed_one(
        tmp_path: Path) -> None:
    settings = [s for s in BENCH_SETTINGS if not s.startswith("sim.start=")]
    daemon = Daemon(tmp_path / "data", *settings, f"sim.start={SUMMER_START}")
    try:
        daemon.start()
        broker = daemon.wait_until(
            lambda: (b := daemon.get("/api/broker")).get("connected") and b, 60, "the broker")
        assert broker["server_utc_offset_s"] == 3 * 3600
        bars = daemon.get("/api/bars?symbol=EURUSD&timeframe=M5&count=3")
        # A start-up slower than two and a half minutes would move the answer on a bar.
        assert bars[-1]["time"] == LAST_CLOSED_M5, bars
        assert [b["time"] for b in bars] == [LAST_CLOSED_M5 - 600, LAST_CLOSED_M5 - 300,
                                             LAST_CLOSED_M5]
    finally:
        daemon.stop()
