"""Every Thespian frame is authenticated with the daemon's secret before anything unpickles it,
and a frame is accepted only once, by the process it was sent to.

Thespian's TCP transport (4.0.1) sends each message as one frame, ``b"<length>>" + body``,
where the body is ``pickle.dumps((sender, message))``, and the receiver unpickles the body of
whatever arrives: on its own, any local process that can connect to the admin, logger or an
actor socket runs code as the daemon's user (DESIGN.md §10). The transport takes both
directions from one module attribute, ``TCPTransport.serializer`` (``dumps`` for frames it
sends, ``loads`` for frames it receives and for the acknowledgement frames ``ackMsg`` and
``ackDataErrMsg`` it answers with), and builds a message frame in one method,
``TCPTransport.TCPTransport.serializer(intent)``. :func:`install` replaces both, so that a
body is ``HMAC-SHA256(secret, header + pickle) + header + pickle``, where the header says who
sent it, to whom and when: the sending process's random 16-byte id, that process's frame
counter (8 bytes), the port of the receiving socket (2 bytes) and when the frame was built
(``time.monotonic_ns()``, 8 bytes; the system-wide monotonic clock, the same in every process
of the machine, and the transport is loopback only).

* ``loads`` recomputes the tag and compares in constant time *before* unpickling. Then a frame
  addressed to a port this process does not listen on, or built before this process began to
  listen on that port, or whose (sender id, counter) it has already accepted, or whose counter
  is below what it still remembers of that sender (:class:`ReplayGuard`), is refused the same
  way: it reads as Thespian's own data-error
  control packet, which the transport already handles by dropping the frame (an incoming one
  is answered with a data-error ack and its socket closed; an awaited ack counts as a bad
  packet). Nothing of it is unpickled. The time check is what makes replay memory per process
  enough: a frame captured on its way to a process that has since gone can never be accepted by
  a later process listening on the same port (a restarted actor), since it was built before
  that process existed; a genuine frame is built only once its sender knows the receiver's
  address, so after the receiver is listening. Thespian builds a frame once per transmit and
  re-sends those same bytes on a retry to the same receiver, which still passes the time check
  (and the replay guard, if the first copy never arrived). The first rejection in a process
  is logged at once (with the reason); later ones are counted and logged at most once a
  minute.
* Thespian's two acknowledgement frames are built once, so they carry a header addressed to
  no one (port 0, counter 0); such a frame is accepted only if it unpickles to one of those two
  control packets. A replayed ack can only tell a sender that its frame arrived, and only to a
  sender that connected to the replaying process.
* a frame that declares more than 64 MB is dropped before it is buffered
  (:class:`BoundedReceiveBuffer`, which replaces ``TCPTransport.ReceiveBuffer``).

The secret is created by the daemon at start (:func:`create_secret`, ``<data-dir>/actor_secret``,
mode 0600) and installed before the ActorSystem starts, so the admin, the logger and every
actor, all forked from there, inherit it in memory; each forked process draws a new sender id
and starts with an empty replay memory (``os.register_at_fork``). A process that Thespian
spawns instead (Windows) gets the secret in its start arguments and installs it before its
transport starts (:mod:`actors.runtime.spawn_setup`). A command that joins the
running system (the benchmarks' producer and order client) reads it from the file and installs
it first.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import os
import pickle
import secrets
import socket
import struct
import time
from collections import OrderedDict, deque
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

__all__ = ["FORGED", "MAX_FRAME_BYTES", "REPLAYED", "SECRET_FILE", "AuthenticatedPickle",
           "BoundedReceiveBuffer",
           "ReplayGuard", "create_secret", "install", "installed", "probe_admin", "read_secret",
           "seal", "unseal"]

SECRET_FILE = "actor_secret"
TAG_BYTES = 32
SECRET_BYTES = 32
SENDER_BYTES = 16
MAX_FRAME_BYTES = 64 * 1024 * 1024  # the largest message (100 symbols' bars) is about 6 MB
_REPEAT_LOG_S = 60.0
_HEADER = struct.Struct(">16sQHQ")  # sender id, counter, receiving port, built at (ns)
_NOBODY = bytes(SENDER_BYTES)
_CONTROL_PACKETS = (ackPacket, ackDataErrPacket)
FORGED = "dropped a Thespian frame that failed authentication, unread"
REPLAYED = "dropped a replayed or misaddressed Thespian frame, unread"

log = get_logger("ensemble.transport")


class _Seen:
    """The counters accepted from one sender, the last ``memory`` of them, and the floor at or
    below which every counter is refused (the largest one forgotten)."""

    __slots__ = ("counters", "floor", "order")

    def __init__(self) -> None:
        self.counters: set[int] = set()
        self.order: deque[int] = deque()
        self.floor = 0

    def accept(self, counter: int, memory: int) -> bool:
        if counter <= self.floor or counter in self.counters:
            return False
        self.counters.add(counter)
        self.order.append(counter)
        if len(self.order) > memory:
            forgotten = self.order.popleft()
            self.counters.discard(forgotten)
            self.floor = max(self.floor, forgotten)
        return True


class ReplayGuard:
    """Which (sender id, counter) pairs this process has accepted.

    A sender's counter grows with every frame it builds; Thespian sends the frames of one sender
    to one receiver one at a time, waiting for each ack, so a genuine frame arrives at most a
    few frames out of order (a retry after a lost connection). The guard remembers the last
    ``memory`` counters of each sender and refuses a repeat, or anything at or below the
    largest counter it has forgotten: a genuine frame is refused only if ``memory`` later frames
    of its sender reached this process before it. Of ``senders`` senders the least recently
    heard is forgotten first (a daemon has about 15 processes, and each restart adds one); the
    frames of a forgotten sender could be replayed again, which needs that many processes to
    have talked to this one since."""

    def __init__(self, memory: int = 4096, senders: int = 1024) -> None:
        self._memory = memory
        self._max_senders = senders
        self._senders: OrderedDict[bytes, _Seen] = OrderedDict()

    def accept(self, sender: bytes, counter: int) -> bool:
        seen = self._senders.get(sender)
        if seen is None:
            seen = self._senders[sender] = _Seen()
            if len(self._senders) > self._max_senders:
                self._senders.popitem(last=False)
        else:
            self._senders.move_to_end(sender)
        return seen.accept(counter, self._memory)


class _Reporter:
    """Logs the first rejection of a kind at once, later ones at most once a minute."""

    __slots__ = ("event", "rejected", "reported_at", "unreported")

    def __init__(self, event: str) -> None:
        self.event = event
        self.rejected = 0
        self.unreported = 0
        self.reported_at = 0.0

    def report(self, size: int, **details: Any) -> None:
        self.rejected += 1
        now = time.monotonic()
        if self.rejected > 1 and now - self.reported_at < _REPEAT_LOG_S:
            self.unreported += 1
            return
        # A log failure must not turn a dropped frame into a crash.
        with contextlib.suppress(Exception):
            log.warning(self.event, pid=os.getpid(), size=size, rejected_total=self.rejected,
                        not_logged_since_last=self.unreported, **details)
        self.reported_at, self.unreported = now, 0


class AuthenticatedPickle:
    """Thespian's serializer, with every body tagged by an HMAC-SHA256 of a header (sender id,
    counter, receiving port) and the pickle, and checked against replay on arrival."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the actor secret must be at least 16 bytes")
        self._key = secret
        self._forged = _Reporter(FORGED)
        self._replayed = _Reporter(REPLAYED)
        self.after_fork()

    def after_fork(self) -> None:
        """A new process: a sender id of its own, and nothing accepted or listened on yet."""
        self._sender = secrets.token_bytes(SENDER_BYTES)
        self._counter = itertools.count(1)
        self.guard = ReplayGuard()
        self.local_ports: dict[int, int] = {}  # port -> monotonic ns before it was bound

    def listen(self, port: int, since_ns: int) -> None:
        """This process listens on ``port`` since ``since_ns`` (``time.monotonic_ns()``
        taken before the socket was bound): frames for it built earlier are refused."""
        self.local_ports[port & 0xFFFF] = since_ns

    def tag(self, body: bytes | memoryview) -> bytes:
        return hmac.digest(self._key, body, "sha256")

    def _sealed(self, header: bytes, value: Any, args: Any, kwargs: Any) -> bytes:
        payload = header + pickle.dumps(value, *args, **kwargs)
        return self.tag(payload) + payload

    def dumps(self, value: Any, *args: Any, **kwargs: Any) -> bytes:
        """A body addressed to no one: only Thespian's prebuilt acknowledgements are built so."""
        return self._sealed(_HEADER.pack(_NOBODY, 0, 0, 0), value, args, kwargs)

    def dumps_to(self, value: Any, port: int) -> bytes:
        """A body for the process listening on ``port``, with this process's next counter."""
        header = _HEADER.pack(self._sender, next(self._counter), port & 0xFFFF,
                              time.monotonic_ns())
        return self._sealed(header, value, (), {})

    def verified(self, data: bytes | memoryview) -> bool:
        view = memoryview(data)
        return len(view) >= TAG_BYTES + _HEADER.size and hmac.compare_digest(
            bytes(view[:TAG_BYTES]), self.tag(view[TAG_BYTES:]))

    def loads(self, data: bytes, *args: Any, **kwargs: Any) -> Any:
        if not self.verified(data):
            self._forged.report(len(data))
            return ackDataErrPacket
        view = memoryview(data)
        sender, counter, port, built_at = _HEADER.unpack_from(view, TAG_BYTES)
        body = view[TAG_BYTES + _HEADER.size:]
        if counter == 0:
            value = pickle.loads(body, *args, **kwargs)  # authentic: one of our own processes
            if isinstance(value, str) and value in _CONTROL_PACKETS:
                return value
            self._replayed.report(len(data), reason="a message frame addressed to no one")
            return ackDataErrPacket
        listening_since = self.local_ports.get(port)
        if listening_since is None:
            self._replayed.report(len(data), reason=f"addressed to port {port}, which this "
                                  "process does not listen on")
            return ackDataErrPacket
        if built_at < listening_since:
            self._replayed.report(len(data), reason=f"built before this process listened on "
                                  f"port {port}")
            return ackDataErrPacket
        if not self.guard.accept(sender, counter):
            self._replayed.report(len(data), reason="this sender's frame was already accepted",
                                  sender=sender.hex()[:8], counter=counter)
            return ackDataErrPacket
        return pickle.loads(body, *args, **kwargs)


