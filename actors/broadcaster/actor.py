"""The Broadcaster actor: numbers every event, journals it, keeps the rolling snapshot, and
forwards events to the WebFront in batches.

Events come in :class:`~messages.commands.Publish` messages, by Thespian or, from actors in
processes of their own, on the publish lane (:mod:`actors.runtime.publish_lane`: Unix sockets
that a reader thread of this process waits on, :class:`~actors.runtime.publish_lane.LaneReader`,
so that lane traffic costs no pass of Thespian's loop; where there is no ``select.poll`` the
actor watches the sockets itself). Each Thespian ``Publish``, and all the publishes read from
the lane at one wake-up of the reader, become one journal transaction (state-like events a
later one among them supersedes are dropped first, :mod:`.coalesce`), with each event
encoded to JSON exactly once, and a ring of the journal's doorbell: the WebFront reads the new
rows from the journal itself. Only when no WebFront listens on the doorbell (none yet, or a
platform without Unix sockets) do the events go to it as an
:class:`~messages.commands.EventBatch`. The seq only ever grows, across restarts too: a new
Broadcaster continues from the journal.

Two threads take events: the actor's (Thespian messages) and the lane reader's. One lock
serialises everything that touches the seq, the journal and the snapshot; the messages only
an actor may send (an ``EventBatch`` or ``LiveQuotes`` when no doorbell is heard) queue in an
outbox that the actor's thread empties, in order, when the reader pokes it or it takes events
itself. An exception on the reader's thread crashes the actor as one in a handler would.

QUOTE events are the exception (unless ``broadcaster.journal_quotes``): many, and each
superseded by the next of its symbol, they are neither numbered nor journalled; the latest of
each symbol in a ``Publish`` goes into the snapshot and straight to the WebFront, in the body
of a doorbell ring (or, when that cannot be, as :class:`~messages.commands.LiveQuotes`).
"""

from __future__ import annotations

import os
import select
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from thespian.actors import WatchMessage

from actors.broadcaster.coalesce import coalesce
from actors.broadcaster.journal import EVENTS_FILE, Doorbell, Journal
from actors.broadcaster.snapshot import SNAPSHOT_TYPES, Snapshot
from actors.runtime.base import EnsembleActor, handles
from actors.runtime.publish_lane import LaneInbox, LaneReader, lane_address
from messages.codec import encode_json
from messages.commands import EventBatch, LiveQuotes, Publish, SnapshotSync, WirePublish
from messages.events import Quote

__all__ = ["BroadcasterActor"]


