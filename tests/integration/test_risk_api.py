"""Limits a user can see on the real daemon: GET /api/risk with what blocks trading and the
broker day's figures, and RISK_STATE when that changes; the command line's status."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime

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
    """Any loss beyond a stop stops the day; the market starts at 19:00 UTC, three hours
    before the server's midnight (UTC+2), at 360x. A blocked strategy sends no candidate and
    nobody asks GET /api/risk until it is over: the RiskManager's own wake at the day's start
    lifts the block, and trading goes on."""
    evening = datetime(2024, 12, 3, 19, 0, tzinfo=UTC).timestamp()
    daemon = make_daemon("sim.speed=360", f"sim.start={evening}",
                         "risk.rules.day_stop_beyond_stop_r=0.0001")
    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()

    def states() -> list[tuple[str, ...]]:
        return [tuple(e.get("blocked_by", ())) for e in client.of_type("RISK_STATE")]

    def lifted() -> bool:
        seen = states()
        stopped = next((i for i, b in enumerate(seen) if "DAY_STOPPED" in b), None)
        return stopped is not None and any(b == () for b in seen[stopped + 1:])

    await client.wait_for(lambda: any("DAY_STOPPED" in b for b in states()), timeout=120,
                          what=lambda: f"no day stop; RISK_STATE {states()}")
    await client.wait_for(lifted, timeout=120, what=lambda: f"still stopped: {states()}")
    risk = daemon.get("/api/risk")
    assert risk["day"]["broker_day"] == "2024-12-04", risk  # the day after the stopped one
    assert "DAY_STOPPED" not in risk["blocked_by"]
    await client.close()
