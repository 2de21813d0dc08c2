"""The Broadcaster actor: numbers every event, journals it, keeps the rolling snapshot, and
forwards events to the WebFront in batches.

Events come in :class:`~messages.commands.Publish` messages, by Thespian or, from actors in
processes of their own, on the publish lane (:mod:`actors.runtime.publish_lane`: Unix sockets
the Broadcaster watches). Each Thespian ``Publish``, and all the publishes read from the lane
at one wake-up, become one journal transaction (state-like events a later one among them
supersedes are dropped first, :mod:`.coalesce`), with each event
encoded to JSON exactly once, and a ring of the journal's doorbell: the WebFront reads the new
rows from the journal itself. Only when no WebFront listens on the doorbell (none yet, or a
platform without Unix sockets) do the events go to it as an
:class:`~messages.commands.EventBatch`. The seq only ever grows, across restarts too: a new
Broadcaster continues from the journal.

QUOTE events are the exception (unless ``broadcaster.journal_quotes``): many, and each
superseded by the next of its symbol, they are neither numbered nor journalled; the latest of
each symbol in a ``Publish`` goes into the snapshot and straight to the WebFront, in the body
of a doorbell ring (or, when that cannot be, as :class:`~messages.commands.LiveQuotes`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from thespian.actors import WatchMessage

from actors.broadcaster.coalesce import coalesce
from actors.broadcaster.journal import EVENTS_FILE, Doorbell, Journal
from actors.broadcaster.snapshot import SNAPSHOT_TYPES, Snapshot
from actors.runtime.base import EnsembleActor, handles
from actors.runtime.publish_lane import LaneInbox, lane_address
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
        self.inbox: LaneInbox | None = None
        self.snapshot = Snapshot()
        self.last_seq = 0
        self._synced_web_front: Any = None

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
        self.inbox = self._open_inbox()

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
        return self.inbox.filenos() if self.inbox is not None else []

    @handles(WatchMessage)
    def _on_lane(self, message: WatchMessage, sender: Any) -> None:
        if self.inbox is None:
            return
        publishes = self.inbox.read(message.ready)
        if publishes:
            # What a wake-up brings (several, when producers ran ahead) is one transaction.
            self._take([wire for publish in publishes for wire in publish.wires])

    def on_stop(self) -> None:
        if self.inbox is not None:
            self.inbox.close()
            self.inbox = None
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
            self.send(web_front, SnapshotSync(self.snapshot.to_dict(), self.last_seq))

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

    @handles(WirePublish)
    def _on_wire_publish(self, message: WirePublish, sender: Any) -> None:
        self._take(message.wires)  # a lane's message that went by Thespian instead

    def _take(self, published: Sequence[dict[str, Any]]) -> None:
        """Number, journal (one transaction) and announce ``published``, in order."""
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
        web_front = self.peer("web_front")
        if web_front is not None:
            self.send(web_front, EventBatch(tuple(wires), tuple(texts)))

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
        web_front = self.peer("web_front")
        if web_front is not None:
            self.send(web_front, LiveQuotes(tuple(wires), tuple(texts)))
