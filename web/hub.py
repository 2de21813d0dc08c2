"""Fan-out of live events to WebSocket clients, with replay from the journal.

Events arrive already encoded (JSON, once, by the Broadcaster); msgpack is encoded at most once
per event, the first time a msgpack client needs it. Live events are flushed on average at most
once per flush interval, on one timer shared by every client (:class:`FlushPacer`: a token
bucket of two flushes; while it has a token, at the loop's next pass, else when it will have
one). At the flush, one frame is built for each group of clients that asked for the same types
and format, turned into its bytes on the wire once, and written straight to the socket of every
client of the group that is caught up (nothing queued or being sent, little unsent in its
socket). Any other client gets it queued: each client has its own bounded queue of frames and
its own sender task, which sends what queued as soon as it can, merged into fewer, larger
frames. A client whose queue overflows is closed with code 4000 ("resync") and reconnects with
``?since=``; it never slows the others (the seed's server awaited each client in turn).

Live events come from the journal: the Broadcaster rings its doorbell after each transaction
(:class:`~actors.broadcaster.journal.Doorbell`) and the hub reads the new rows on its loop,
decoding each event's text once for the snapshot mirror. Where no doorbell can be heard, the
Broadcaster sends an ``EventBatch`` instead (:meth:`Hub.publish`). A ring or a batch that never
arrives is made up for from the journal: by the next one when one comes, and by
:meth:`Hub.follow_journal` when none does.

Live quotes (QUOTE events that are not numbered; they come in a doorbell ring's body, or as
:class:`~messages.commands.LiveQuotes` where that cannot be) are coalesced per symbol instead
of queued: each client holds at most one unsent quote per symbol, the latest, so a slow client
gets the latest quotes when it catches up, never a backlog, and quotes never count towards its
queue's limit. When a client has none pending, it is given the
flush's quote frame built once for its group, like any other frame.

Replay is gap-free and duplicate-free: a new client is registered (so live events start
queueing) before the journal is read up to the seq at registration, and the sender skips
anything at or below the last seq it sent (a shared frame that overlaps what a client already
has is rebuilt for it from the events it lacks).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from actors.broadcaster.journal import RING, JournalReader, doorbell_address
from actors.broadcaster.snapshot import Snapshot
from actors.runtime.clock import iso_utc
from actors.runtime.frame_auth import unseal
from messages.codec import (
    decode_json,
    encode_json,
    encode_msgpack,
    json_frame,
    msgpack_frame,
    to_wire,
)
from messages.events import StateSnapshot
from messages.supervision import NodeStatus
from web.metrics import Metrics

__all__ = ["DIRECT_WRITE_LIMIT", "RESYNC_CLOSE_CODE", "FlushPacer", "Frame", "Hub", "LiveEvent",
           "Subscriber", "build_frame", "websocket_frame"]

RESYNC_CLOSE_CODE = 4000
REPLAY_PAGE = 2000
SYNC_WAIT_S = 10.0
CATCH_UP_INTERVAL_S = 0.5


class LiveEvent:
    """One numbered event, shared by every client's queue."""

    __slots__ = ("_msgpack", "seq", "text", "type", "wire")

    def __init__(self, seq: int, kind: str, text: str, wire: dict[str, Any] | None) -> None:
        self.seq = seq
        self.type = kind
        self.text = text
        self.wire = wire
        self._msgpack: bytes | None = None

    @property
    def msgpack(self) -> bytes:
        if self._msgpack is None:
            self._msgpack = encode_msgpack(self.wire or decode_json(self.text))
        return self._msgpack


class Frame:
    """Consecutive live events and, once built, their frame in one format."""

    __slots__ = ("_on_wire", "data", "events")

    def __init__(self, events: Sequence[LiveEvent], data: str | bytes | None = None) -> None:
        self.events = events
        self.data = data
        self._on_wire: bytes | None = None

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq

    def on_wire(self) -> bytes:
        """The whole WebSocket frame (header and payload; a server's frames are not masked),
        built once for every client that is sent it directly."""
        if self._on_wire is None:
            assert self.data is not None
            if isinstance(self.data, bytes):
                self._on_wire = websocket_frame(self.data, _OPCODE_BINARY)
            else:
                self._on_wire = websocket_frame(self.data.encode("utf-8"), _OPCODE_TEXT)
        return self._on_wire


