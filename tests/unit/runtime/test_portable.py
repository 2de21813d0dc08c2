"""The portable mechanisms (actors/runtime/portable.py) with real processes: a lock the OS
releases when its holder is killed, liveness that a zombie or a reused pid does not fool,
killing, the admin's whole tree ended from inside it, and the stop request."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from actors.runtime.portable import (
    FileLock,
    kill_process,
    listener_pid,
    process_alive,
    process_identity,
    request_stop,
    stop_requested,
    use_portable,
)
from actors.runtime.private import UnsafePath

REPO = Path(__file__).resolve().parents[3]
WAIT_S = 20.0


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + WAIT_S
    alive = pids
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if process_alive(pid)]
        if not alive:
            break
        time.sleep(0.05)
    return alive


def test_the_portable_path_is_chosen_off_linux_or_when_forced() -> None:
    assert use_portable({}, "win32") and use_portable({}, "darwin")
    assert not use_portable({}, "linux")
    assert use_portable({"ENSEMBLE_PORTABLE": "1"}, "linux")
    assert not use_portable({"ENSEMBLE_PORTABLE": "0"}, "linux")


def test_the_lock_is_exclusive_and_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "daemon.lock"
    holder = _python("""
        import sys
        from pathlib import Path
        from actors.runtime.portable import FileLock
        lock = FileLock(Path(sys.argv[1]))
        print(lock.try_acquire(), flush=True)
        sys.stdin.read()
    """, str(path))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        assert FileLock.is_held(path)
        assert not FileLock(path).try_acquire()
    finally:
        holder.kill()  # SIGKILL: no chance to release anything itself
        holder.wait(WAIT_S)
    assert not FileLock.is_held(path)
    mine = FileLock(path)
    assert mine.try_acquire()
    assert FileLock.is_held(path)  # also from a second connection of the holding process
    mine.release()
    assert not FileLock.is_held(path) and not FileLock.is_held(tmp_path / "never-made.lock")


def test_liveness_sees_through_zombies_and_reused_pids() -> None:
    assert process_alive(os.getpid(), process_identity(os.getpid()))
    # A pid reused seconds later is another process (a second apart is the same one).
    assert not process_alive(os.getpid(), (process_identity(os.getpid()) or 0) - 5.0)
    child = _python("import sys; sys.stdin.read()")
    identity = process_identity(child.pid)
    assert identity is not None and process_alive(child.pid, identity)
    kill_process(child.pid)
    deadline = time.monotonic() + WAIT_S
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the killed child never became a zombie"
        time.sleep(0.02)
    assert not process_alive(child.pid)  # exited, not yet reaped: dead all the same
    assert child.wait(WAIT_S) == -signal.SIGKILL
    assert not process_alive(child.pid) and process_identity(child.pid) is None
    kill_process(child.pid)  # already gone: no error


def test_the_admins_whole_tree_is_ended_from_inside_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # "admin": listens on the port, starts a child (holding the listening socket too) with a
    # grandchild, then an "actor" that finds the daemon gone and ends the tree. Each prints
    # its pid.
    admin = _python("""
        import socket, subprocess, sys
        listener = socket.socket(); listener.bind(("127.0.0.1", int(sys.argv[1])))
        listener.listen()
        print(__import__("os").getpid(), flush=True)
        sleeper = "import os, sys, time; print(os.getpid(), flush=True); time.sleep(60)"
        spawner = ("import os, subprocess, sys; print(os.getpid(), flush=True); "
                   "subprocess.Popen([sys.executable, '-c', %r]); sys.stdin.read()" % sleeper)
        # The child inherits the listening socket, as Thespian's logger inherits the admin's.
        child = subprocess.Popen([sys.executable, "-c", spawner], stdin=subprocess.PIPE,
                                 pass_fds=(listener.fileno(),))
        sys.stdin.readline()
        subprocess.Popen([sys.executable, "-c",
                          "from actors.runtime.portable import end_process_tree; "
                          f"end_process_tree({sys.argv[1]})"])
        sys.stdin.read()
    """, str(port))
    try:
        assert admin.stdout is not None
        pids = [int(admin.stdout.readline()), int(admin.stdout.readline()),
                int(admin.stdout.readline())]
        assert listener_pid(port) == admin.pid == pids[0]
        assert listener_pid(1) is None  # nothing listens there
        assert all(process_alive(pid) for pid in pids)
        assert admin.stdin is not None
        admin.stdin.write("go\n")
        admin.stdin.flush()
        assert _wait_gone(pids) == []
        assert admin.wait(WAIT_S) == -signal.SIGKILL
    finally:
        admin.kill()


def test_a_stop_request_is_seen_once(tmp_path: Path) -> None:
    assert not stop_requested(tmp_path)
    request_stop(tmp_path)
    assert stop_requested(tmp_path) and not stop_requested(tmp_path)


def test_a_planted_file_where_the_portable_lock_goes_is_refused_untouched(tmp_path: Path) -> None:
    planted = tmp_path / "admin-1900.lock"
    planted.write_text('{"pid": 1, "port": 9}')
    with pytest.raises(UnsafePath, match="not an Ensemble lock file"):
        FileLock(planted).try_acquire()
    with pytest.raises(UnsafePath):
        FileLock.is_held(planted)  # status and stop say so instead of obeying it
    assert planted.read_text() == '{"pid": 1, "port": 9}'
    fresh = FileLock(tmp_path / "fresh.lock")
    assert fresh.try_acquire() and FileLock.is_held(fresh.path)
    fresh.release()


def test_a_lock_the_linux_path_left_does_not_stop_a_portable_daemon(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ports and data directories are reused: a Linux daemon's lock files (flock, JSON
    inside) left behind must not read as broken portable locks (CI failed so when a port
    first used by a Linux-path daemon came round to a portable one)."""
    from actors.runtime.instance import DaemonInfo, InstanceLock, admin_lock_path, read_daemon_info

    monkeypatch.setenv("ENSEMBLE_PORTABLE", "1")
    port = 20_000 + os.getpid() % 10_000
    left = [admin_lock_path(port), tmp_path / "daemon.lock"]
    for path in left:
        path.write_text('{"pid": 1, "admin_port": 1}', encoding="utf-8")
    lock = InstanceLock(port, tmp_path)
    try:
        lock.acquire()
        info = DaemonInfo(pid=os.getpid(), admin_port=port, data_dir=str(tmp_path),
                          web_url="http://127.0.0.1:1", token_file="t", started_at="now")
        lock.publish(info)
        assert read_daemon_info(port) is not None
        assert read_daemon_info(port).pid == os.getpid()
    finally:
        lock.release()
        for path in left:
            path.unlink(missing_ok=True)
    assert read_daemon_info(port) is None
