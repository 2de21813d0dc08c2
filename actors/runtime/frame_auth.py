"""Every Thespian frame is authenticated with the daemon's secret before anything unpickles it.

Thespian's TCP transport (4.0.1) sends each message as one frame, ``b"<length>>" + body``,
where the body is ``pickle.dumps((sender, message))``, and the receiver unpickles the body of
whatever arrives: on its own, any local process that can connect to the admin, logger or an
actor socket runs code as the daemon's user (DESIGN.md §10). The transport takes both
directions from one module attribute, ``TCPTransport.serializer`` (``dumps`` for frames it
sends, ``loads`` for frames it receives and for the acknowledgement frames ``ackMsg`` and
``ackDataErrMsg`` it answers with). :func:`install` replaces that attribute with
:class:`AuthenticatedPickle`, whose body is ``HMAC-SHA256(secret, pickle) + pickle``:

* ``dumps`` prepends the tag;
* ``loads`` recomputes it and compares in constant time *before* unpickling. A frame that fails
  reads as Thespian's own data-error control packet, which the transport already handles by
  dropping the frame (an incoming one is answered with a data-error ack and its socket closed;
  an awaited ack counts as a bad packet). Nothing of it is unpickled. The first rejection in a
  process is logged at once; later ones are counted and logged at most once a minute.
* a frame that declares more than 64 MB is dropped before it is buffered
  (:class:`BoundedReceiveBuffer`, which replaces ``TCPTransport.ReceiveBuffer``).

The secret is created by the daemon at start (:func:`create_secret`, ``<data-dir>/actor_secret``,
mode 0600) and installed before the ActorSystem starts, so the admin, the logger and every
actor, all forked from there, inherit it in memory. A command that joins the running system
(the benchmarks' producer and order client) reads it from the file and installs it first. There
is no replay protection: on one host a frame can only be observed by root.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import pickle
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from thespian.system.transport import TCPTransport
from thespian.system.transport.streamBuffer import (
    ReceiveBuffer,
    ackDataErrPacket,
    ackPacket,
    toSendBuffer,
)

from actors.runtime.logs import get_logger

__all__ = ["MAX_FRAME_BYTES", "SECRET_FILE", "AuthenticatedPickle", "BoundedReceiveBuffer",
           "create_secret", "install", "installed", "probe_admin", "read_secret"]

SECRET_FILE = "actor_secret"
TAG_BYTES = 32
SECRET_BYTES = 32
MAX_FRAME_BYTES = 64 * 1024 * 1024  # the largest message (100 symbols' bars) is about 6 MB
_REPEAT_LOG_S = 60.0

log = get_logger("ensemble.transport")


class AuthenticatedPickle:
    """Thespian's serializer, with every body tagged by an HMAC-SHA256 of the pickle."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the actor secret must be at least 16 bytes")
        self._key = secret
        self._rejected = 0
        self._unreported = 0
        self._reported_at = 0.0

    def tag(self, body: bytes) -> bytes:
        return hmac.digest(self._key, body, "sha256")

    def dumps(self, value: Any, *args: Any, **kwargs: Any) -> bytes:
        body = pickle.dumps(value, *args, **kwargs)
        return self.tag(body) + body

    def verified(self, data: bytes) -> bool:
        view = memoryview(data)
        return len(view) > TAG_BYTES and hmac.compare_digest(
            bytes(view[:TAG_BYTES]), self.tag(view[TAG_BYTES:]))

    def loads(self, data: bytes, *args: Any, **kwargs: Any) -> Any:
        if not self.verified(data):
            self._report(len(data))
            return ackDataErrPacket
        return pickle.loads(memoryview(data)[TAG_BYTES:], *args, **kwargs)

    def _report(self, size: int) -> None:
        self._rejected += 1
        now = time.monotonic()
        if self._rejected > 1 and now - self._reported_at < _REPEAT_LOG_S:
            self._unreported += 1
            return
        # A log failure must not turn a dropped frame into a crash.
        with contextlib.suppress(Exception):
            log.warning("dropped a Thespian frame that failed authentication, unread",
                        pid=os.getpid(), size=size, rejected_total=self._rejected,
                        not_logged_since_last=self._unreported)
        self._reported_at, self._unreported = now, 0


class BoundedReceiveBuffer(ReceiveBuffer):  # type: ignore[misc]
    """Thespian's frame reader, refusing a declared length above :data:`MAX_FRAME_BYTES`
    before buffering it (the tag can only be checked once the whole body is in memory). Such a
    frame reads as corrupted, which the transport already handles: an incoming one is dropped
    and its socket closed, an awaited ack is retried."""

    def addMore(self, buf: bytes) -> None:
        super().addMore(buf)
        declared = self._size
        if (declared is not None and not 0 <= declared <= MAX_FRAME_BYTES) or (
                declared is None and len(self._buf) > 40):  # a length prefix that never ends
            self._size, self._buf, self._extra = None, b"", b""
            self._blen = 41  # what isDone() takes for "no size could be read: corrupted"


_installed: AuthenticatedPickle | None = None


def install(secret: bytes) -> AuthenticatedPickle:
    """Authenticate every Thespian TCP frame of this process (and of its forks) with
    ``secret``. Call before the ActorSystem is created or joined."""
    global _installed
    serializer = AuthenticatedPickle(secret)
    TCPTransport.serializer = serializer  # type: ignore[attr-defined]
    TCPTransport.ReceiveBuffer = BoundedReceiveBuffer  # type: ignore[attr-defined]
    TCPTransport.ackMsg = toSendBuffer(ackPacket, serializer.dumps)  # type: ignore[attr-defined]
    TCPTransport.ackDataErrMsg = toSendBuffer(  # type: ignore[attr-defined]
        ackDataErrPacket, serializer.dumps)
    _installed = serializer
    return serializer


def installed() -> AuthenticatedPickle | None:
    return _installed


def create_secret(data_dir: Path) -> bytes:
    """A fresh secret for this daemon, written to ``<data-dir>/actor_secret`` (mode 0600)."""
    secret = secrets.token_bytes(SECRET_BYTES)
    path = data_dir / SECRET_FILE
    partial = data_dir / f".{SECRET_FILE}.{os.getpid()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(partial, flags, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secret.hex() + "\n")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return secret


def read_secret(data_dir: Path) -> bytes | None:
    """The secret of the daemon that last started on ``data_dir``, or None if there is none."""
    path = data_dir / SECRET_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, encoding="ascii") as handle:
        text = handle.read().strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path} does not hold a hex secret; delete it to have a new one "
                         "created") from None


def probe_admin(port: int, secret: bytes | None, host: str = "127.0.0.1",
                timeout: float = 3.0) -> bool:
    """Whether the admin listening on ``port`` holds ``secret``, asked without unpickling a
    byte of its answer: a harmless frame (which an admin discards) is sent, and the ack frame
    that comes back must carry a valid tag."""
    if secret is None:
        return False
    serializer = AuthenticatedPickle(secret)
    frame = toSendBuffer((None, "ensemble admin probe"), serializer.dumps)
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(frame)
        received = b""
        deadline = time.monotonic() + timeout
        while b">" not in received[:24] and time.monotonic() < deadline:
            chunk = connection.recv(64)
            if not chunk:
                return False
            received += chunk
        length_text, marker, body = received.partition(b">")
        if not marker or not length_text.isdigit() or int(length_text) > 4096:
            return False
        size = int(length_text)
        while len(body) < size and time.monotonic() < deadline:
            chunk = connection.recv(size - len(body))
            if not chunk:
                break
            body += chunk
    return len(body) == size and serializer.verified(body)
