"""No process outlives the daemon.

After the daemon dies, Thespian's admin and actors keep running (DESIGN.md §10). The admin
daemonizes itself (``setsid`` and a double fork), so the admin, its logger and every actor share
one process group that the daemon is not part of. Two mechanisms close the gap:

* every actor checks on a timer that its daemon is alive; the first to find it dead kills the
  whole Thespian process group (:func:`end_thespian_group`), admin and logger included;
* every actor process is armed, on Linux, to get ``SIGKILL`` from the kernel when its parent
  process dies (:func:`arm_parent_death_signal`), so a supervisor that is killed takes its
  children with it at once, as in Erlang, instead of leaving orphans. :func:`parent_is_gone` is
  the portable check for the same thing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

__all__ = ["arm_parent_death_signal", "end_thespian_group", "parent_is_gone", "process_alive",
           "process_command", "process_start_ticks"]

_PR_SET_PDEATHSIG = 1


def arm_parent_death_signal() -> bool:
    """Have the kernel SIGKILL this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent_is_gone(original_parent: int) -> bool:
    """Whether the process that started this one has exited (it has been re-parented)."""
    return os.getppid() != original_parent


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux ``/proc``), or None if unknown.
    Two processes that share a pid one after the other never share a start time."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
        return int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


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


def end_thespian_group(daemon_session: int | None) -> None:
    """Kill this process's group if it is not the daemon's own session, else just exit."""
    with contextlib.suppress(OSError):
        if daemon_session is not None and os.getsid(0) != daemon_session:
            os.killpg(os.getpgid(0), signal.SIGKILL)
    os._exit(0)
