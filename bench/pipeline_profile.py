"""Where an event's CPU goes on its way to the clients: the work of each stage, in process.

``python -m bench.pipeline_profile [--events 20000] [--batch 10] [--clients 100]`` runs each
stage of the event path with the project's own code, on a real SQLite journal in a temporary
directory, and prints the CPU time (``time.process_time``) per event of each:

- **producer**: building the BENCH_TICK events (:mod:`bench.producer`'s work), and putting
  them in wire form (``to_wire``), which the sender does for the publish lane;
- **lane**: pickling and unpickling the ``WirePublish`` of ``batch`` events, and its trip
  through a real Unix socket, sealed and checked (:mod:`actors.runtime.publish_lane`); beside
  it, for comparison, pickling and unpickling the same events as a ``Publish`` of event
  dataclasses, what the Thespian hop carried before;
- **Broadcaster**: numbering and ``encode_json``, and its snapshot reducer;
- **journal**: ``Journal.append``, one transaction per ``Publish``;
- **hub**: reading the new rows from the journal, decoding each event once, the WebFront's
  snapshot mirror and metrics (``Hub._read_new_rows`` and ``Hub._deliver``'s work);
- **frame**: building the frame, once per flush per group of clients (today) and, for
  comparison, once per client (before the shared flush).

What it cannot see is Thespian's loop (each wake-up of an actor process, for a timer, a message
or a watched socket) and the sockets to the clients: those are the rest of each process's CPU
in :mod:`bench.fanout`'s per-process figures, which the README puts beside these.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from actors.broadcaster.journal import Journal, JournalReader
from actors.broadcaster.snapshot import Snapshot
from actors.runtime import frame_auth
from actors.runtime.clock import iso_utc
from actors.runtime.publish_lane import LaneInbox, LaneSender, Sent
from bench.producer import BenchTick
from messages.codec import decode_json, encode_json, to_wire
from messages.commands import Publish, WirePublish
from web.hub import Hub, LiveEvent, build_frame

__all__ = ["main", "profile"]

FLUSH_EVENTS = 10  # events per flush at 1,000 events/s and a 10 ms flush


def _cpu_us(work: Callable[[], object], events: int) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) / events * 1e6


def profile(events: int, batch: int, clients: int, scratch: Path) -> dict[str, float]:
    """CPU µs per event of each stage (the frame per client figures are per delivered event)."""
    batches = [[BenchTick(timestamp=iso_utc(time.time()), n=b * batch + i, sent_at=time.time())
                for i in range(batch)] for b in range(events // batch)]
    total = len(batches) * batch
    costs: dict[str, float] = {}

    def produce() -> None:
        for b in range(len(batches)):
            now = time.time()
            tuple(BenchTick(timestamp=iso_utc(now), n=b * batch + i, sent_at=now)
                  for i in range(batch))

    costs["producer: build events"] = _cpu_us(produce, total)
    lane_messages: list[WirePublish] = []
    costs["producer: to_wire (for the lane)"] = _cpu_us(
        lambda: lane_messages.extend(WirePublish(tuple(to_wire(e) for e in chunk))
                                     for chunk in batches), total)
    costs["lane: pickle + unpickle WirePublish"] = _cpu_us(
        lambda: [pickle.loads(pickle.dumps(m, pickle.HIGHEST_PROTOCOL)) for m in lane_messages],
        total)
    costs["lane: send + read on a real Unix socket (pickled, sealed)"] = _lane_trip(
        lane_messages, total, scratch)
    publishes = [Publish(tuple(chunk)) for chunk in batches]
    costs["(before) Thespian payload: pickle + unpickle Publish"] = _cpu_us(
        lambda: [pickle.loads(pickle.dumps(p)) for p in publishes], total)

    numbered: list[tuple[list[dict[str, object]], list[str]]] = []

    def number() -> None:
        seq = 0
        for message in lane_messages:
            wires, texts = [], []
            for wire in message.wires:
                seq += 1
                numbered_wire = {"type": wire["type"], "timestamp": wire["timestamp"],
                                 "seq": seq}
                numbered_wire.update(wire)
                wires.append(numbered_wire)
                texts.append(encode_json(numbered_wire))
            numbered.append((wires, texts))

    costs["Broadcaster: number, encode_json"] = _cpu_us(number, total)
    snapshot = Snapshot()
    costs["Broadcaster: snapshot reducer"] = _cpu_us(
        lambda: [snapshot.apply_all(wires) for wires, _ in numbered], total)
    journal = Journal(scratch / "events.db")
    try:
        costs["journal: append, one transaction per Publish"] = _cpu_us(
            lambda: [journal.append([(w["seq"], w["type"], t) for w, t in zip(ws, ts, strict=True)])
                     for ws, ts in numbered], total)
    finally:
        journal.close()

    hub = Hub(str(scratch / "events.db"), queue_limit=20_000, flush_interval_s=0.01,
              max_batch_events=2000)
    mirror, metrics = hub.snapshot, hub.metrics
    reader = JournalReader(scratch / "events.db")

    def read_and_deliver() -> None:
        last = 0
        for _ in numbered:
            for seq, _kind, text in reader.texts_after(last, FLUSH_EVENTS):
                wire = decode_json(text)
                mirror.apply(wire)
                metrics.observe(wire)
                last = seq

    try:
        costs["hub: read rows, decode, snapshot mirror and metrics"] = _cpu_us(
            read_and_deliver, total)
    finally:
        reader.close()
    live = [LiveEvent(int(w["seq"]), str(w["type"]), t, w)  # type: ignore[call-overload]
            for wires, texts in numbered for w, t in zip(wires, texts, strict=True)]
    flushes = [live[i : i + FLUSH_EVENTS] for i in range(0, len(live), FLUSH_EVENTS)]
    costs["frame: once per flush (per event)"] = _cpu_us(
        lambda: [build_frame(chunk, False) for chunk in flushes], total)
    costs[f"frame: once per client, {clients} clients (per event)"] = _cpu_us(
        lambda: [build_frame(chunk, False) for chunk in flushes for _ in range(clients)], total)
    return costs


def _lane_trip(messages: list[WirePublish], events: int, scratch: Path) -> float:
    """CPU per event of sending every message on the lane and reading it back (one process:
    both sides' CPU)."""
    if frame_auth.installed() is None:
        frame_auth.install(os.urandom(32))  # the lane seals every frame with the daemon's secret
    address = str(Path(tempfile.gettempdir()) / f"profile-lane-{os.getpid()}.sock")
    inbox = LaneInbox(address, lambda message: isinstance(message, WirePublish))
    sender = LaneSender(address)
    try:
        def trip() -> None:
            got = 0
            for message in messages:
                if sender.send(message)[0] is Sent.REFUSED:
                    raise RuntimeError("the lane refused a message")
                got += len(inbox.read(inbox.filenos()))
            while got < len(messages):
                sender.flush()
                got += len(inbox.read(inbox.filenos()))

        inbox.read(inbox.filenos())
        return _cpu_us(trip, events)
    finally:
        sender.close()
        inbox.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10, help="events per Publish")
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ensemble-profile-") as scratch:
        costs = profile(args.events, args.batch, args.clients, Path(scratch))
    print(f"CPU per event, {args.events} events, {args.batch} per Publish, "
          f"{FLUSH_EVENTS} per flush:")
    for stage, value in costs.items():
        print(f"  {stage:<55} {value:7.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
