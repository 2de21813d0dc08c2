"""The MT5Broker across crashes and restarts, on the real daemon: SIGKILL between the
write-ahead and the terminal's answer, a daemon restart with market time running 60 times
faster, and a trade that closed while the daemon was down, reported once."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from actors.broker.gateway import open_gateway
from actors.broker.sim.config import SimConfig
from actors.broker.sim_clock import MARKET_TIME_FILE
from actors.runtime.clock import ManualClock
from bench.order_client import terminal_books
from tests.integration.test_broker import (
    BROKER_SETTINGS,
    broker_do,
    broker_status,
    order_id,
    place,
    set_faults,
    wait_broker,
)
from tests.support.daemon import Daemon

pytestmark = pytest.mark.integration


def intent_record(daemon: Daemon, coid: str) -> dict[str, Any] | None:
    status, body = daemon.request("GET", f"/api/kv/broker.intent.{coid}")
    return body["value"] if status == 200 else None


def kill_broker_and_wait_for_its_replacement(daemon: Daemon) -> int:
    old_pid = daemon.node("broker")["pid"]
    os.kill(old_pid, signal.SIGKILL)
    daemon.wait_until(lambda: (n := daemon.node("broker"))["pid"] not in (None, old_pid)
                      and n["state"] == "running", 30, "a new broker")
    return old_pid


def test_sigkill_between_write_ahead_and_answer_is_reconciled_and_never_resent(
    make_daemon: Any,
) -> None:
    daemon = make_daemon(*BROKER_SETTINGS, "broker.poll_interval_s=2")
    wait_broker(daemon)
    set_faults(daemon, call_delay_s=0.6)  # every terminal call now takes 0.6 s
    coid = order_id("K")
    replies: list[Any] = []
    sender = threading.Thread(target=lambda: replies.append(
        place(daemon, coid, timeout=8, wait_final=False)))
    sender.start()
    try:
        daemon.wait_until(lambda: (intent_record(daemon, coid) or {}).get("status") == "sending",
                          30, "the write-ahead record")
        # Orders first: the broker's own slow reads (polls, quotes) did not hold the order in
        # its mailbox past its requester's wait (actors/broker/pacing.py).
        assert sender.is_alive(), "the order was written ahead after its requester gave up"
        kill_broker_and_wait_for_its_replacement(daemon)
    finally:
        sender.join(60)
    assert replies == [[None]], "the killed broker answered nothing"
    # The replacement (its terminal has no call delay) resolves the intent from the books. Not
    # wait_broker: until the replacement publishes, the front still shows the dead broker's
    # "connected".
    record = daemon.wait_until(
        lambda: (r := intent_record(daemon, coid) or {}).get("status") in ("done", "rejected")
        and r, 30, "the replacement broker to resolve the intent")
    wait_broker(daemon)
    books = terminal_books(daemon.data_dir, coid)
    # Killed while the terminal held the order: executed or not, the record says which.
    assert books["entries"] == (1 if record["status"] == "done" else 0)
    if record["status"] == "rejected":
        assert record["reason"] == "not_executed"
    (retried,) = place(daemon, coid)
    assert retried is not None and retried["status"] == record["status"]
    assert retried["ticket"] == record["ticket"]
    assert terminal_books(daemon.data_dir, coid) == books  # nothing was sent again
    (fresh,) = place(daemon, order_id("K"))
    assert fresh is not None and fresh["status"] == "done"


def _market_time(data_dir: Path) -> float:
    return json.loads((data_dir / MARKET_TIME_FILE).read_text())["market_time"]


def test_a_restarted_daemon_keeps_market_time_positions_and_reports_a_close_once(
    make_daemon: Any, tmp_path: Path,
) -> None:
    data_dir = tmp_path / "kept"
    fast = (*BROKER_SETTINGS, "sim.speed=60")
    first = make_daemon(*fast, data_dir=data_dir)
    wait_broker(first)
    kept, closed_meanwhile = order_id("R"), order_id("R")
    (kept_report,) = place(first, kept, decision_id="DEC-KEPT")
    (gone_report,) = place(first, closed_meanwhile, side="SELL", decision_id="DEC-GONE")
    assert kept_report["status"] == gone_report["status"] == "done"
    first.wait_until(lambda: len(first.get("/api/positions")) == 2, what="both positions")
    (before,) = broker_do(first, {"op": "snapshot"})
    assert first.stop() == 0

    # While the daemon is down, the terminal closes one position (as a stop loss would).
    market_time = _market_time(data_dir)
    assert market_time >= before["server_time"]
    terminal = open_gateway("sim", sim_config=SimConfig(start=market_time), data_dir=data_dir,
                            clock=ManualClock(market_time))
    try:
        outcome = terminal.close_position(gone_report["ticket"], client_order_id="offline",
                                          magic=0)
        assert outcome.ok
    finally:
        terminal.close()

    second = make_daemon(*fast, data_dir=data_dir)
    wait_broker(second)
    (after,) = broker_do(second, {"op": "snapshot"})
    assert after["server_time"] >= market_time >= before["server_time"]  # never backwards
    assert [p["ticket"] for p in after["positions"]] == [kept_report["ticket"]]
    second.wait_until(lambda: [p["decision_id"] for p in second.get("/api/positions")] ==
                      ["DEC-KEPT"], what="the kept position with its decision")
    (journal,) = broker_do(second, {"op": "journal", "kind": "trade"})
    assert [(e["record"]["ticket"], e["decision_id"]) for e in journal] == [
        (gone_report["ticket"], "DEC-GONE")]
    closed_events = second.get("/api/events?types=POSITION_CLOSED")["events"]
    assert [e["ticket"] for e in closed_events] == [gone_report["ticket"]]
    (retry,) = place(second, kept)
    assert (retry["status"], retry["ticket"]) == ("done", kept_report["ticket"])
    assert second.stop() == 0

    third = make_daemon(*fast, data_dir=data_dir)
    wait_broker(third)
    (journal,) = broker_do(third, {"op": "journal", "kind": "trade"})
    assert len(journal) == 1  # reported once, across restarts
    assert len(third.get("/api/events?types=POSITION_CLOSED")["events"]) == 1
    assert terminal_books(data_dir, kept)["entries"] == 1


def test_a_hung_terminal_restarts_the_broker_which_then_serves_again(make_daemon: Any) -> None:
    daemon = make_daemon(*BROKER_SETTINGS, "broker.call_timeout_s=1")
    wait_broker(daemon)
    old_pid = daemon.node("broker")["pid"]
    set_faults(daemon, call_delay_s=600)  # every terminal call now hangs (the most allowed)
    daemon.wait_until(lambda: (n := daemon.node("broker"))["pid"] not in (None, old_pid)
                      and n["state"] == "running", 60, "the broker to be restarted")
    daemon.wait_until(lambda: daemon.get("/api/broker")["connected"], 30,
                      "the new broker to connect")
    status, bars = daemon.request("GET", "/api/bars?symbol=EURUSD&timeframe=M5&count=10")
    assert status == 200 and len(bars) == 10
    assert daemon.get("/api/sim/faults")["faults"]["call_delay_s"] == 0


def test_a_wrong_password_halts_with_auth_failed(make_daemon: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_TEST_ACCOUNT_PASSWORD", "the right one")
    monkeypatch.setenv("SIM_TEST_GIVEN_PASSWORD", "a wrong one")
    daemon = make_daemon(*BROKER_SETTINGS, "sim.password_env='SIM_TEST_ACCOUNT_PASSWORD'",
                         "broker.password_env='SIM_TEST_GIVEN_PASSWORD'",
                         until_healthy=False)  # it cannot get ready: it cannot log in
    status = wait_broker(daemon, "auth_failed")
    assert "Authorization failed" in status["detail"]
    assert "$SIM_TEST_GIVEN_PASSWORD" in status["detail"]
    code, body = daemon.request("POST", "/api/broker/reconnect")
    assert code == 202 and body["connected"] is False  # still the wrong password
    assert broker_status(daemon)["state"] == "auth_failed"
    assert daemon.get("/api/broker")["connected"] is False
