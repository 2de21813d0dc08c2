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



SPRING_SWITCH_2024 = 1_710_054_000  # Sunday 2024-03-10 07:00 UTC: the server goes to UTC+3
FRIDAY_CLOSE_UTC = 1_709_935_200  # Friday 2024-03-08 22:00 UTC (17:00 in New York)


def test_fridays_bars_keep_their_utc_times_after_the_dst_switch_the_broker_saw(
        tmp_path: Path) -> None:
    """The simulated server goes from UTC+2 to UTC+3 on the Sunday of the spring switch; the
    broker measures both (Bitcoin trades through the weekend). EURUSD's last bars are Friday's,
    stamped by the server at UTC+2: after the switch they keep their real UTC times in
    /api/bars (with today's offset alone they moved an hour early, so a window across the
    weekend had a one-hour hole, and Friday's close came an hour before New York's)."""
    settings = [s for s in BENCH_SETTINGS if not s.startswith("sim.start=")]
    daemon = Daemon(tmp_path / "data", *settings, f"sim.start={SPRING_SWITCH_2024 - 600}",
                    "sim.speed=30", "broker.poll_interval_s=0.5")

    def offset_and_bars() -> tuple[int, float, list[int]]:
        broker = daemon.get("/api/broker")
        bars = daemon.get("/api/bars?symbol=EURUSD&timeframe=M5&count=3")
        # The newest entry of the history: the offset the broker measured last, and by when.
        history = broker["server_offset_history"]
        return (broker["server_utc_offset_s"], history[-1][1] if history else 0.0,
                [bar["time"] for bar in bars])

    try:
        daemon.start()
        _, first_by, before = daemon.wait_until(
            lambda: (seen := offset_and_bars())[0] == 2 * 3600 and seen, 60, "UTC+2 measured")
        assert FRIDAY_CLOSE_UTC - 3600 < before[-1] < FRIDAY_CLOSE_UTC, before
        _, _, after = daemon.wait_until(
            lambda: ((seen := offset_and_bars())[0] == 3 * 3600 and seen[1] > first_by
                     and seen), 90, "the switch to UTC+3 measured")
        assert after == before
    finally:
        daemon.stop()
