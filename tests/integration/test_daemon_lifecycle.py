"""The daemon as a user runs it: start, status, stop, refusal of a second daemon, stale admins,
bad configuration, signals, and no process left behind.

Every test runs twice: with the Linux mechanisms (flock, process groups, the parent-death
signal) and with the portable ones that Windows uses (``ENSEMBLE_PORTABLE=1``: a SQLite lock,
psutil liveness and tree kill, a stop-request file; actors/runtime/portable.py).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actors.runtime.portable import PORTABLE_ENV
from tests.support.daemon import REPO, Daemon, free_port, listening_sockets, processes_with_marker


@pytest.fixture(autouse=True, params=["linux", "portable"])
def mechanisms(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which implementation of the platform mechanisms the daemons of this test use."""
    monkeypatch.setattr(Daemon, "extra_env",
                        {PORTABLE_ENV: "1"} if request.param == "portable" else {})
    return str(request.param)


def test_the_tree_is_the_designed_one_each_actor_in_its_own_process(make_daemon) -> None:
    daemon = make_daemon()
    tree = daemon.tree()
    assert (tree["name"], tree["state"], tree["strategy"]) == ("root", "running", "one_for_one")
    core, trading = tree["children"]
    assert (core["name"], core["strategy"]) == ("core", "one_for_one")
    assert [child["name"] for child in core["children"]] == ["shared_state", "broadcaster",
                                                             "web_front"]
    assert (trading["name"], trading["strategy"]) == ("trading", "rest_for_one")
    nodes = [tree, core, trading, *core["children"]]
    for node in nodes:
        assert node["state"] == "running" and node["restarts"] == 0
        assert node["last_failure"] is None and node["started_at"]
    pids = [node["pid"] for node in nodes]
    assert len(set(pids)) == len(pids) and daemon.process.pid not in pids


def test_status_and_stop_commands(make_daemon) -> None:
    daemon = make_daemon()
    status = subprocess.run(daemon.command("status"), cwd=REPO, capture_output=True, text=True,
                            timeout=30, env=daemon.environment())
    assert status.returncode == 0, status.stderr
    assert "root [one_for_one]  running" in status.stdout
    assert "web_front  running" in status.stdout
    stop = subprocess.run(daemon.command("stop"), cwd=REPO, capture_output=True, text=True,
                          timeout=30, env=daemon.environment())
    assert stop.returncode == 0 and "stopped the daemon" in stop.stdout
    assert daemon.process.wait(10) == 0
    assert daemon.processes() == []
    again = subprocess.run(daemon.command("status"), cwd=REPO, capture_output=True, text=True,
                           timeout=30, env=daemon.environment())
    assert again.returncode == 3 and "no Ensemble daemon is running" in again.stdout


def test_a_second_daemon_on_the_same_admin_port_is_refused(make_daemon, tmp_path: Path) -> None:
    first = make_daemon()
    second = make_daemon(data_dir=tmp_path / "other", admin_port=first.admin_port, start=False)
    second.start(wait=False)
    assert second.process.wait(30) == 2
    assert "another Ensemble daemon" in second.log()
    assert f"pid {first.process.pid}" in second.log()
    assert first.tree()["state"] == "running"  # the first one is untouched


def test_a_second_daemon_on_the_same_data_dir_is_refused(make_daemon) -> None:
    first = make_daemon()
    second = make_daemon(data_dir=first.data_dir, start=False)
    second.start(wait=False)
    assert second.process.wait(30) == 2
    assert "data directory" in second.log()


def test_a_stale_admin_is_shut_down_and_replaced(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(start=False)
    daemon.data_dir.mkdir(parents=True)
    # A run of this data directory whose daemon died before any actor started leaves its admin
    # running (DESIGN.md §10), holding that run's secret.
    stale = subprocess.run(
        [sys.executable, "-c",
         "from pathlib import Path; from actors.runtime.system import start_actor_system;"
         f"start_actor_system({daemon.admin_port}, Path({str(daemon.data_dir)!r}), 'warning')"],
        cwd=REPO, env=daemon.environment(), timeout=60, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert stale.returncode == 0
    stale_pids = processes_with_marker(daemon.marker)
    assert stale_pids, "the stale admin should still be running"
    daemon.start()
    assert "stale Thespian admin shut down" in daemon.log()
    assert daemon.tree()["state"] == "running"
    assert not set(stale_pids) & set(daemon.processes())


def test_bad_configuration_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data", "web.prot=1")
    result = subprocess.run(daemon.command("run"), cwd=REPO, capture_output=True, text=True,
                            timeout=30, env=daemon.environment())
    assert result.returncode == 2
    assert "web.prot: unknown key (allowed:" in result.stderr
    bad_value = Daemon(tmp_path / "data", "supervision.max_restarts=-1")
    result = subprocess.run(bad_value.command("run"), cwd=REPO, capture_output=True, text=True,
                            timeout=30, env=bad_value.environment())
    assert result.returncode == 2
    assert "supervision.max_restarts = -1: Input should be greater than or equal to 0" in \
        result.stderr
    assert not (tmp_path / "data" / "state.db").exists()


def test_sigterm_stops_everything_within_ten_seconds(make_daemon) -> None:
    daemon = make_daemon()
    assert len(daemon.processes()) >= 8  # daemon, admin, logger, 3 supervisors, 3 actors
    started = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(10) == 0
    deadline = started + 10
    while daemon.processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert daemon.processes() == []
    assert "stopping" in daemon.log() and "stopped" in daemon.log()


def test_sigint_stops_the_daemon_too(make_daemon) -> None:
    daemon = make_daemon()
    daemon.process.send_signal(signal.SIGINT)
    assert daemon.process.wait(10) == 0
    time.sleep(0.5)
    assert daemon.processes() == []


def test_sigkill_of_the_daemon_takes_every_actor_down_within_ten_seconds(make_daemon,
                                                                        mechanisms) -> None:
    daemon = make_daemon()
    actors = [pid for pid in daemon.processes() if pid != daemon.process.pid]
    assert actors
    daemon.process.kill()
    daemon.process.wait(5)
    deadline = time.monotonic() + 10
    while daemon.processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert daemon.processes() == [], "actor processes outlived the daemon"
    noticed_by = "process identity" if mechanisms == "portable" else "lifeline"
    assert re.search(f"noticed_by='?{noticed_by}'?", daemon.log()), "not the chosen mechanism"


def test_every_socket_listens_on_loopback_only(make_daemon) -> None:
    daemon = make_daemon()
    sockets = listening_sockets(daemon.processes())
    ports = {port for _, port, _ in sockets}
    assert daemon.port in ports and daemon.admin_port in ports
    assert len(sockets) >= 6  # web, admin, logger and the actors' own sockets
    outside = [entry for entry in sockets if entry[0] not in ("127.0.0.1", "::1")]
    assert outside == [], f"listening beyond loopback: {outside}"


def test_web_port_in_use_is_reported_clearly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        daemon = Daemon(tmp_path / "data", port=port, admin_port=free_port())
        result = subprocess.run(daemon.command("run"), cwd=REPO, capture_output=True,
                                text=True, timeout=30, env=daemon.environment())
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
