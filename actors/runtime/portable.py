"""Portable implementations of the mechanisms that Linux does with POSIX calls.

Ensemble's Linux implementations use ``flock`` (one daemon per admin port and data directory),
``kill(pid, 0)`` and re-parenting (liveness), ``PR_SET_PDEATHSIG`` and ``killpg`` on Thespian's
session (no process outlives the daemon), and ``SIGTERM``/``SIGKILL`` (stop, kill). None of
that exists on Windows, where the MetaTrader5 package runs. This module has an implementation
of each that needs only what every platform has, chosen at run time by :func:`use_portable`:
on any platform but Linux, or on Linux when ``ENSEMBLE_PORTABLE=1`` (how the tests exercise
these paths, since no Windows machine is available).

* Instance lock: an exclusive SQLite transaction held for the daemon's life. SQLite takes the
  operating system's own file lock (``LockFileEx`` on Windows, ``fcntl`` on POSIX), which the
  kernel releases when the process dies, however it dies.
* Liveness: psutil's process identity (pid plus creation time, so a reused pid is not
  mistaken for the daemon; a zombie counts as dead).
* No process outlives the daemon: the actor that finds the daemon dead kills Thespian's admin
  (the process listening on the admin port) and its whole tree of descendants, logger and
  actors. A parent that dies is noticed on the same liveness timer (pid and creation time).
* Signals: a process is killed with psutil (``TerminateProcess`` on Windows); a graceful stop
  is requested by a file in the data directory, which the daemon checks twice a second
  (``os.kill(pid, SIGTERM)`` on Windows would terminate at once, with no clean stop).

psutil (cross-platform process information) is used because doing the same by hand means a
ctypes binding of the Win32 process API beside ``/proc`` parsing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import psutil

from actors.runtime.private import UnsafePath

__all__ = [
    "PORTABLE_ENV",
    "STOP_REQUEST_FILE",
    "FileLock",
    "end_process_tree",
    "kill_process",
    "listener_pid",
    "process_alive",
    "process_command",
    "process_identity",
    "request_stop",
    "stop_requested",
    "use_portable",
]

PORTABLE_ENV = "ENSEMBLE_PORTABLE"
STOP_REQUEST_FILE = "stop.request"


def use_portable(environ: Mapping[str, str] | None = None,
                 platform: str | None = None) -> bool:
    """Whether to use this module's implementations: off Linux always, on Linux when
    ``ENSEMBLE_PORTABLE`` is set to anything but ``0`` or empty."""
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return True
    return environ.get(PORTABLE_ENV, "") not in ("", "0")


# --- the instance lock ---------------------------------------------------------------------


class FileLock:
    """An exclusive lock on ``path`` that the OS releases when the holder dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False if someone does. A file there that is not
        such a lock (planted, or corrupted) raises :class:`UnsafePath`: nothing is written
        to it, and the person who runs the command is told what to look at."""
        connection = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            # An empty file is a fresh lock; anything else must be an SQLite database.
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            connection.close()
            return False
        except sqlite3.DatabaseError as error:
            connection.close()
            raise UnsafePath(f"{self.path} is not an Ensemble lock file ({error}); if no "
                             "Ensemble daemon runs, remove it") from None
        self._connection = connection
        return True

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.rollback()
                self._connection.close()
            self._connection = None

    @staticmethod
    def is_held(path: Path) -> bool:
        """Whether a live process holds the lock on ``path`` (a missing file: no)."""
        if not path.exists():
            return False
        probe = FileLock(path)
        if probe.try_acquire():
            probe.release()
            return False
        return True


# --- processes -----------------------------------------------------------------------------


def process_identity(pid: int) -> float | None:
    """A process's creation time, which with its pid identifies it; None if there is none."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


# On Linux psutil derives a start time from the boot time, which /proc/stat can give a second
# apart between two reads: the same process then, not a new one with the same pid.
_SAME_START_S = 1.5


def process_alive(pid: int, identity: float | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, given its identity, is still that process."""
    try:
        process = psutil.Process(pid)
        if identity is not None and abs(process.create_time() - identity) > _SAME_START_S:
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def process_command(pid: int) -> list[str] | None:
    """The command line of ``pid``, or None if it cannot be read."""
    try:
        return list(psutil.Process(pid).cmdline())
    except psutil.Error:
        return None


def kill_process(pid: int) -> None:
    """Kill ``pid`` at once (SIGKILL on POSIX, TerminateProcess on Windows); gone is fine."""
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).kill()


def _listens(process: psutil.Process, port: int) -> bool:
    with contextlib.suppress(psutil.Error, OSError):
        return any(connection.status == psutil.CONN_LISTEN and connection.laddr
                   and connection.laddr.port == port
                   for connection in process.net_connections(kind="tcp"))
    return False


def listener_pid(port: int) -> int | None:
    """The process that opened the socket listening on TCP ``port``, if it can be seen.
    Forked children inherit the socket (Thespian's logger holds the admin's), and the system
    table names only one of its holders, so this climbs to the topmost ancestor that holds it
    too."""
    found: psutil.Process | None = None
    with contextlib.suppress(psutil.Error, OSError):
        for connection in psutil.net_connections(kind="tcp"):
            if (connection.status == psutil.CONN_LISTEN and connection.laddr
                    and connection.laddr.port == port and connection.pid):
                found = psutil.Process(connection.pid)
                break
    if found is None:
        return None
    with contextlib.suppress(psutil.Error):
        while (parent := found.parent()) is not None and parent.pid > 1 and _listens(parent, port):
            found = parent
    return found.pid


def end_process_tree(admin_port: int) -> NoReturn:
    """Kill Thespian's admin (the process listening on ``admin_port``) and every process
    descending from it, its logger and every actor, then exit. Without an admin to be found,
    only this process exits."""
    me = os.getpid()
    victims: list[psutil.Process] = []
    admin = listener_pid(admin_port)
    with contextlib.suppress(psutil.Error):
        victims += psutil.Process(me).children(recursive=True)
    if admin is not None:
        with contextlib.suppress(psutil.Error):
            top = psutil.Process(admin)
            victims += [*top.children(recursive=True), top]
    for process in victims:
        if process.pid != me:
            with contextlib.suppress(psutil.Error):
                process.kill()
    os._exit(0)


# --- a graceful stop -----------------------------------------------------------------------


def request_stop(data_dir: Path) -> Path:
    """Ask the daemon that uses ``data_dir`` to stop (it checks for this file)."""
    path = data_dir / STOP_REQUEST_FILE
    path.write_text(str(os.getpid()), encoding="utf-8")
    return path


def stop_requested(data_dir: Path) -> bool:
    """Whether a stop was requested; removes the request (it is handled once)."""
    path = data_dir / STOP_REQUEST_FILE
    if not path.exists():
        return False
    with contextlib.suppress(OSError):
        path.unlink()
    return True
