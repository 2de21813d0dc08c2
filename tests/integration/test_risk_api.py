"""Limits a user can see on the real daemon: GET /api/risk with what blocks trading and the
broker day's figures, and RISK_STATE when that changes; the command line's status."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tests.support.daemon import FAST_MARKET, REPO
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration


async def test_the_risk_standing_is_served_and_follows_a_pause(make_daemon, session) -> None:
    daemon = make_daemon(*FAST_MARKET, "strategy.scan_interval_s=2")
    assert daemon.request("GET", "/api/risk", token=None)[0] == 401
    # Once a scan has shown the account, the day's limit is 2 % of the 10,000 balance.
    risk = daemon.wait_until(lambda: (r := daemon.get("/api/risk"))["day"].get(
        "loss_limit") and r, timeout=60, what="the day's loss limit")
    assert risk["mode"] == "ACTIVE" and risk["kill_switch"] is False
    assert risk["day"]["loss_limit"] == pytest.approx(200.0, rel=0.05)
    assert risk["per_trade_risk_cap"] == {"pct_of_balance": 0.5}
    assert {"broker_day", "realised", "open_risk", "reserved", "remaining"} <= set(risk["day"])

    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()
    status, _ = daemon.request("POST", "/api/control/pause", {})
    assert status == 200
    paused = daemon.wait_until(lambda: "PAUSED" in daemon.get("/api/risk")["blocked_by"],
                               what="PAUSED in blocked_by")
    assert paused
    await client.wait_for(lambda: any("PAUSED" in e.get("blocked_by", [])
                                      for e in client.of_type("RISK_STATE")))
    # The scanner says why nothing is taken, instead of a denial per candidate.
    await client.wait_for(lambda: any(
        "RISK BLOCK" in reason for e in client.of_type("SCAN_SUMMARY")
        for reason in e["symbols"].values()), timeout=60)
    await client.close()

    shown = subprocess.run(daemon.command("status"), cwd=REPO, capture_output=True, text=True,
                           timeout=30, env=daemon.environment())
    assert shown.returncode == 0, shown.stderr
    assert "trading: mode PAUSED" in shown.stdout and "open positions:" in shown.stdout
    assert "blocked by PAUSED" in shown.stdout
    assert re.search(r"broker day: realised -?[\d.]+, open risk [\d.]+, reserved [\d.]+, "
                     r"loss limit [\d.]+, remaining [\d.]+", shown.stdout), shown.stdout


async def test_a_stopped_day_lifts_at_the_servers_midnight_with_nobody_asking(
        make_daemon, session) -> None:
    """Any loss beyond a stop stops the day; the market starts at 14:00 UTC, eight hours
    before the server's midnight (UTC+2), at 720x. A blocked strategy sends no candidate and
    nobody asks GET /api/risk until it is over: the RiskManager's own wake at the next day's
    start lifts the block, and trading goes on. Which day the loss stops depends on when the
    market lets a stop slip, so the day is read from the quotes' market time, not assumed."""
    speed, server_offset = 720, timedelta(hours=2)
    afternoon = datetime(2024, 12, 3, 14, 0, tzinfo=UTC).timestamp()
    daemon = make_daemon(f"sim.speed={speed}", f"sim.start={afternoon}",
                         "risk.rules.day_stop_beyond_stop_r=0.0001")
    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()

    def server_times_around(index: int) -> tuple[datetime, datetime]:
        """The server's clock just before and just after the ``index``-th event: the market
        times of the quotes on either side of it."""
        before = next(e for e in reversed(client.events[:index]) if e["type"] == "QUOTE")
        after = next(e for e in client.events[index:] if e["type"] == "QUOTE")

        def server_time(quote: dict[str, Any]) -> datetime:
            return datetime.fromtimestamp(quote["time"], UTC) + server_offset
        return server_time(before), server_time(after)

    def risk_states() -> list[tuple[int, tuple[str, ...]]]:
        return [(i, tuple(e.get("blocked_by", ()))) for i, e in enumerate(client.events)
                if e["type"] == "RISK_STATE"]

    def stopped_at() -> int | None:
        return next((i for i, blocked in risk_states() if "DAY_STOPPED" in blocked), None)

    def lifted_at() -> int | None:
        stop = stopped_at()
        return next((i for i, blocked in risk_states() if stop is not None and i > stop
                     and blocked == ()), None)

    await client.wait_for(lambda: stopped_at() is not None, timeout=90,
                          what=lambda: f"no day stop; RISK_STATE {risk_states()}")
    stop = stopped_at()
    assert stop is not None
    await client.wait_for(lambda: any(e["type"] == "QUOTE" for e in client.events[stop:]))
    stop_before, stop_after = server_times_around(stop)
    last_possible_lift = datetime.combine(stop_after.date() + timedelta(days=1), time(), UTC)
    await client.wait_for(lambda: lifted_at() is not None,
                          timeout=(last_possible_lift - stop_before).total_seconds() / speed + 60,
                          what=lambda: f"stopped near {stop_before}, still: {risk_states()}")
    lift = lifted_at()
    assert lift is not None
    risk = daemon.get("/api/risk")
    assert "DAY_STOPPED" not in risk["blocked_by"]
    new_day = date.fromisoformat(risk["day"]["broker_day"])
    # The stopped day was the one before, and the block lifted as it ended.
    assert stop_before.date() <= new_day - timedelta(days=1) <= stop_after.date(), risk
    await client.wait_for(lambda: any(e["type"] == "QUOTE" for e in client.events[lift:]))
    lift_before, lift_after = server_times_around(lift)
    midnight = datetime.combine(new_day, time(), UTC)
    assert lift_after >= midnight and lift_before < midnight + timedelta(hours=1), (
        stop_before, lift_before, lift_after)
    await client.close()
