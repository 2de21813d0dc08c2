"""No process outlives the daemon.

After the daemon dies, Thespian's admin and actors keep running (DESIGN.md §10). The admin
daemonizes itself (``setsid`` and a double fork), so the admin, its logger and every actor share
one process group that the daemon is not part of. Three mechanisms close the gap:

* the lifeline: before the ActorSystem starts, the daemon opens a pipe (:func:`hold_lifeline`).
  Every process forked from it inherits the read end, and only the daemon keeps the write end
  (an at-fork hook closes it in the first child, whose own children therefore never have it).
  The kernel closes the write end when the daemon exits, however it exits, so end-of-file on
  the read end means the daemon is gone. Unlike its pid, this cannot be fooled by a zombie
  (``os.kill(pid, 0)`` succeeds for a daemon its parent never reaped) or by a recycled pid;
* every actor checks on a timer (:class:`DaemonWatch`) that its daemon is alive; the first to
  find it dead kills the whole Thespian process group (:func:`end_thespian_group`), admin and
  logger included. Without an inherited lifeline (a process not forked from the daemon, a
  platform without fork) it compares the daemon's start time from ``/proc`` instead (a zombie
  counts as gone), and only where there is no ``/proc`` does it fall back to the pid;
* every actor process is armed, on Linux, to get ``SIGKILL`` from the kernel when its parent
  process dies (:func:`arm_parent_death_signal`), so a supervisor that is killed takes its
  children with it at once, as in Erlang, instead of leaving orphans. :class:`ParentWatch`
  checks the same thing on the liveness timer.

Off Linux (Windows, where the MetaTrader5 package runs), and on Linux with
``ENSEMBLE_PORTABLE=1``, each of these uses its portable implementation from
:mod:`actors.runtime.portable` instead, chosen at run time: the daemon and the parent are
watched by pid and creation time (psutil), the ending actor kills Thespian's admin and its
whole tree, and nothing is armed. No POSIX-only function is looked up at import time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import stat
import sys

from actors.runtime import portable

__all__ = ["LIFELINE_ENV", "DaemonWatch", "ParentWatch", "arm_parent_death_signal",
           "end_thespian_group", "hold_lifeline", "kill_now", "parent_is_gone", "process_alive",
           "process_command", "process_start_ticks", "session_of"]

LIFELINE_ENV = "ENSEMBLE_LIFELINE"

_write_end: int | None = None
_fork_hook_registered = False


def hold_lifeline() -> None:
    """In the daemon, before the ActorSystem starts: open the lifeline pipe. Its read end is
    named in the environment as ``<fd>:<inode>`` for the processes forked from here."""
    global _write_end, _fork_hook_registered
    if _write_end is not None:
        return
    read_end, write_end = os.pipe()
    _write_end = write_end
    if hasattr(os, "register_at_fork") and not _fork_hook_registered:
        os.register_at_fork(after_in_child=_drop_write_end)
        _fork_hook_registered = True
    os.environ[LIFELINE_ENV] = f"{read_end}:{os.fstat(read_end).st_ino}"


def _drop_write_end() -> None:
    # Runs in every forked child; only the first one (whose memory still names the write end)
    # closes anything, so a descriptor number reused later in a child is never touched.
    global _write_end
    if _write_end is not None:
        with contextlib.suppress(OSError):
            os.close(_write_end)
        _write_end = None


def _inherited_lifeline() -> int | None:
    spec = os.environ.get(LIFELINE_ENV, "")
    descriptor_text, _, inode_text = spec.partition(":")
    try:
        descriptor, inode = int(descriptor_text), int(inode_text)
        info = os.fstat(descriptor)
    except (ValueError, OSError):
        return None
    if not stat.S_ISFIFO(info.st_mode) or info.st_ino != inode or _write_end is not None:
        return None  # not the pipe named (or this is the daemon itself, holding both ends)
    return descriptor


def _pipe_closed(descriptor: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(descriptor, select.POLLIN | select.POLLHUP)
        ready = bool(poller.poll(0))
    else:
        ready = bool(select.select([descriptor], [], [], 0)[0])
    if not ready:
        return False
    try:
        return os.read(descriptor, 1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class DaemonWatch:
    """Whether the daemon an actor belongs to has ended, by the strongest means available."""

    def __init__(self, daemon_pid: int) -> None:
        self.pid = daemon_pid
        self._portable = portable.use_portable()
        self._identity = portable.process_identity(daemon_pid) if self._portable else None
        self._lifeline = None if self._portable else _inherited_lifeline()
        self._started = None if self._portable else process_start_ticks(daemon_pid)

    @property
    def method(self) -> str:
        if self._portable:
            return "process identity"
        if self._lifeline is not None:
            return "lifeline"
        return "start time" if self._started is not None else "pid"

    def gone(self) -> bool:
        if self._portable:
            return not portable.process_alive(self.pid, self._identity)
        if self._lifeline is not None:
            return _pipe_closed(self._lifeline)
        if self._started is not None:
            state, started = _proc_stat(self.pid)
            return state in (None, "Z", "X") or started != self._started
        return not process_alive(self.pid)

_PR_SET_PDEATHSIG = 1


def arm_parent_death_signal() -> bool:
    """Have the kernel SIGKILL this process when its parent dies (Linux only; the portable
    path relies on :class:`ParentWatch` alone)."""
    if not sys.platform.startswith("linux") or portable.use_portable():
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent_is_gone(original_parent: int) -> bool:
    """Whether the process that started this one has exited (it has been re-parented)."""
    return os.getppid() != original_parent


class ParentWatch:
    """Whether the process that started this one has exited: on Linux it has re-parented this
    one; on the portable path (Windows does not re-parent) it no longer runs, by pid and
    creation time."""

    def __init__(self, parent_pid: int) -> None:
        self.pid = parent_pid
        self._portable = portable.use_portable()
        self._identity = portable.process_identity(parent_pid) if self._portable else None

    def gone(self) -> bool:
        if self._portable:
            return not portable.process_alive(self.pid, self._identity)
        return parent_is_gone(self.pid)


def session_of(pid: int) -> int | None:
    """The POSIX session of ``pid`` (None on the portable path, which needs none)."""
    if portable.use_portable():
        return None
    try:
        return os.getsid(pid)
    except OSError:
        return None


def kill_now(pid: int) -> None:
    """Kill ``pid`` at once: SIGKILL, or the portable kill (TerminateProcess on Windows)."""
    if portable.use_portable():
        portable.kill_process(pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux ``/proc``), or None if unknown.
    Two processes that share a pid one after the other never share a start time."""
    return _proc_stat(pid)[1]


def _proc_stat(pid: int) -> tuple[str | None, int | None]:
    """(state, start time) of ``pid`` from ``/proc/<pid>/stat``, or (None, None)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
        return fields[0].decode(), int(fields[19])
    except (OSError, ValueError, IndexError):
        return None, None


def process_command(pid: int) -> list[str] | None:
    """The command line of ``pid`` (Linux ``/proc``), or None if unknown."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_thespian_group(daemon_session: int | None, admin_port: int | None = None) -> None:
    """Kill this process's group if it is not the daemon's own session, else just exit. On the
    portable path: kill Thespian's admin on ``admin_port`` and its whole tree, then exit."""
    if portable.use_portable() and admin_port is not None:
        portable.end_process_tree(admin_port)
    with contextlib.suppress(OSError):
        if daemon_session is not None and os.getsid(0) != daemon_session:
            os.killpg(os.getpgid(0), signal.SIGKILL)
    os._exit(0)