_OPCODE_TEXT = 0x1
_OPCODE_BINARY = 0x2
# A client whose socket holds more than this unsent is sent frames by its own task, which
# waits for the socket to drain; below it, the flush writes the group's frame to it directly.
DIRECT_WRITE_LIMIT = 256 * 1024


def websocket_frame(payload: bytes, opcode: int) -> bytes:
    """One final, unmasked, uncompressed WebSocket frame (RFC 6455 §5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def build_frame(events: Sequence[LiveEvent], binary: bool) -> str | bytes:
    if binary:
        return msgpack_frame([event.msgpack for event in events])
    return json_frame(event.text for event in events)


class FlushPacer:
    """When the next flush may go: on average at most one per interval, with a burst of
    ``burst`` (a token bucket of flushes, filled at one per interval). A flush goes at once
    while a whole token is left, else when one will be. A stream whose batches come about
    one interval apart, with jitter, is flushed as each batch comes (a fixed spacing of one
    interval would hold a batch that came early until the interval's end: up to a whole
    interval of latency, for no fewer frames); one that comes faster is flushed once an
    interval, as before, its batches merged. ``interval_s`` <= 0: no pacing."""

    __slots__ = ("_at", "_credit", "burst", "interval_s")

    def __init__(self, interval_s: float, burst: float = 2.0) -> None:
        self.interval_s = interval_s
        self.burst = burst
        self._credit = burst
        self._at: float | None = None  # when the credit was last brought up to date

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._credit = min(self.burst,
                               self._credit + max(0.0, now - self._at) / self.interval_s)
        self._at = now

    def delay(self, now: float) -> float:
        """Seconds from ``now`` until a flush may go (0: at once)."""
        if self.interval_s <= 0:
            return 0.0
        self._refill(now)
        return 0.0 if self._credit >= 1.0 else (1.0 - self._credit) * self.interval_s

    def flushed(self, now: float) -> None:
        """A flush went at ``now``: it uses one token."""
        if self.interval_s <= 0:
            return
        self._refill(now)
        self._credit = max(0.0, self._credit - 1.0)


@dataclass(eq=False)
class Subscriber:
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    binary: bool
    types: frozenset[str] | None
    limit: int
    queue: deque[Frame] = field(default_factory=deque)
    queued_events: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    last_sent_seq: int = 0
    overflowed: bool = False
    pump: asyncio.Task[None] | None = None
    quotes: dict[str, LiveEvent] = field(default_factory=dict)  # unsent, latest per symbol
    quote_frame: Frame | None = None  # the group's frame, while it is exactly what is unsent
    sending: bool = False  # its task is in a send (waiting for the socket to drain, maybe)

    @property
    def group(self) -> tuple[bool, frozenset[str] | None]:
        """Clients of one group are sent the same frames."""
        return self.binary, self.types

    def wants(self, events: Sequence[LiveEvent]) -> list[LiveEvent]:
        return [e for e in events if self.types is None or e.type in self.types]

    def write_directly(self, frame: Frame) -> bool:
        """Write ``frame`` to the client's socket now, when nothing of its own waits to be sent
        before it and its socket keeps up; False when it must queue instead. A frame is one
        ``write`` of whole bytes, so it never splits another (aiohttp writes whole frames too,
        and uncompressed ones without awaiting in between)."""
        transport = self.transport
        if (self.pump is None or self.sending or self.queue or self.quotes
                or self.overflowed or self.ws.closed or self.ws.compress or transport is None
                or transport.is_closing()
                or transport.get_write_buffer_size() > DIRECT_WRITE_LIMIT
                or (frame.events and frame.events[0].seq
                    and frame.events[0].seq <= self.last_sent_seq)):
            return False
        transport.write(frame.on_wire())
        if frame.events and frame.events[-1].seq:
            self.last_sent_seq = frame.events[-1].seq
        return True

    def offer(self, frame: Frame) -> bool:
        """Queue a frame of events this client wants; True when this overflows its queue."""
        if self.overflowed:
            return False
        if self.queued_events + len(frame.events) > self.limit:
            self.overflowed = True
            self.queue.clear()
            self.queued_events = 0
            return True
        self.queue.append(frame)
        self.queued_events += len(frame.events)
        self.wake.set()
        return False

    def take(self, max_events: int) -> Frame | None:
        """The next frame to send: one queued frame as it is, or, when several queued or one
        overlaps what was sent, their unsent events in a frame of their own."""
        while self.queue and self.queue[0].last_seq <= self.last_sent_seq:
            self.queued_events -= len(self.queue.popleft().events)
        if not self.queue:
            return None
        first = self.queue[0]
        if len(self.queue) == 1 and first.events[0].seq > self.last_sent_seq \
                and len(first.events) <= max_events:
            self.queue.popleft()
            self.queued_events -= len(first.events)
            return first
        events: list[LiveEvent] = []
        while self.queue and len(events) < max_events:
            frame = self.queue[0]
            room = max_events - len(events)
            fresh = [e for e in frame.events if e.seq > self.last_sent_seq]
            if len(fresh) > room:
                # Keep the rest of this frame queued, as a frame of its own.
                self.queue[0] = Frame(fresh[room:])
                self.queued_events -= len(frame.events) - len(fresh) + room
                events.extend(fresh[:room])
                break
            self.queue.popleft()
            self.queued_events -= len(frame.events)
            events.extend(fresh)
        return Frame(events) if events else None

    def offer_quotes(self, frame: Frame) -> None:
        """Hold the frame's quotes, each superseding the unsent one of its symbol."""
        if self.overflowed or not frame.events:
            return
        self.quote_frame = None if self.quotes else frame
        for quote in frame.events:
            self.quotes[_quote_symbol(quote)] = quote
        self.wake.set()

    def take_quotes(self) -> Frame | None:
        """The unsent quotes, as one frame (the group's own when nothing was merged)."""
        if not self.quotes:
            return None
        frame = self.quote_frame or Frame(list(self.quotes.values()))
        self.quotes = {}
        self.quote_frame = None
        return frame

    def frame(self, events: Sequence[LiveEvent]) -> str | bytes:
        return build_frame(events, self.binary)


