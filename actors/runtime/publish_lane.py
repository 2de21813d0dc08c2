"""The publish lane: ``Publish`` messages from any actor to the Broadcaster over a Unix stream
socket, beside Thespian.

A Thespian message between two processes costs one to two milliseconds of CPU on each side
whatever it carries (its transport's loop builds a new selector on every pass, every frame is
acknowledged, and both are authenticated); at a thousand events a second that hop was most of
the event pipeline's CPU (README, "Fan-out"). On this lane a ``Publish`` costs its pickling, one
``send`` and one ``recv``: the Broadcaster watches the lane's sockets (``ThespianWatch``) and
reads every complete message that arrived since its last wake-up in one go.

- Where: a socket in the user's private runtime directory (0700, checked), named after the
  data directory, like the journal's doorbell; on Linux the Broadcaster also refuses a peer of
  another user (``SO_PEERCRED``). None where there is no such directory or no Unix sockets:
  every ``Publish`` then goes by Thespian, as before.
- Order: one connection per sender, a stream, so one sender's messages arrive in the order sent
  (Thespian does not promise that).
- Never blocking: :meth:`LaneSender.send` writes what the socket takes and keeps the rest, which
  :meth:`LaneSender.flush` writes later (the actor arms a short timer); whatever cannot go on
  the lane (no Broadcaster listening yet, the connection broken before a message started to
  go) is handed back to go by Thespian instead.
- Frames: a 4-byte big-endian length, then the pickle sealed with the daemon's secret (an
  HMAC-SHA256 tag, :func:`~actors.runtime.frame_auth.seal`), checked before anything is
  unpickled, as every Thespian frame is: the directory and the peer check keep other users out,
  the tag keeps out a process of this user that is not the daemon's. A declared length above
  :data:`MAX_FRAME_BYTES`, a frame without a valid tag, or one that is not a message the reader
  accepts, closes that connection. Without a secret installed, nothing goes by the lane.

Only messages between processes of one daemon take this lane: an actor runs it only when it is
a process of its own (not in ``simpleSystemBase``, where nothing watches sockets).

- Reading: :class:`LaneReader` is a thread that waits on the inbox's sockets itself and hands
  what one wait brought to a callback, so that lane traffic costs the reader's process no pass
  of Thespian's loop (0.35 ms of CPU each, DESIGN.md §10). The callback runs on that thread;
  when it raises, the thread stops and the actor's watched socket becomes readable, so the
  actor sees the error (:meth:`LaneReader.check`) and crashes as it would in a handler.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Any

from actors.runtime.frame_auth import seal, unseal
from actors.runtime.private import private_socket_path

__all__ = ["MAX_FRAME_BYTES", "LaneInbox", "LaneReader", "LaneSender", "Sent", "lane_address"]

MAX_FRAME_BYTES = 64 * 1024 * 1024
RECONNECT_INTERVAL_S = 1.0
_LENGTH = struct.Struct("!I")
_READ_CHUNK = 1 << 20


def lane_address(data_dir: str | Path) -> str | None:
    """The lane's socket for the daemon of ``data_dir``, or None where there can be none."""
    return private_socket_path("lane", data_dir, ".sock")


class Sent(Enum):
    """What became of what was given to :meth:`LaneSender.send` or :meth:`LaneSender.flush`."""

    DONE = "done"  # all of it is in the socket
    PENDING = "pending"  # the socket took part of what is queued: call flush() a little later
    REFUSED = "refused"  # the lane is not open: what it returns must go another way


class _Frame:
    __slots__ = ("data", "message", "started")

    def __init__(self, message: Any, data: bytes) -> None:
        self.message = message
        self.data = memoryview(data)
        self.started = False


