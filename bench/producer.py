"""A bench-only event producer, and a command that injects it into a running daemon.

``python -m bench.produce_events --admin-port N --count 5000 --rate 1000 --batch 10`` joins the
daemon's ActorSystem (on loopback), asks the root for the directory, creates an
:class:`EventProducer` and has it publish ``count`` :class:`BenchTick` events through the real
Broadcaster → WebFront path, ``batch`` events per message, at ``rate`` events per second. Each
tick carries the wall time it was emitted, so a client can measure emit-to-receive latency.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.app.settings import load_settings
from actors.app.tree import ROOT_CLASS
from actors.broadcaster.journal import EVENTS_FILE, JournalReader
from actors.runtime.base import EnsembleActor, handles
from actors.runtime.clock import iso_utc
from actors.runtime.instance import read_daemon_info
from actors.runtime.system import join_actor_system
from messages.events import Event, event
from messages.supervision import Configure, DirectoryRequest, Peers, Started

__all__ = ["BenchTick", "EventProducer", "Produce", "Produced", "produce"]


@event("BENCH_TICK")
class BenchTick(Event):
    n: int
    sent_at: float


@dataclass(frozen=True, slots=True)
class Produce:
    count: int
    rate: float
    batch: int
    broadcaster: Any


@dataclass(frozen=True, slots=True)
class Produced:
    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class _Tick:
    pass


class EventProducer(EnsembleActor):
    role = "BenchProducer"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._job: Produce | None = None
        self._requester: Any = None
        self._sent = 0
        self._started = 0.0

    @handles(Produce)
    def _on_produce(self, message: Produce, sender: Any) -> None:
        self._job, self._requester, self._sent = message, sender, 0
        self.peers["broadcaster"] = message.broadcaster
        self._started = time.monotonic()
        self._emit_due()

    @handles(_Tick)
    def _on_tick(self, message: _Tick, sender: Any) -> None:
        self._emit_due()

    def _emit_due(self) -> None:
        job = self._job
        if job is None:
            return
        elapsed = time.monotonic() - self._started
        due = min(job.count, int(elapsed * job.rate) + job.batch)
        while self._sent < due:
            size = min(job.batch, job.count - self._sent)
            now = time.time()
            self.publish(
                BenchTick(timestamp=iso_utc(now), n=self._sent + i, sent_at=now)
                for i in range(size)
            )
            self._sent += size
        if self._sent >= job.count:
            self.send(self._requester, Produced(self._sent, time.monotonic() - self._started))
            self._job = None
            return
        # One wake-up per message: each costs the actor a pass of Thespian's loop (~0.35 ms).
        self.after(max(0.0005, job.batch / job.rate), _Tick())


def produce(admin_port: int, count: int, rate: float, batch: int, timeout: float,
            publish_window_ms: float = 0.0) -> Produced:
    from thespian.actors import ActorExitRequest

    from actors.runtime.root import ROOT_GLOBAL_NAME

    system = join_actor_system(admin_port)
    root = system.createActor(ROOT_CLASS, globalName=ROOT_GLOBAL_NAME)
    directory = system.ask(root, DirectoryRequest(), 10)
    if not isinstance(directory, Peers) or "broadcaster" not in directory.directory:
        raise RuntimeError(f"no broadcaster in the directory: {directory!r}")
    info = read_daemon_info(admin_port)
    journal = JournalReader(Path(info.data_dir) / EVENTS_FILE) if info is not None else None
    journal_start = journal.last_seq() if journal is not None else 0
    producer = system.createActor("bench.producer.EventProducer")
    overrides: dict[str, object] = {"runtime.publish_window_ms": publish_window_ms}
    if info is not None:
        overrides["runtime.data_dir"] = info.data_dir  # its publish lane is the daemon's
    settings = load_settings(environ={}, overrides=overrides)
    started = system.ask(producer, Configure("bench_producer", settings,
                                             _daemon_pid(admin_port)), 10)
    if not isinstance(started, Started):
        raise RuntimeError(f"the producer did not start: {started!r}")
    reply = system.ask(producer, Produce(count, rate, batch, directory.directory["broadcaster"]),
                       timeout)
    if not isinstance(reply, Produced):
        system.tell(producer, ActorExitRequest())
        raise RuntimeError(f"the producer did not finish: {reply!r}")
    if journal is not None:
        # The producer's last messages may still be queued in its transport: it exits only once
        # the Broadcaster has numbered every tick (an actor that exits drops what it has queued).
        try:
            _wait_for_journal(journal, journal_start, count, timeout)
        finally:
            journal.close()
    system.tell(producer, ActorExitRequest())
    return reply


def _wait_for_journal(journal: JournalReader, after_seq: int, count: int,
                      timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (numbered := journal.count_of_type("BENCH_TICK", after_seq)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {numbered} of {count} events reached the journal "
                               f"in {timeout:g} s")
        time.sleep(0.02)


def _daemon_pid(admin_port: int) -> int:
    info = read_daemon_info(admin_port)
    return info.pid if info is not None else os.getpid()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--publish-window-ms", type=float, default=0.0,
                        help="the producer actor's runtime.publish_window_ms")
    args = parser.parse_args(argv)
    result = produce(args.admin_port, args.count, args.rate, args.batch, args.timeout,
                     args.publish_window_ms)
    print(f"produced {result.count} events in {result.seconds:.3f} s", flush=True)
    return 0

