"""Private files: a fresh data directory is readable by its user only, and the runtime directory
and lock files that another user could plant are refused by ``run``, ``status`` and ``stop``."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from actors.runtime.instance import portable_lock_path
from actors.runtime.lifeline import process_start_ticks
from actors.runtime.portable import PORTABLE_ENV
from tests.support.daemon import REPO, Daemon
from tests.support.listener import RecordingServer

FOREIGN_UID = 54321


def _isolated(daemon: Daemon, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The daemon's environment with a temp directory of the test's own."""
    env = daemon.environment()
    env.pop("XDG_RUNTIME_DIR", None)
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(temp)
    env.update(extra)
    return env


def _lock_file(path: Path) -> Path:
    """The file the daemon locks for the Linux lock ``path``, under the mechanisms in use."""
    return portable_lock_path(path) if Daemon.extra_env.get(PORTABLE_ENV) else path


def _run(daemon: Daemon, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(daemon.command(command), cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=env)


def test_a_fresh_data_directory_and_every_file_in_it_are_private(make_daemon) -> None:
    daemon = make_daemon()
    daemon.wait_until(lambda: (daemon.data_dir / "sim.db").exists(), what="sim.db")
    names = {path.name for path in daemon.data_dir.iterdir()}
    assert {"state.db", "events.db", "sim.db", "api_token", "actor_secret",
            _lock_file(daemon.data_dir / "daemon.lock").name} <= names
    assert stat.S_IMODE(os.stat(daemon.data_dir).st_mode) == 0o700
    modes = {str(path.relative_to(daemon.data_dir)): stat.S_IMODE(os.lstat(path).st_mode)
             for path in daemon.data_dir.rglob("*")}
    assert {name: mode for name, mode in modes.items()
            if mode != (0o700 if (daemon.data_dir / name).is_dir() else 0o600)} == {}
    assert any(name.endswith("-wal") for name in modes)
    # Its output is a file, not a terminal: the start-up line names the token file, and the
    # token itself is in neither the output nor the logs.
    output = daemon.log()
    assert f"?token=<the token in {daemon.data_dir / 'api_token'}>" in output, output
    assert daemon.token not in output
    for log in daemon.data_dir.rglob("*.log"):
        assert daemon.token not in log.read_text(errors="replace"), log


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's directory needs root")
def test_a_runtime_directory_planted_by_another_user_is_refused(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")
    env = _isolated(daemon, tmp_path)
    planted = Path(env["TMPDIR"]) / f"ensemble-{os.getuid()}"
    planted.mkdir(mode=0o700)
    os.chown(planted, FOREIGN_UID, FOREIGN_UID)
    for command in ("run", "status", "stop"):
        result = _run(daemon, command, env)
        assert result.returncode in (1, 2), (command, result.stdout, result.stderr)
        assert f"the runtime directory {planted} is owned by uid {FOREIGN_UID}, not by this " \
               f"user (uid {os.getuid()}); refusing to use it" in result.stderr, command
    assert list(planted.iterdir()) == []


@pytest.mark.parametrize("variable", ["TMPDIR", "XDG_RUNTIME_DIR"])
def test_a_runtime_directory_that_others_can_enter_is_refused(tmp_path: Path,
                                                              variable: str) -> None:
    daemon = Daemon(tmp_path / "data")
    env = _isolated(daemon, tmp_path)
    if variable == "TMPDIR":
        planted = Path(env["TMPDIR"]) / f"ensemble-{os.getuid()}"
        what = "the runtime directory"
    else:
        planted = tmp_path / "xdg"
        env["XDG_RUNTIME_DIR"] = str(planted)
        what = "XDG_RUNTIME_DIR"
    planted.mkdir()
    os.chmod(planted, 0o777)
    result = _run(daemon, "run", env)
    assert result.returncode == 2
    assert f"{what} {planted} is accessible to other users (mode 0777); refusing" in \
        result.stderr
    assert not (tmp_path / "data" / "state.db").exists()


@pytest.mark.parametrize("which", ["admin", "data"])
def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path: Path,
                                                                   which: str) -> None:
    daemon = Daemon(tmp_path / "data")
    env = _isolated(daemon, tmp_path)
    runtime = Path(env["TMPDIR"]) / f"ensemble-{os.getuid()}"
    runtime.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    if which == "admin":
        lock = _lock_file(runtime / f"admin-{daemon.admin_port}.lock")
    else:
        daemon.data_dir.mkdir(mode=0o700)
        lock = _lock_file(daemon.data_dir / "daemon.lock")
    lock.symlink_to(victim)
    result = _run(daemon, "run", env)
    assert result.returncode == 2
    assert f"{lock} is a symbolic link; refusing to open it" in result.stderr
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("start_time", ["other", "same"])
def test_a_planted_lock_file_naming_a_foreign_pid_and_port_is_not_obeyed(tmp_path: Path,
                                                                         start_time: str) -> None:
    if Daemon.extra_env.get(PORTABLE_ENV):
        pytest.skip("the planted lock here is a Linux flock file; the portable lock is an "
                    "SQLite file, and a planted one is refused (test_portable.py)")
    daemon = Daemon(tmp_path / "data")
    env = _isolated(daemon, tmp_path)
    daemon.data_dir.mkdir(mode=0o700)
    (daemon.data_dir / "api_token").write_text("the-real-token-of-the-victim\n")
    runtime = Path(env["TMPDIR"]) / f"ensemble-{os.getuid()}"
    runtime.mkdir(mode=0o700)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    listener = RecordingServer()
    started = process_start_ticks(bystander.pid) if start_time == "same" else 1
    lock = runtime / f"admin-{daemon.admin_port}.lock"
    try:
        with open(lock, "w") as handle:
            handle.write(json.dumps({
                "pid": bystander.pid, "admin_port": daemon.admin_port,
                "data_dir": str(daemon.data_dir), "web_url": f"http://127.0.0.1:{listener.port}/",
                "token_file": str(daemon.data_dir / "api_token"),
                "started_at": "2026-01-01T00:00:00Z", "process_start": started}))
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_EX)  # held, as a live daemon would
            status = _run(daemon, "status", env)
            stop = _run(daemon, "stop", env)
        assert "the web front does not answer" in status.stdout and status.returncode == 1
        assert listener.received == []  # nothing, and no token, went to the planted address
        assert stop.returncode == 2
        assert (f"not signalling: pid {bystander.pid} started at another time than the daemon"
                if start_time == "other" else
                f"not signalling: pid {bystander.pid} runs '{sys.executable} -c") in stop.stderr
        assert bystander.poll() is None  # not signalled
    finally:
        listener.close()
        bystander.kill()
        bystander.wait(5)