class BoundedReceiveBuffer(ReceiveBuffer):  # type: ignore[misc]
    """Thespian's frame reader, refusing a declared length above :data:`MAX_FRAME_BYTES`
    before buffering it (the tag can only be checked once the whole body is in memory). Such a
    frame reads as corrupted, which the transport already handles: an incoming one is dropped
    and its socket closed, an awaited ack is retried."""

    _decoded: tuple[Any] | None = None

    def completed(self) -> tuple[Any, bytes] | None:
        """The frame and what followed it, decoded once: Thespian decodes a message that came
        back on a socket where it awaited an ack a second time (``_check_XMIT_4_done``), and
        the second decode would read as a replay."""
        if self._size is None or self._blen != self._size:
            return None
        if self._decoded is None:
            self._decoded = (self._deserialize(self._buf),)
        return self._decoded[0], self._extra

    def addMore(self, buf: bytes) -> None:
        super().addMore(buf)
        declared = self._size
        if (declared is not None and not 0 <= declared <= MAX_FRAME_BYTES) or (
                declared is None and len(self._buf) > 40):  # a length prefix that never ends
            self._size, self._buf, self._extra = None, b"", b""
            self._blen = 41  # what isDone() takes for "no size could be read: corrupted"


_installed: AuthenticatedPickle | None = None
_ORIGINAL_INIT: Any = None


