"""One daemon per admin port and per data directory.

Each running daemon holds two ``flock`` locks: one on ``<tmp>/ensemble-<uid>/admin-<port>.lock``
and one on ``<data-dir>/daemon.lock``. The kernel releases them when the process dies, however
it dies, so a lock that can be taken means no live daemon holds it, and a stale lock file is
never mistaken for a running daemon. The admin-port lock file also holds a JSON description of
the daemon (pid, web URL, data directory, token file) for ``run_system.py status`` and ``stop``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["AlreadyRunning", "DaemonInfo", "InstanceLock", "admin_lock_path", "read_daemon_info"]


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


def admin_lock_path(admin_port: int) -> Path:
    directory = Path(tempfile.gettempdir()) / f"ensemble-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory / f"admin-{admin_port}.lock"


def read_daemon_info(admin_port: int) -> DaemonInfo | None:
    """The description of the live daemon on ``admin_port``, or None if there is none."""
    path = admin_lock_path(admin_port)
    if not path.exists() or not _is_locked(path):
        return None
    with contextlib.suppress(ValueError, TypeError, OSError):
        return DaemonInfo(**json.loads(path.read_text(encoding="utf-8")))
    return None


def _is_locked(path: Path) -> bool:
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


class InstanceLock:
    """Both locks, taken together or not at all."""

    def __init__(self, admin_port: int, data_dir: Path) -> None:
        self.admin_path = admin_lock_path(admin_port)
        self.data_path = data_dir / "daemon.lock"
        self._handles: list[IO[str]] = []

    def acquire(self) -> None:
        try:
            for path, what in ((self.admin_path, "admin port"),
                               (self.data_path, "data directory")):
                handle = open(path, "a+")  # noqa: SIM115 - held for the daemon's lifetime
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
        for handle in self._handles:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(asdict(info)))
            handle.flush()

    def release(self) -> None:
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