class BroadcasterActor(EnsembleActor):
    role = "Broadcaster"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.journal: Journal | None = None
        self.doorbell: Doorbell | None = None
        self.inbox: LaneInbox | None = None  # watched by the actor (no reader thread)
        self.reader: LaneReader | None = None
        self.snapshot = Snapshot()
        self.last_seq = 0
        self._synced_web_front: Any = None
        self._lock = threading.Lock()  # the seq, the journal, the snapshot, the outbox
        self._outbox: deque[Any] = deque()  # for the WebFront, sent by the actor's thread

    def on_configure(self) -> None:
        limits = self.settings.broadcaster
        self.journal = Journal(self.settings.data_path / EVENTS_FILE, keep=limits.journal_keep)
        self.last_seq = self.journal.last_seq()
        self.doorbell = Doorbell(self.journal.path)
        self.snapshot = Snapshot(limits.snapshot_events, limits.snapshot_trades)
        self.snapshot.apply_all(
            self.journal.wires_for_snapshot(
                limits.snapshot_events, limits.snapshot_trades, SNAPSHOT_TYPES
            )
        )
        self.log.info("journal open", path=str(self.journal.path), last_seq=self.last_seq)
        inbox = self._open_inbox()
        if inbox is not None and hasattr(select, "poll"):
            self.reader = LaneReader(inbox, self._from_reader).start()
        else:
            self.inbox = inbox

    def _open_inbox(self) -> LaneInbox | None:
        """The publish lane's listening end, when this actor is a process of its own (in
        ``simpleSystemBase`` nothing would watch its sockets)."""
        address = lane_address(self.settings.data_path)
        if address is None or self.daemon_pid in (None, os.getpid()):
            return None
        try:
            return LaneInbox(address, lambda message: isinstance(message, WirePublish))
        except OSError as error:
            self.log.warning("no publish lane: events come by actor message only",
                             address=address, reason=str(error))
            return None

    def watched_fds(self) -> list[int]:
        if self.reader is not None:
            return [self.reader.fileno()]
        return self.inbox.filenos() if self.inbox is not None else []

    @handles(WatchMessage)
    def _on_lane(self, message: WatchMessage, sender: Any) -> None:
        if self.reader is not None and self.reader.fileno() in message.ready:
            self.reader.check()  # raises what the reader's thread raised
            self._send_outbox()
        if self.inbox is None:
            return
        publishes = self.inbox.read(message.ready)
        if publishes:
            self._take_publishes(publishes)

    def _from_reader(self, publishes: list[Any]) -> None:
        """On the lane reader's thread: what one wait brought."""
        self._take_publishes(publishes)
        if self._outbox and self.reader is not None:
            self.reader.poke()

    def _take_publishes(self, publishes: list[Any]) -> None:
        # What a wake-up brings (several, when producers ran ahead) is one transaction.
        self._take([wire for publish in publishes for wire in publish.wires])

    def on_stop(self) -> None:
        if self.reader is not None:
            self.reader.stop()  # closes the inbox too
            self.reader = None
        if self.inbox is not None:
            self.inbox.close()
            self.inbox = None
        with self._lock:  # a reader that did not stop in time finds no journal, and crashes
            if self.journal is not None:
                self.journal.close()
                self.journal = None
            if self.doorbell is not None:
                self.doorbell.close()
                self.doorbell = None

    def on_peers(self) -> None:
        web_front = self.peer("web_front")
        if web_front is not None and web_front != self._synced_web_front:
            self._synced_web_front = web_front
            with self._lock:
                sync = SnapshotSync(self.snapshot.to_dict(), self.last_seq)
            self.send(web_front, sync)

    def _encode(self, wire: dict[str, Any], seq: int | None) -> tuple[dict[str, Any], str] | None:
        """The wire numbered ``seq`` (in the place ``to_wire`` puts it) and its JSON text."""
        try:
            if seq is not None:
                numbered = {"type": wire["type"], "timestamp": wire["timestamp"], "seq": seq}
                numbered.update(wire)
                wire = numbered
            return wire, encode_json(wire)
        except (KeyError, ValueError, TypeError) as error:
            self.log.error("event dropped: cannot encode", event_type=wire.get("type"),
                           reason=str(error))
            return None

    @handles(Publish)
    def _on_publish(self, message: Publish, sender: Any) -> None:
        self._take(self._wires(message.events))
        self._send_outbox()

    @handles(WirePublish)
    def _on_wire_publish(self, message: WirePublish, sender: Any) -> None:
        self._take(message.wires)  # a lane's message that went by Thespian instead
        self._send_outbox()

    def _send_outbox(self) -> None:
        """On the actor's thread: send the WebFront what no doorbell could carry, in order."""
        with self._lock:
            messages = list(self._outbox)
            self._outbox.clear()
        web_front = self.peer("web_front")
        for message in messages:
            if web_front is not None:
                self.send(web_front, message)

    def _take(self, published: Sequence[dict[str, Any]]) -> None:
        """Number, journal (one transaction) and announce ``published``, in order (on either
        thread)."""
        with self._lock:
            self._take_locked(published)
            if self.journal is not None and self.journal.maintenance_due:
                self.journal.maintain()  # after the ring: no event waits for a checkpoint

    def _take_locked(self, published: Sequence[dict[str, Any]]) -> None:
        assert self.journal is not None
        wires_in = coalesce(published)
        if not self.settings.broadcaster.journal_quotes and any(
                wire.get("type") == Quote.TYPE for wire in wires_in):
            self._forward_quotes([wire for wire in wires_in if wire.get("type") == Quote.TYPE])
            wires_in = [wire for wire in wires_in if wire.get("type") != Quote.TYPE]
        wires: list[dict[str, Any]] = []
        texts: list[str] = []
        for wire in wires_in:
            encoded = self._encode(wire, self.last_seq + 1)
            if encoded is None:
                continue
            self.last_seq += 1
            wires.append(encoded[0])
            texts.append(encoded[1])
        if not wires:
            return
        self.journal.append([(wire["seq"], wire["type"], text)
                             for wire, text in zip(wires, texts, strict=True)])
        self.snapshot.apply_all(wires)
        if self.doorbell is not None and self.doorbell.ring():
            return
        if self.peer("web_front") is not None:
            self._outbox.append(EventBatch(tuple(wires), tuple(texts)))

    def _forward_quotes(self, quotes: list[dict[str, Any]]) -> None:
        """Live quotes (the latest of each symbol already): into the snapshot, and to the
        WebFront in one message."""
        wires: list[dict[str, Any]] = []
        texts: list[str] = []
        for quote in quotes:
            encoded = self._encode(quote, None)
            if encoded is not None and self.snapshot.apply_quote(encoded[0]):
                wires.append(encoded[0])
                texts.append(encoded[1])
        if not wires or (self.doorbell is not None and self.doorbell.ring_with_quotes(texts)):
            return
        if self.peer("web_front") is not None:
            self._outbox.append(LiveQuotes(tuple(wires), tuple(texts)))
