"""A daemon run as on Windows, on Linux: Thespian *spawns* its processes (the only start method
there) and every platform mechanism takes its portable implementation (``ENSEMBLE_PORTABLE``:
the SQLite lock, psutil liveness and tree kill, the stop request). The admin, the logger and
every actor are fresh interpreters that get the daemon's secret through their start arguments
(``actors/runtime/spawn_setup.py``). It starts, is ready, trades on the simulator, still drops
a frame sealed with any other secret, and stops with no process left."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
from pathlib import Path

from actors.runtime.frame_auth import AuthenticatedPickle
from actors.runtime.portable import PORTABLE_ENV
from actors.runtime.spawn_setup import START_METHOD_ENV
from tests.integration.test_security_transport import REJECTED, _rejections, _Touch
from tests.support.daemon import FAST_MARKET, Daemon, listening_sockets

SPAWNED = "--multiprocessing-fork"  # what multiprocessing's spawn puts on a child's command line


def _command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def test_a_spawned_daemon_is_ready_trades_and_refuses_a_foreign_sealed_frame(
        tmp_path: Path) -> None:
    # Every spawned actor is a fresh interpreter importing the project: start-up takes longer.
    daemon = Daemon(tmp_path / "data", *FAST_MARKET, "runtime.start_timeout_s=180")
    daemon.extra_env = {**Daemon.extra_env, START_METHOD_ENV: "spawn", PORTABLE_ENV: "1"}
    try:
        daemon.start(wait=False)
        daemon.wait_ready(timeout=180)  # /api/health ok: every actor started, risk loaded, synced
        spawned = [pid for pid in daemon.processes() if SPAWNED in _command_line(pid)]
        assert len(spawned) >= 6, [_command_line(pid) for pid in daemon.processes()]
        secret = (daemon.data_dir / "actor_secret").read_text().strip()
        assert not [pid for pid in daemon.processes()  # never on a command line or in an env
                    if secret in _command_line(pid)
                    or secret.encode() in Path(f"/proc/{pid}/environ").read_bytes()]

        daemon.wait_until(lambda: daemon.get("/api/positions") or daemon.get(
            "/api/journal/trades"), timeout=240, what="a trade on the simulator")

        sockets = [(port, pid) for _, port, pid in listening_sockets(daemon.processes())
                   if port != daemon.port]
        assert daemon.admin_port in {port for port, _ in sockets}
        foreign = AuthenticatedPickle(os.urandom(32))
        targets = {port: tmp_path / f"pwned-{port}" for port, _ in sockets}
        for port, _ in sockets:
            body = foreign.dumps_to((None, _Touch(targets[port])), port)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(b"%d>" % len(body) + body)
                with contextlib.suppress(OSError):
                    connection.recv(100)
        pids = {pid for _, pid in sockets}
        daemon.wait_until(lambda: pids <= set(_rejections(daemon.log())), timeout=20,
                          what="every spawned process to report the foreign frame it dropped")
        assert not [path for path in targets.values() if path.exists()]
        assert pickle.loads(pickle.dumps(1)) == 1  # (the control: pickle itself works here)
        assert daemon.tree()["state"] == "running"
        assert REJECTED in daemon.log()
        assert daemon.process is not None
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(30) == 0
        daemon.wait_until(lambda: not daemon.processes(), timeout=15,
                          what="no process left: " + "; ".join(
                              _command_line(pid) for pid in daemon.processes()))
    finally:
        daemon.stop()
