"""The broker on the real daemon against a realistic simulated broker: one that rewrites order
comments and one without a stops level (ECN), where a position can open and close between two
polls. What a trader checks: nothing is sent twice, the decision chain is kept, and every
closed trade reaches the journal and the Critic exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_broker import (
    BROKER_SETTINGS,
    broker_do,
    order_id,
    place,
    set_faults,
    wait_broker,
)
from tests.support.daemon import Daemon
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def realistic_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("realism") / "data", *BROKER_SETTINGS,
                    "sim.comment_rewrite='replace'", "sim.stops_level_scale=0",
                    "broker.poll_interval_s=2")  # room for a trade to live between polls
    try:
        daemon.start()
        wait_broker(daemon)
        yield daemon
    finally:
        daemon.stop()


def test_a_rewritten_comment_and_a_lost_answer_are_resolved_without_a_resend(
        realistic_daemon: Daemon) -> None:
    daemon = realistic_daemon
    coid = order_id("C")
    set_faults(daemon, timeout_after_execution=True)
    try:
        reports = place(daemon, coid, decision_id="DEC-C")
    finally:
        set_faults(daemon, timeout_after_execution=False)
    assert [r["status"] for r in reports] == ["unknown", "done"], reports
    ticket = reports[-1]["ticket"]
    (again,) = place(daemon, coid, decision_id="DEC-C")
    assert (again["status"], again["ticket"]) == ("done", ticket)  # answered, not sent again
    rows = daemon.wait_until(lambda: [p for p in daemon.get("/api/positions")
                                      if p["ticket"] == ticket], what="the position")
    (row,) = rows
    (snapshot,) = broker_do(daemon, {"op": "snapshot"})
    (position,) = snapshot["positions"]  # one position: the order went out once
    assert position["ticket"] == ticket and position["comment"] != coid  # rewritten...
    assert row["decision_id"] == "DEC-C"  # ...and the decision chain is kept
    broker_do(daemon, {"op": "close_all", "op_id": f"flat-{coid}"})
    daemon.wait_until(lambda: not daemon.get("/api/positions"), what="flat")


@pytest.mark.parametrize("failed_reads", [0, 3])
async def test_a_take_profit_one_point_away_is_journaled_and_reviewed_once(
        realistic_daemon: Daemon, session: Any, failed_reads: int) -> None:
    """With ``failed_reads``, that many reads of the closed position's history fail on the
    terminal (a call failing in the middle of a poll): the trade is read again at the next
    polls instead of being lost, and still reported once."""
    daemon = realistic_daemon
    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()
    if failed_reads:
        await asyncio.to_thread(set_faults, daemon, position_history_timeouts=failed_reads)
    refusals = []
    for _ in range(10):  # the price may pass a target one point away before the order lands
        (data,) = await asyncio.to_thread(broker_do, daemon, {
            "op": "market_data", "symbols": ["EURUSD"], "timeframes": ["M1"], "bars": 5})
        tick, spec = data["ticks"]["EURUSD"], data["specs"]["EURUSD"]
        assert spec["trade_stops_level"] == 0  # ECN: a target may sit one point away
        take_profit = round(tick["bid"] + spec["point"], spec["digits"])
        (report,) = await asyncio.to_thread(place, daemon, order_id("T"), tp=take_profit,
                                            decision_id="DEC-T")
        if report["status"] == "done":
            break
        assert report["reason"] in ("invalid_stops", "STOPS_TOO_CLOSE"), report  # not filled
        refusals.append(report)
    assert report["status"] == "done", refusals
    ticket = report["ticket"]

    def reviewed() -> list[dict[str, Any]]:
        return [e for e in client.of_type("CRITIC_REVIEW") if e.get("ticket") == ticket]

    await client.wait_for(reviewed, timeout=120)
    (trade,) = [entry["record"] for entry in (await asyncio.to_thread(
        broker_do, daemon, {"op": "journal", "kind": "trade", "key": "EURUSD"}))[0]
        if entry["record"]["ticket"] == ticket]
    assert trade["exit_reason"] == "TP" and trade["decision_id"] == "DEC-T"
    faults = await asyncio.to_thread(set_faults, daemon)
    assert faults["position_history_timeouts"] == 0  # every failure was met and got past
    # Whatever the polls saw, one closed trade: once in the journal, once on the dashboard,
    # once reviewed (a poll later, still once).
    closed = [e for e in client.of_type("POSITION_CLOSED") if e["ticket"] == ticket]
    assert len(closed) == 1
    scanned = len(client.events)
    await client.wait_for(lambda: len(client.events) > scanned + 5, timeout=60)
    assert len(reviewed()) == 1
    await client.close()