def _quote_symbol(quote: LiveEvent) -> str:
    wire = quote.wire if quote.wire is not None else decode_json(quote.text)
    return str(wire.get("symbol", ""))


class Hub:
    """Lives on the web loop: the snapshot mirror, the supervisor tree, and the clients."""

    def __init__(
        self,
        journal_path: str,
        *,
        queue_limit: int,
        flush_interval_s: float,
        max_batch_events: int,
        snapshot: Snapshot | None = None,
    ) -> None:
        self.journal_path = journal_path
        self.queue_limit = queue_limit
        self.flush_interval_s = flush_interval_s
        self.max_batch_events = max_batch_events
        self.snapshot = snapshot or Snapshot()
        self.tree: NodeStatus | None = None
        self.subscribers: set[Subscriber] = set()
        self.started = time.monotonic()
        self.counters = {"resyncs": 0, "events": 0, "frames": 0, "connections": 0}
        self.metrics = Metrics(self)
        self._reader: JournalReader | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: list[LiveEvent] = []  # live events waiting for the next flush
        self._pending_quotes: dict[str, LiveEvent] = {}  # live quotes, latest per symbol
        self._flush_timer: asyncio.Handle | None = None
        self._pacer = FlushPacer(flush_interval_s)  # on the loop's clock
        self._read_scheduled = False
        # Set by the Broadcaster's first SnapshotSync; until then the snapshot's seq is not
        # where the journal is, and a client resuming with ?since= would miss events.
        self.synced = asyncio.Event()

    @property
    def last_seq(self) -> int:
        return self.snapshot.last_seq

    def reader(self) -> JournalReader:
        if self._reader is None:
            self._reader = JournalReader(self.journal_path)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # --- from the actor ----------------------------------------------------------------------

    def sync_snapshot(self, data: dict[str, Any], last_seq: int) -> None:
        self.synced.set()
        if last_seq >= self.snapshot.last_seq:
            self.snapshot = Snapshot.from_dict(
                data, self.snapshot.max_events, self.snapshot.max_trades
            )
        self.ring()  # rings heard before the sync were not read

    def ring(self) -> None:
        """The journal has new rows: read them on the loop, once however many rings came."""
        if not self._read_scheduled:
            self._read_scheduled = True
            asyncio.get_running_loop().call_soon(self._read_new_rows)

    def _read_new_rows(self) -> None:
        self._read_scheduled = False
        if not self.synced.is_set():
            return  # until the snapshot's seq is where the journal is
        while True:
            rows = self.reader().texts_after(self.last_seq, REPLAY_PAGE)
            self._deliver([LiveEvent(seq, kind, text, None) for seq, kind, text in rows
                           if seq > self.last_seq])
            if len(rows) < REPLAY_PAGE:
                return

    def live_quotes(self, wires: Sequence[dict[str, Any]], texts: Sequence[str]) -> None:
        """Unnumbered QUOTE events: into the snapshot mirror (unless an older one overtook a
        newer), then to every client at the next flush, the latest per symbol."""
        for wire, text in zip(wires, texts, strict=True):
            if self.snapshot.apply_quote(wire):
                self._pending_quotes[str(wire["symbol"])] = LiveEvent(0, "QUOTE", text, wire)
        if self._pending_quotes:
            self._schedule_flush()

    def quotes_rung(self, frame: bytes) -> None:
        """Live quotes that came in a doorbell ring's body (a JSON array of QUOTE events,
        sealed with the daemon's secret: anything else is dropped unread)."""
        body = unseal(frame)
        if body is None:
            return  # not the Broadcaster's: only this user can ring, and only it can seal
        try:
            wires = decode_json(body)
        except ValueError:
            return
        if not isinstance(wires, list):
            return
        quotes = [wire for wire in wires
                  if isinstance(wire, dict) and wire.get("type") == "QUOTE" and "symbol" in wire]
        if quotes:
            self.live_quotes(quotes, [encode_json(wire) for wire in quotes])

    def set_tree(self, root: NodeStatus) -> None:
        self.tree = root

    def publish(self, wires: Sequence[dict[str, Any]], texts: Sequence[str]) -> None:
        if not wires:
            return
        first = int(wires[0]["seq"])
        events: list[LiveEvent] = []
        if self.snapshot.last_seq and first > self.snapshot.last_seq + 1:
            # A batch went missing (we restarted, or it was lost): fill from the journal.
            for seq, kind, text in self.reader().texts_after(
                self.snapshot.last_seq, first - self.snapshot.last_seq, until=first - 1
            ):
                events.append(LiveEvent(seq, kind, text, None))
        for wire, text in zip(wires, texts, strict=True):
            if int(wire["seq"]) > self.snapshot.last_seq:
                events.append(LiveEvent(int(wire["seq"]), wire["type"], text, wire))
        self._deliver(events)

    async def follow_journal(self, interval_s: float = CATCH_UP_INTERVAL_S) -> None:
        """Listen on the journal's doorbell, and deliver numbered events that no ring or batch
        brought one interval after the journal had them (Thespian can lose a message, a ring
        can come before the sync, and nothing else would ever fill a gap at the end of the
        stream). Runs on the web loop for the life of the server."""
        seen_in_journal = 0
        doorbell = await self._listen_for_doorbell()
        try:
            while True:
                await asyncio.sleep(interval_s)
                seen_in_journal = await self._catch_up(seen_in_journal)
                if doorbell is None:  # a WebFront before us may have held it while it exited
                    doorbell = await self._listen_for_doorbell()
        finally:
            if doorbell is not None:
                doorbell.close()
                address = doorbell_address(self.journal_path)
                if address is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(address)  # no file left behind in the runtime directory

    async def _listen_for_doorbell(self) -> asyncio.DatagramTransport | None:
        family = getattr(socket, "AF_UNIX", None)
        if family is None:
            return None
        hub = self

        class Listener(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                if data == RING:
                    hub.ring()
                else:
                    hub.quotes_rung(data)

        address = doorbell_address(self.journal_path)
        if address is None:
            return None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)  # left by a WebFront that died; this one replaces it
        try:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                Listener, local_addr=address, family=family)
        except OSError:
            return None  # no support: the Broadcaster's batches come by message instead
        return transport

    async def _catch_up(self, seen_in_journal: int) -> int:
        """Deliver what the journal had one interval ago and we still lack; returns where the
        journal is now."""
        if self.synced.is_set() and self.last_seq < seen_in_journal:
            rows = await asyncio.to_thread(self.read_journal, self.last_seq,
                                           seen_in_journal - self.last_seq, None,
                                           seen_in_journal)
            self._deliver([LiveEvent(seq, kind, text, None) for seq, kind, text in rows
                           if seq > self.last_seq])
        return await asyncio.to_thread(self._journal_last_seq)

    def journal_last_seq(self) -> int:
        """The journal's last seq (opens its own connection: any thread may call it)."""
        return self._journal_last_seq()

    async def wait_synced(self, timeout: float = SYNC_WAIT_S) -> bool:
        """Wait (at most ``timeout``) for the Broadcaster's first SnapshotSync."""
        if not self.synced.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.synced.wait(), timeout)
        return self.synced.is_set()

    def _journal_last_seq(self) -> int:
        reader = JournalReader(self.journal_path)
        try:
            return reader.last_seq()
        finally:
            reader.close()

    def _deliver(self, events: Sequence[LiveEvent]) -> None:
        if not events:
            return
        for event in events:
            wire = event.wire if event.wire is not None else decode_json(event.text)
            self.snapshot.apply(wire)
            self.metrics.observe(wire)
        self.counters["events"] += len(events)
        self._pending.extend(events)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        """On average at most one flush per flush interval (:class:`FlushPacer`): while the
        pacer has a token, at the loop's next pass (with whatever else arrives in this one),
        else when it will have one."""
        if self._flush_timer is None:
            loop = asyncio.get_running_loop()
            wait = self._pacer.delay(loop.time())
            if wait > 0:
                self._flush_timer = loop.call_later(wait, self._flush)
            else:
                self._flush_timer = loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Build each group's frames once and queue them for every client of the group."""
        self._flush_timer = None
        pending, self._pending = self._pending, []
        quotes, self._pending_quotes = list(self._pending_quotes.values()), {}
        if not pending and not quotes:
            return
        self._pacer.flushed(asyncio.get_running_loop().time())
        groups: dict[tuple[bool, frozenset[str] | None], tuple[list[Frame], Frame | None]] = {}
        step = self.max_batch_events
        for subscriber in list(self.subscribers):
            built = groups.get(subscriber.group)
            if built is None:
                wanted = subscriber.wants(pending)
                wanted_quotes = subscriber.wants(quotes)
                built = groups[subscriber.group] = (
                    [Frame(chunk, build_frame(chunk, subscriber.binary))
                     for chunk in (wanted[i : i + step] for i in range(0, len(wanted), step))],
                    Frame(wanted_quotes, build_frame(wanted_quotes, subscriber.binary))
                    if wanted_quotes else None,
                )
            frames, quote_frame = built
            if quote_frame is not None and not subscriber.write_directly(quote_frame):
                subscriber.offer_quotes(quote_frame)
            elif quote_frame is not None:
                self.counters["frames"] += 1
            for frame in frames:
                if subscriber.write_directly(frame):
                    self.counters["frames"] += 1
                    continue
                if subscriber.offer(frame):
                    # Its sender may be stuck in a send that never completes: act now.
                    self._background(self._resync(subscriber))
                    break

    # --- clients -----------------------------------------------------------------------------

    def state_snapshot_text(self) -> str:
        """The STATE_SNAPSHOT event a connection starts with, encoded."""
        event = StateSnapshot(timestamp=iso_utc(time.time()), data=self.snapshot.to_dict())
        return encode_json(to_wire(event))

    async def serve(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        *,
        since: int | None,
        types: frozenset[str] | None,
        binary: bool,
    ) -> None:
        await self.wait_synced()
        subscriber = Subscriber(ws, transport, binary, types, self.queue_limit)
        self.subscribers.add(subscriber)
        self.counters["connections"] += 1
        live_from = self.last_seq
        sender: asyncio.Task[None] | None = None
        try:
            snapshot = LiveEvent(0, StateSnapshot.TYPE, self.state_snapshot_text(), None)
            await self._send(subscriber, [snapshot])
            subscriber.last_sent_seq = live_from if since is None else since
            if since is not None and since < live_from:
                await self._replay(subscriber, since, live_from)
            subscriber.last_sent_seq = max(subscriber.last_sent_seq, live_from)
            sender = subscriber.pump = asyncio.create_task(self._pump(subscriber))
            async for _ in ws:
                pass  # clients have nothing to say; reading keeps close and ping handling alive
        finally:
            self.subscribers.discard(subscriber)
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender

    def read_journal_latest(self, kind: str, limit: int) -> list[tuple[int, str, str]]:
        """The latest ``limit`` events of one type, oldest first (any thread may call it)."""
        reader = JournalReader(self.journal_path)
        try:
            return reader.latest_of_type(kind, limit)
        finally:
            reader.close()

    async def _replay(self, subscriber: Subscriber, since: int, until: int) -> None:
        cursor = since
        types = sorted(subscriber.types) if subscriber.types is not None else None
        while cursor < until:
            rows = await asyncio.to_thread(self.read_journal, cursor, REPLAY_PAGE, types, until)
            if not rows:
                break
            events = [LiveEvent(seq, kind, text, None) for seq, kind, text in rows]
            for start in range(0, len(events), self.max_batch_events):
                await self._send(subscriber, events[start : start + self.max_batch_events])
            cursor = rows[-1][0]
            subscriber.last_sent_seq = cursor
        subscriber.last_sent_seq = until

    def read_journal(
        self, since: int, limit: int, types: list[str] | None = None, until: int | None = None
    ) -> list[tuple[int, str, str]]:
        """Journal rows after ``since``; opens its own connection, so any thread may call it."""
        reader = JournalReader(self.journal_path)
        try:
            return reader.texts_after(since, limit, types, until=until)
        finally:
            reader.close()

    async def _pump(self, subscriber: Subscriber) -> None:
        while not subscriber.ws.closed and not subscriber.overflowed:
            await subscriber.wake.wait()
            subscriber.wake.clear()
            while not subscriber.overflowed:
                quotes = subscriber.take_quotes()
                if quotes is not None:
                    await self._send(subscriber, quotes.events, quotes.data)
                frame = subscriber.take(self.max_batch_events)
                if frame is None:
                    if quotes is None:
                        break
                    continue
                await self._send(subscriber, frame.events, frame.data)
                subscriber.last_sent_seq = frame.last_seq

    async def _send(self, subscriber: Subscriber, events: Sequence[LiveEvent],
                    data: str | bytes | None = None) -> None:
        frame = data if data is not None else subscriber.frame(events)
        subscriber.sending = True
        try:
            if isinstance(frame, bytes):
                await subscriber.ws.send_bytes(frame)
            else:
                await subscriber.ws.send_str(frame)
        finally:
            subscriber.sending = False
        self.counters["frames"] += 1

    def _background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resync(self, subscriber: Subscriber) -> None:
        """Close a client that fell too far behind; it reconnects with ``?since=``."""
        self.counters["resyncs"] += 1
        if subscriber.pump is not None:
            subscriber.pump.cancel()
        message = f"resync: too far behind; reconnect with ?since={subscriber.last_sent_seq}"
        try:
            await asyncio.wait_for(
                subscriber.ws.close(code=RESYNC_CLOSE_CODE, message=message.encode()[:120]), 2.0
            )
        except (TimeoutError, ConnectionError):
            if subscriber.transport is not None:
                subscriber.transport.abort()  # a stalled peer never reads our close frame

    async def close_all(self, code: int = 1001, message: bytes = b"server shutting down") -> None:
        closing: Iterable[Subscriber] = list(self.subscribers)
        await asyncio.gather(
            *(asyncio.wait_for(s.ws.close(code=code, message=message), 1.0) for s in closing),
            return_exceptions=True,
        )
