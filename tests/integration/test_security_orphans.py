"""No orphan, ever: a daemon that is SIGKILLed and never reaped (a zombie whose pid still
answers ``kill(pid, 0)``) takes every actor with it, and its data directory is free again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from actors.runtime.portable import PORTABLE_ENV
from tests.support.daemon import REPO, Daemon

PORTABLE_TOO = True  # every test here runs with the Linux and the portable mechanisms

# Starts the daemon and then never waits for it: a SIGKILLed daemon stays a zombie.
NEGLECTFUL_PARENT = """
import subprocess, sys, time
log = open(sys.argv[1], "ab")
child = subprocess.Popen(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, cwd={repo!r})
print(child.pid, flush=True)
time.sleep(600)
"""


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return None


def test_a_zombie_daemon_takes_every_actor_down_and_frees_its_data_directory(
        make_daemon, tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")
    parent = subprocess.Popen(
        [sys.executable, "-c", NEGLECTFUL_PARENT.format(repo=str(REPO)), str(daemon.log_path),
         *daemon.command("run")],
        env=daemon.environment(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )
    try:
        assert parent.stdout is not None
        daemon_pid = int(parent.stdout.readline())
        daemon.wait_ready()
        actors = [pid for pid in daemon.processes() if pid not in (parent.pid, daemon_pid)]
        assert len(actors) >= 8  # admin, logger, supervisors and roles
        os.kill(daemon_pid, signal.SIGKILL)
        daemon.wait_until(lambda: _state(daemon_pid) == "Z", timeout=5, what="a zombie daemon")
        os.kill(daemon_pid, 0)  # what the old liveness check trusted: it still "exists"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and set(actors) & set(daemon.processes()):
            time.sleep(0.1)
        assert set(actors) & set(daemon.processes()) == set(), \
            "actor processes outlived their zombie daemon"
        assert _state(daemon_pid) == "Z"  # still unreaped: the actors did not wait for that
        assert "the daemon is gone; ending every actor" in daemon.log()
        # By the lifeline pipe; on the portable path (Windows) by the daemon's process
        # identity (its pid and creation time), which a zombie no longer has either.
        method = "'process identity'" if Daemon.extra_env.get(PORTABLE_ENV) else "lifeline"
        assert f"noticed_by={method}" in daemon.log()
        again = make_daemon(data_dir=daemon.data_dir)  # the locks went with the processes
        assert again.tree()["state"] == "running"
    finally:
        parent.kill()
        parent.wait(5)
        daemon.kill_leftovers()
