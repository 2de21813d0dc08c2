"""Private files: the data directory, the runtime directory, and files opened without following
links.

The data directory holds the account, positions, order intents, decisions, the API token and
the actor secret, so it is created 0700 and every file in it is 0600 (the daemon sets its umask
to 0o077, so SQLite's ``-wal``/``-shm`` files and Thespian's log are born private too; files and
directories left readable by an older run are tightened at start).

The runtime directory holds the admin-port locks that ``status`` and ``stop`` read: it is
``$XDG_RUNTIME_DIR/ensemble`` when that variable is set, else ``<tmp>/ensemble-<uid>``. A
directory in a shared place can be planted by another user, so it is checked with ``lstat``
(no symbolic link followed) to be a directory owned by this user that nobody else can enter,
or refused. Lock and pid files are opened with ``O_NOFOLLOW`` and checked to be regular files
owned by this user.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import tempfile
from pathlib import Path

from actors.runtime.logs import get_logger

__all__ = ["PRIVATE_UMASK", "UnsafePath", "open_private", "prepare_data_dir", "private_socket_path",
           "runtime_dir"]

PRIVATE_UMASK = 0o077

log = get_logger("ensemble.files")


class UnsafePath(RuntimeError):
    """A directory or file that another user could have planted or can read."""


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None


def runtime_dir(environ: dict[str, str] | None = None) -> Path:
    """The checked runtime directory (created 0700 if missing)."""
    environ = dict(os.environ) if environ is None else environ
    uid = _uid()
    xdg = environ.get("XDG_RUNTIME_DIR", "")
    if xdg:
        _check_private_dir(Path(xdg), "XDG_RUNTIME_DIR")
        directory = Path(xdg) / "ensemble"
    else:
        directory = Path(tempfile.gettempdir()) / f"ensemble-{'user' if uid is None else uid}"
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    _check_private_dir(directory, "the runtime directory")
    return directory


def private_socket_path(prefix: str, named_after: str | Path, suffix: str) -> str | None:
    """A Unix socket's path in the private runtime directory, named after ``named_after``
    (resolved): only this user can bind it, connect to it or see it. None where there is no
    such directory or no Unix sockets."""
    if getattr(socket, "AF_UNIX", None) is None:
        return None
    try:
        directory = runtime_dir()
    except (OSError, RuntimeError, ValueError):
        return None
    digest = hashlib.sha256(str(Path(named_after).resolve()).encode()).hexdigest()[:24]
    return str(directory / f"{prefix}-{digest}{suffix}")


def _check_private_dir(directory: Path, what: str) -> None:
    try:
        info = os.lstat(directory)
    except OSError as error:
        raise UnsafePath(f"{what} {directory} cannot be checked: {error.strerror}") from None
    uid = _uid()
    problem = None
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory"
    elif uid is not None and info.st_uid != uid:
        problem = f"is owned by uid {info.st_uid}, not by this user (uid {uid})"
    elif uid is not None and info.st_mode & 0o077:
        problem = f"is accessible to other users (mode {stat.S_IMODE(info.st_mode):04o})"
    if problem is not None:
        raise UnsafePath(
            f"{what} {directory} {problem}; refusing to use it. Remove it (another user may "
            "have planted it) or set XDG_RUNTIME_DIR to a directory of yours with mode 0700"
        )


def open_private(path: Path, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    """``os.open`` without following a symbolic link, creating the file 0600; the result must
    be a regular file owned by this user, or :class:`UnsafePath` is raised."""
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags, 0o600)
    except OSError:
        if os.path.islink(path):
            raise UnsafePath(f"{path} is a symbolic link; refusing to open it (another user "
                             "may have planted it); remove it") from None
        raise
    info = os.fstat(descriptor)
    uid = _uid()
    if not stat.S_ISREG(info.st_mode) or (uid is not None and info.st_uid != uid):
        os.close(descriptor)
        raise UnsafePath(f"{path} is not a regular file owned by this user; refusing to use it")
    return descriptor


def prepare_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` 0700, or tighten it and the files in it to 0700/0600."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tightened = []
    for path in (data_dir, *data_dir.iterdir()):
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
            continue
        if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
            os.chmod(path, 0o700 if stat.S_ISDIR(info.st_mode) else 0o600)
            tightened.append(path.name or str(path))
    if tightened:
        log.warning("made the data directory private: it was readable by other users",
                    data_dir=str(data_dir), tightened=", ".join(sorted(tightened))[:300])
