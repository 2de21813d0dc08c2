"""One daemon per admin port and per data directory.

Each running daemon holds two ``flock`` locks: one on ``<runtime-dir>/admin-<port>.lock`` (the
runtime directory is checked to be private, ``actors/runtime/private.py``) and one on
``<data-dir>/daemon.lock``, both opened without following symbolic links. The kernel releases
them when the last process holding them dies, however it dies, so a lock that can be taken
means no live daemon holds it, and a stale lock file is never mistaken for a running daemon.
The admin-port lock file also holds a JSON description of the daemon (pid and start time, web
URL, data directory, token file) for ``run_system.py status`` and ``stop``.

On the portable path (off Linux, or ``ENSEMBLE_PORTABLE=1``; :mod:`actors.runtime.portable`)
each lock file is held by an exclusive SQLite transaction instead of ``flock`` (the OS releases
it just as surely), and the description sits beside it in ``<lock>.json``; the daemon is told
from a process that reuses its pid by its creation time and command line from psutil.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

from actors.runtime import portable
from actors.runtime.lifeline import process_command, process_start_ticks
from actors.runtime.private import open_private, runtime_dir

__all__ = ["AlreadyRunning", "DaemonInfo", "InstanceLock", "admin_lock_path", "portable_lock_path",
           "read_daemon_info", "why_not_the_daemon"]

_ENTRY_NAMES = ("run_system.py", "ensemble", "ensemble.cli", "__main__.py")


class AlreadyRunning(RuntimeError):
    """Another live daemon holds the admin port or the data directory."""


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    pid: int
    admin_port: int
    data_dir: str
    web_url: str
    token_file: str
    started_at: str
    # The daemon process's start time (clock ticks since boot, /proc/<pid>/stat), so that
    # ``stop`` can tell it from a process that got its pid later; None where unknown.
    process_start: int | None = None
    # The same for the portable path: its creation time from psutil (epoch seconds).
    process_created: float | None = None


def admin_lock_path(admin_port: int) -> Path:
    """The admin-port lock, in the checked runtime directory (``actors/runtime/private.py``)."""
    return runtime_dir() / f"admin-{admin_port}.lock"


def portable_lock_path(path: Path) -> Path:
    """The portable lock of ``path``: an SQLite file beside it, not ``path`` itself, which is
    the Linux lock (flock, with the daemon's description inside). Ports and data directories
    are reused, and a lock left by the one kind must not read as a broken lock of the other."""
    return path.with_name(path.name + ".db")


def _info_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".json")


def _read_portable_info(path: Path) -> DaemonInfo | None:
    if not portable.FileLock.is_held(path):
        return None
    try:
        descriptor = open_private(_info_path(path), os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, encoding="utf-8") as handle, \
            contextlib.suppress(ValueError, TypeError, OSError):
        return DaemonInfo(**json.loads(handle.read()))
    return None


def read_daemon_info(admin_port: int) -> DaemonInfo | None:
    """The description of the live daemon on ``admin_port``, or None if there is none."""
    path = admin_lock_path(admin_port)
    if portable.use_portable():
        return _read_portable_info(portable_lock_path(path))
    try:
        descriptor = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, encoding="utf-8") as handle:
        if not _is_locked(handle):
            return None
        with contextlib.suppress(ValueError, TypeError, OSError):
            return DaemonInfo(**json.loads(handle.read()))
    return None


def _is_locked(handle: IO[str]) -> bool:
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def why_not_the_daemon(info: DaemonInfo) -> str | None:
    """None if ``info.pid`` is verifiably the daemon that published ``info`` (same start time,
    an Ensemble command line), else why not. Where ``/proc`` is missing, nothing can be checked
    beyond the lock itself, which lives in the private runtime directory."""
    if portable.use_portable():
        return _why_not_portable(info)
    started = process_start_ticks(info.pid)
    command = process_command(info.pid)
    if started is None and command is None:
        return None if not os.path.isdir("/proc/self") else f"no process has pid {info.pid}"
    if info.process_start is None or started != info.process_start:
        return (f"pid {info.pid} started at another time than the daemon that published the lock "
                "(its pid was reused)")
    names = {os.path.basename(part) for part in command or ()}
    if not names & set(_ENTRY_NAMES):
        shown = " ".join(command or ())[:120]
        return f"pid {info.pid} runs {shown!r}, not an Ensemble daemon"
    return None


def _why_not_portable(info: DaemonInfo) -> str | None:
    created = portable.process_identity(info.pid)
    if created is None:
        return f"no process has pid {info.pid}"
    if info.process_created is None or created != info.process_created:
        return (f"pid {info.pid} started at another time than the daemon that published the lock "
                "(its pid was reused)")
    names = {os.path.basename(part) for part in portable.process_command(info.pid) or ()}
    if not names & {*_ENTRY_NAMES, "ensemble.exe", "ensemble-script.py"}:
        return f"pid {info.pid} does not run an Ensemble daemon"
    return None


class InstanceLock:
    """Both locks, taken together or not at all."""

    def __init__(self, admin_port: int, data_dir: Path) -> None:
        self.admin_port = admin_port
        self.data_path = data_dir / "daemon.lock"
        self._handles: list[IO[str]] = []
        self._portable = portable.use_portable()
        self._file_locks: list[portable.FileLock] = []

    def _paths(self) -> tuple[tuple[Path, str], ...]:
        return ((admin_lock_path(self.admin_port), "admin port"),
                (self.data_path, "data directory"))

    def _acquire_portable(self) -> None:
        for linux_path, what in self._paths():
            path = portable_lock_path(linux_path)
            os.close(open_private(path))  # created 0600, a regular file of ours, not a link
            lock = portable.FileLock(path)
            if not lock.try_acquire():
                holder = ""
                with contextlib.suppress(OSError):
                    holder = _info_path(path).read_text(encoding="utf-8")
                raise AlreadyRunning(_describe_holder(what, path, holder))
            self._file_locks.append(lock)

    def acquire(self) -> None:
        if self._portable:
            try:
                self._acquire_portable()
            except BaseException:
                self.release()
                raise
            return
        import fcntl

        try:
            for path, what in ((admin_lock_path(self.admin_port), "admin port"),
                               (self.data_path, "data directory")):
                handle = os.fdopen(open_private(path), "r+", encoding="utf-8")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.seek(0)
                    holder = handle.read().strip()
                    handle.close()
                    raise AlreadyRunning(_describe_holder(what, path, holder)) from None
                self._handles.append(handle)
        except BaseException:
            self.release()
            raise

    def publish(self, info: DaemonInfo) -> None:
        if info.process_start is None:
            info = replace(info, process_start=process_start_ticks(info.pid))
        if info.process_created is None:
            info = replace(info, process_created=portable.process_identity(info.pid))
        for lock in self._file_locks:
            descriptor = open_private(_info_path(lock.path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(info)))
        for handle in self._handles:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(asdict(info)))
            handle.flush()

    def release(self) -> None:
        for lock in self._file_locks:
            with contextlib.suppress(OSError):
                _info_path(lock.path).unlink(missing_ok=True)
            lock.release()
        self._file_locks = []
        if not self._handles:
            return
        import fcntl

        for handle in self._handles:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
        self._handles = []


def _describe_holder(what: str, path: Path, holder: str) -> str:
    details: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        details = json.loads(holder) if holder else {}
    pid = details.get("pid", "unknown")
    where = details.get("web_url", "")
    return (
        f"another Ensemble daemon (pid {pid}{', ' + where if where else ''}) is running on this "
        f"{what} ({path}); stop it with 'run_system.py stop' or choose another "
        f"{'--admin-port' if what == 'admin port' else '--data-dir'}"
    )