class LaneSender:
    """A sender's end: one connection to the Broadcaster's inbox, opened when first needed and
    again after it breaks (at most once a second while nobody listens)."""

    def __init__(self, address: str | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.address = address
        self._clock = clock
        self._socket: socket.socket | None = None
        self._queue: deque[_Frame] = deque()
        self._next_connect = 0.0

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def send(self, message: Any) -> tuple[Sent, list[Any]]:
        """Queue ``message`` on the lane and write what the socket takes now. Returns what
        happened and, when the lane is not open, the messages to send another way (this one,
        after any queued that never started to go), in order."""
        if self._socket is None and not self._connect():
            return Sent.REFUSED, [*self._take_unsent(), message]
        data = seal(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
        if data is None or len(data) > MAX_FRAME_BYTES:
            return Sent.REFUSED, [*self._take_unsent(), message]
        self._queue.append(_Frame(message, _LENGTH.pack(len(data)) + data))
        return self._write()

    def flush(self) -> tuple[Sent, list[Any]]:
        """Write what is queued (as :meth:`send` answers)."""
        if not self._queue:
            return Sent.DONE, []
        if self._socket is None:
            return Sent.REFUSED, self._take_unsent()
        return self._write()

    def drain(self, timeout_s: float) -> list[Any]:
        """Write what is queued, waiting up to ``timeout_s`` (when the actor stops). Returns the
        messages that could not start to go."""
        deadline = self._clock() + timeout_s
        while self._queue and self._socket is not None and self._clock() < deadline:
            state, unsent = self._write()
            if state is Sent.REFUSED:
                return unsent
            if self._queue:
                time.sleep(0.001)
        return self._take_unsent()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _connect(self) -> bool:
        if self.address is None or self._clock() < self._next_connect:
            return False
        family = getattr(socket, "AF_UNIX", None)
        if family is None:
            return False
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.connect(self.address)
        except OSError:
            sock.close()
            self._next_connect = self._clock() + RECONNECT_INTERVAL_S
            return False
        sock.setblocking(False)
        self._socket = sock
        return True

    def _write(self) -> tuple[Sent, list[Any]]:
        assert self._socket is not None
        while self._queue:
            frame = self._queue[0]
            try:
                written = self._socket.send(frame.data)
            except BlockingIOError:
                return Sent.PENDING, []
            except OSError:
                # The reader is gone (a Broadcaster that stopped or crashed). A frame it was
                # part way through is lost with it, as a Thespian message to a dead actor is;
                # the others go another way.
                self.close()
                self._next_connect = 0.0  # a new Broadcaster may already listen
                if frame.started:
                    self._queue.popleft()
                return Sent.REFUSED, self._take_unsent()
            frame.started = True
            if written < len(frame.data):
                frame.data = frame.data[written:]
                return Sent.PENDING, []
            self._queue.popleft()
        return Sent.DONE, []

    def _take_unsent(self) -> list[Any]:
        unsent = [frame.message for frame in self._queue]
        self._queue.clear()
        return unsent


class LaneInbox:
    """The Broadcaster's end: a listening socket and a connection per sender. ``accepts``
    says which unpickled messages are taken; anything else closes its connection."""

    def __init__(self, address: str, accepts: Callable[[Any], bool]) -> None:
        self.address = address
        self._accepts = accepts
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)  # left by a Broadcaster that died; this one replaces it
        self._listener.bind(address)
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._connections: dict[int, tuple[socket.socket, bytearray]] = {}
        self.refused = 0  # connections closed for a peer or frame that is not ours

    def filenos(self) -> list[int]:
        return [self._listener.fileno(), *self._connections]

    def read(self, ready: Iterable[int]) -> list[Any]:
        """Accept new senders and read every complete message that arrived on ``ready``
        sockets, each sender's in the order it sent them."""
        messages: list[Any] = []
        for fd in ready:
            if fd == self._listener.fileno():
                self._accept()
            elif fd in self._connections:
                messages.extend(self._read_connection(fd))
        return messages

    def close(self) -> None:
        for sock, _ in self._connections.values():
            sock.close()
        self._connections.clear()
        self._listener.close()
        with contextlib.suppress(OSError):
            os.unlink(self.address)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not _same_user(sock):
                self.refused += 1
                sock.close()
                continue
            sock.setblocking(False)
            self._connections[sock.fileno()] = (sock, bytearray())

    def _read_connection(self, fd: int) -> list[Any]:
        sock, buffer = self._connections[fd]
        closed = False
        while True:
            try:
                chunk = sock.recv(_READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buffer += chunk
        messages: list[Any] = []
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, start)
            if size > MAX_FRAME_BYTES:
                closed = True
                self.refused += 1
                break
            end = start + _LENGTH.size + size
            if len(buffer) < end:
                break
            body = unseal(memoryview(buffer)[start + _LENGTH.size : end])
            try:
                message = None if body is None else pickle.loads(body)
            except Exception:  # a frame that is not ours: nothing more from this sender
                message = None
            if message is None or not self._accepts(message):
                closed = True
                self.refused += 1
                break
            messages.append(message)
            start = end
        del buffer[:start]
        if closed:
            sock.close()
            del self._connections[fd]
        return messages


def _same_user(sock: socket.socket) -> bool:
    """On Linux, whether the peer runs as this user (the directory already keeps others out)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None or not hasattr(os, "getuid"):
        return True
    try:
        credentials = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return False
    _, uid, _ = struct.unpack("3i", credentials)
    return uid == os.getuid()


class LaneReader:
    """A thread that reads ``inbox`` and calls ``deliver`` with every batch of messages one
    wait brought, in each sender's order, until :meth:`stop`.

    :meth:`fileno` is the actor's side of a socket pair: readable when the actor has something
    to do (:meth:`poke`, from ``deliver``) or when ``deliver`` raised, which :meth:`check`
    then raises again on the actor's thread."""

    def __init__(self, inbox: LaneInbox, deliver: Callable[[list[Any]], None]) -> None:
        self.inbox = inbox
        self._deliver = deliver
        self._actor_side, self._reader_side = socket.socketpair()
        self._stop_read, self._stop_write = socket.socketpair()
        for end in (self._actor_side, self._reader_side, self._stop_read, self._stop_write):
            end.setblocking(False)
        self._stopping = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="publish-lane", daemon=True)

    def start(self) -> LaneReader:
        self._thread.start()
        return self

    def fileno(self) -> int:
        return self._actor_side.fileno()

    def poke(self) -> None:
        """Make :meth:`fileno` readable (from the reader's thread): the actor has work."""
        with contextlib.suppress(BlockingIOError):  # already readable: it will look anyway
            self._reader_side.send(b"\0")

    def check(self) -> None:
        """On the actor's thread, after :meth:`fileno` was readable: clear it, and raise what
        ``deliver`` raised, if it did."""
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._actor_side.recv(4096):
                pass
        if self.error is not None:
            raise RuntimeError(f"the publish lane's reader stopped: {self.error!r}") \
                from self.error

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread (a ``deliver`` under way finishes first) and close the inbox."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._stop_write.send(b"\0")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        self.inbox.close()
        for end in (self._actor_side, self._reader_side, self._stop_read, self._stop_write):
            end.close()

    def _run(self) -> None:
        stop_fd = self._stop_read.fileno()
        try:
            while not self._stopping:
                # A poll built on each pass: the inbox's connections come and go, and a closed
                # connection's number may be reused at once by the next one accepted.
                poller = select.poll()
                for fd in (stop_fd, *self.inbox.filenos()):
                    poller.register(fd, select.POLLIN)
                ready = [fd for fd, _ in poller.poll() if fd != stop_fd]
                if self._stopping:
                    return
                messages = self.inbox.read(ready)
                if messages:
                    self._deliver(messages)
        except BaseException as error:  # the actor crashes with it (check)
            self.error = error
            self.poke()
