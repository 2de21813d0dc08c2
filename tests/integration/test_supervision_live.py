"""Supervision of the real daemon: SIGKILL each core actor (pid from /api/supervisors), see the
service work again, the restart in the tree and on a WebSocket, and nothing acknowledged lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3

import pytest

from tests.support.daemon import Daemon
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration
PORTABLE_TOO = True  # every test here runs with the Linux and the portable mechanisms


def _write_acknowledged(daemon: Daemon, prefix: str, count: int) -> dict[str, int]:
    written = {}
    for index in range(count):
        key = f"ops.{prefix}.{index}"
        status, _ = daemon.request("PUT", f"/api/kv/{key}", body={"value": index})
        assert status == 200
        written[key] = index
    return written


def _read_all(daemon: Daemon, prefix: str) -> dict[str, int]:
    return daemon.get(f"/api/kv?prefix=ops.{prefix}.")["items"]


@pytest.mark.parametrize("victim", ["shared_state", "broadcaster", "web_front"])
async def test_sigkill_of_a_core_actor_is_repaired_and_visible(make_daemon, session,
                                                               victim: str) -> None:
    daemon = make_daemon()
    written = _write_acknowledged(daemon, "before", 30)
    watcher = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()
    await watcher.wait_for(lambda: watcher.frames)
    old_pid = daemon.node(victim)["pid"]

    os.kill(old_pid, signal.SIGKILL)

    node = daemon.wait_until(
        lambda: (n := daemon.node(victim))["pid"] != old_pid and n["state"] == "running" and n,
        what=f"{victim} to be replaced")
    assert node["restarts"] == 1
    assert node["last_failure"]["reason"] == "process exited unexpectedly (killed or died)"
    assert daemon.tree()["state"] == "running"
    # The service works again, and what was acknowledged before the kill is all there.
    written.update(_write_acknowledged(daemon, "after", 5))
    assert {**_read_all(daemon, "before"), **_read_all(daemon, "after")} == written
    # The restart is an event that reaches WebSocket clients (a killed web front drops its
    # clients, so they resume with ?since= as the dashboard does).
    if victim == "web_front":
        await watcher.close()
        watcher = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}&since=0"
                                    ).connect()
    await watcher.wait_for(lambda: watcher.of_type("ACTOR_RESTARTED"))
    restarted = watcher.of_type("ACTOR_RESTARTED")[0]
    assert (restarted["name"], restarted["old_pid"], restarted["new_pid"], restarted["restarts"]
            ) == (victim, old_pid, node["pid"], 1)
    await watcher.close()


def test_a_request_in_flight_when_shared_state_dies_is_answered_by_its_replacement(
    make_daemon,
) -> None:
    daemon = make_daemon()
    for round_number in range(3):
        os.kill(daemon.node("shared_state")["pid"], signal.SIGKILL)
        status, body = daemon.request("PUT", f"/api/kv/ops.inflight.{round_number}",
                                      body={"value": round_number})
        assert status == 200, body
        daemon.wait_until(lambda r=round_number: daemon.node("shared_state")["restarts"] == r + 1
                          and daemon.node("shared_state")["state"] == "running")
    assert _read_all(daemon, "inflight") == {f"ops.inflight.{n}": n for n in range(3)}


async def test_seq_only_grows_across_a_broadcaster_restart(make_daemon, session) -> None:
    daemon = make_daemon()
    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()
    await asyncio.to_thread(daemon.produce, 200)
    os.kill(daemon.node("broadcaster")["pid"], signal.SIGKILL)
    daemon.wait_until(lambda: daemon.node("broadcaster")["restarts"] == 1
                      and daemon.node("broadcaster")["state"] == "running")
    await asyncio.to_thread(daemon.produce, 200)
    await client.wait_for(lambda: len(client.of_type("BENCH_TICK")) >= 400)
    seqs = [event["seq"] for event in client.events if "seq" in event]
    assert seqs == sorted(set(seqs)), "a seq was reused or went backwards"
    await client.close()


def test_a_restarted_daemon_continues_the_seq_and_keeps_shared_state(make_daemon,
                                                                     tmp_path) -> None:
    data_dir = tmp_path / "kept"
    first = make_daemon(data_dir=data_dir)
    first.produce(50)
    written = _write_acknowledged(first, "kept", 10)
    last_seq = first.get("/api/health")["last_seq"]
    assert first.stop() == 0
    second = make_daemon(data_dir=data_dir)
    assert second.get("/api/health")["last_seq"] >= last_seq
    assert _read_all(second, "kept") == written
    assert second.get("/api/state")["last_seq"] >= last_seq  # the snapshot was rebuilt
    second.produce(5)
    events = second.get(f"/api/events?since={last_seq}")["events"]
    seqs = [event["seq"] for event in events]
    # The new run's events (its actors announce themselves, then the 5 produced) carry on
    # from the old seq with no gap and no reuse.
    assert seqs == list(range(last_seq + 1, last_seq + 1 + len(seqs)))
    assert [event["n"] for event in events if event["type"] == "BENCH_TICK"] == list(range(5))


def test_acknowledged_writes_survive_sigkill_of_the_whole_daemon(make_daemon, tmp_path) -> None:
    data_dir = tmp_path / "crash"
    first = make_daemon(data_dir=data_dir)
    written = _write_acknowledged(first, "crash", 40)
    first.process.kill()
    first.process.wait(5)
    first.wait_until(lambda: not first.processes(), what="every process to exit")
    second = make_daemon(data_dir=data_dir)
    assert _read_all(second, "crash") == written


def test_when_the_root_gives_up_the_kill_switch_is_latched_and_the_daemon_exits_1(
    make_daemon,
) -> None:
    daemon = make_daemon("supervision.max_restarts=1", "supervision.backoff_initial_s=0")
    # Killing the core supervisor again and again exhausts the root's own intensity.
    for _ in range(10):
        if daemon.process.poll() is not None:
            break
        try:
            pid = daemon.node("core")["pid"]
        except (OSError, AssertionError):
            daemon.wait_until(lambda: daemon.process.poll() is not None or
                              daemon.node("core")["state"] == "running", timeout=10)
            continue
        os.kill(pid, signal.SIGKILL)
        daemon.wait_until(lambda p=pid: daemon.process.poll() is not None or
                          daemon.node("core")["pid"] != p, timeout=10)
    assert daemon.process.wait(20) == 1
    assert "kill switch latched" in daemon.log()
    row = sqlite3.connect(daemon.data_dir / "state.db").execute(
        "SELECT value FROM kv WHERE key = 'risk.kill_switch'").fetchone()
    latched = json.loads(row[0])
    assert latched["latched"] is True and "supervision gave up" in latched["reason"]
    daemon.wait_until(lambda: not daemon.processes(), what="every process to exit")
