"""Ensemble trading on the simulated market, watched as a user would: through a WebSocket and
the REST journal. The market runs 120 times faster than the wall clock."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter

import pytest

from tests.support.daemon import FAST_MARKET, Daemon
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration

# The seed's automatic stops (a loss streak, the day's loss) end trading within a minute of a
# fast losing market; the test that needs trading to go on lifts them.
LIMITS_LIFTED = ("risk.kill_switch.max_loss_pct=0", "risk.rules.day_stop_beyond_stop_r=1e6",
                 "risk.rules.max_daily_loss=1000000",
                 "risk.rules.max_daily_loss_pct=0", "risk.rules.consecutive_loss_limit=1000")
SEED_EVENTS = {"SCAN_START", "SCAN_SUMMARY", "RESEARCH_START", "RESEARCH_RESULT",
               "TRADE_EXECUTION", "POSITION_UPDATE", "ACCOUNT_UPDATE", "CRITIC_REVIEW"}


def _seen(client: EventClient) -> set[str]:
    return {event["type"] for event in client.events}


async def _watch(session, daemon: Daemon) -> EventClient:
    return await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()


async def test_a_user_watches_every_step_of_a_trade(make_daemon, session) -> None:
    daemon = make_daemon(*FAST_MARKET)
    client = await _watch(session, daemon)
    await client.wait_for(lambda: _seen(client) >= SEED_EVENTS, timeout=240,
                          what=lambda: f"never seen {sorted(SEED_EVENTS - _seen(client))}; "
                                       f"risk {daemon.get('/api/risk')}; "
                                       f"the daemon's log ends {daemon.log()[-4000:]}")

    for summary in client.of_type("SCAN_SUMMARY"):
        reasons = list(summary["symbols"].values())
        assert reasons and summary["count"] == len(reasons)
        assert not any(reason.upper().startswith("SKIP") for reason in reasons)
        assert summary["candidates"] == sum(r.startswith("CANDIDATE") for r in reasons)
    execution = client.of_type("TRADE_EXECUTION")[0]
    assert execution["direction"] in ("BUY", "SELL") and execution["lot"] > 0
    research = [r for r in client.of_type("RESEARCH_RESULT")
                if r["decision_id"] == execution["decision_id"]]
    assert research and research[0]["action"] == execution["direction"]
    assert 0 <= research[0]["confidence"] <= 100 and research[0]["reason"]

    review = client.of_type("CRITIC_REVIEW")[0]
    assert 0 <= review["score"] <= 10 and review["lesson"] and review["analysis"]
    trades = daemon.wait_until(
        lambda: [t for t in daemon.get("/api/journal/trades") if t["review"]],
        what="a reviewed trade in the journal")
    trade = trades[0]
    chain = daemon.get(f"/api/journal/decisions/{trade['decision_id']}")["steps"]
    steps = [entry["record"].get("step") or entry["kind"] for entry in chain]
    for step in ("candidate", "pre_scan", "research", "approval", "order_done"):
        assert step in steps, steps
    assert {entry["kind"] for entry in chain} >= {"decision", "trade", "review"}
    daily = daemon.get("/api/journal/daily")
    assert daily["total"] >= 1 and daily["wins"] + daily["losses"] <= daily["total"]
    assert daemon.get("/api/journal/calibration")["count"] >= 1
    await client.close()


async def test_killing_trading_roles_mid_run_loses_nothing_and_sends_nothing_twice(
    make_daemon, session,
) -> None:
    daemon = make_daemon(*FAST_MARKET, *LIMITS_LIFTED)
    client = await _watch(session, daemon)
    await client.wait_for(lambda: client.of_type("TRADE_EXECUTION"), timeout=240)
    for role in ("strategy.Confluence", "researcher", "risk", "critic"):
        old = daemon.node(role)["pid"]
        os.kill(old, signal.SIGKILL)
        daemon.wait_until(lambda r=role, p=old: daemon.node(r)["pid"] != p
                          and daemon.node(r)["state"] == "running", what=f"{role} back")
        await asyncio.sleep(1.0)
    executed_before = len(client.of_type("TRADE_EXECUTION"))
    await client.wait_for(lambda: len(client.of_type("TRADE_EXECUTION")) > executed_before
                          and client.of_type("CRITIC_REVIEW"), timeout=240)
    await client.wait_for(lambda: len(client.of_type("CRITIC_REVIEW")) >= len(
        {e["ticket"] for e in client.of_type("POSITION_CLOSED")}), timeout=120)

    executions = client.of_type("TRADE_EXECUTION")
    tickets = Counter(e["ticket"] for e in executions)
    decisions = Counter(e["decision_id"] for e in executions)
    assert max(tickets.values()) == 1, f"a position was reported twice: {tickets}"
    assert max(decisions.values()) == 1, f"a decision was executed twice: {decisions}"
    reviews = Counter(e["ticket"] for e in client.of_type("CRITIC_REVIEW"))
    assert max(reviews.values()) == 1, f"a trade was reviewed twice: {reviews}"
    closed = {e["ticket"] for e in client.of_type("POSITION_CLOSED")}
    assert closed <= set(reviews), "a closed trade was never reviewed"
    # The risk counters kept every closing deal across the RiskManager's restart. They reach
    # SharedState on their own path (broker → RiskManager → SharedState), not the review's:
    # wait for them rather than read them once.

    def closing_deals() -> set[int]:
        state = daemon.get("/api/kv/risk.state")["value"]
        return {ticket for ticket, _, _, closing, _ in state["deals"] if closing}

    daemon.wait_until(lambda: len(closing_deals()) >= len(closed), timeout=60,
                      what=f"a counted closing deal for each of the {len(closed)} closed "
                           f"positions {sorted(closed)}")
    await client.close()