def _serialize_intent(transport: Any, intent: Any) -> bytes:
    """``TCPTransport.TCPTransport.serializer``: a message frame addressed to its receiver."""
    try:
        port = int(intent.targetAddr.addressDetails.sockname[1])
    except (AttributeError, IndexError, TypeError, ValueError):
        port = 0  # refused by every receiver: fail closed
    assert _installed is not None
    body = _installed.dumps_to((transport.myAddress, intent.message), port)
    return b"%d>" % len(body) + body


def _init_listening(transport: Any, *args: Any, **kwargs: Any) -> None:
    """``TCPTransport.TCPTransport.__init__``, which also records the port it listens on as
    one that frames may be addressed to in this process."""
    since = time.monotonic_ns()
    _ORIGINAL_INIT(transport, *args, **kwargs)
    if _installed is not None:
        _installed.listen(int(transport.socket.getsockname()[1]), since)


def _after_fork_in_child() -> None:
    if _installed is not None:
        _installed.after_fork()


def install(secret: bytes) -> AuthenticatedPickle:
    """Authenticate every Thespian TCP frame of this process (and of its forks) with
    ``secret``. Call before the ActorSystem is created or joined."""
    global _installed, _ORIGINAL_INIT
    serializer = AuthenticatedPickle(secret)
    TCPTransport.serializer = serializer  # type: ignore[attr-defined]
    TCPTransport.ReceiveBuffer = BoundedReceiveBuffer  # type: ignore[attr-defined]
    TCPTransport.ackMsg = toSendBuffer(ackPacket, serializer.dumps)  # type: ignore[attr-defined]
    TCPTransport.ackDataErrMsg = toSendBuffer(  # type: ignore[attr-defined]
        ackDataErrPacket, serializer.dumps)
    if _ORIGINAL_INIT is None:
        _ORIGINAL_INIT = TCPTransport.TCPTransport.__init__
        TCPTransport.TCPTransport.__init__ = _init_listening
        TCPTransport.TCPTransport.serializer = _serialize_intent
        if hasattr(os, "register_at_fork"):  # POSIX; Windows spawns, and forks nothing
            os.register_at_fork(after_in_child=_after_fork_in_child)
    _installed = serializer
    return serializer


def installed() -> AuthenticatedPickle | None:
    return _installed


def seal(data: bytes) -> bytes | None:
    """``data`` tagged with the daemon's secret, for the channels beside Thespian (the publish
    lane, the journal's doorbell); None where no secret is installed (nothing may then go
    that way)."""
    serializer = _installed
    return None if serializer is None else serializer.tag(data) + data


def unseal(frame: bytes | memoryview) -> bytes | None:
    """What :func:`seal` sealed, if ``frame`` carries a valid tag of this daemon's secret;
    None otherwise (or where no secret is installed). Checked before anything is decoded."""
    serializer = _installed
    if serializer is None or len(frame) < TAG_BYTES:
        return None
    body = bytes(frame[TAG_BYTES:])
    if not hmac.compare_digest(bytes(frame[:TAG_BYTES]), serializer.tag(body)):
        return None
    return body


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
    frame = toSendBuffer((None, "ensemble admin probe"),
                         lambda value: serializer.dumps_to(value, port))
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
