"""Tests: with a publish window, an actor's bursts of events go to the Broadcaster as fewer
``Publish`` messages, with nothing lost and nothing reordered (actors/runtime/base.py)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from thespian.actors import Actor, ActorExitRequest, ActorSystem

from actors.app.settings import load_settings
from actors.runtime.base import EnsembleActor, handles
from bench.producer import BenchTick
from messages.commands import Publish
from messages.supervision import Configure, Started
from tests.support.actors import ask_for


@dataclass(frozen=True)
class Burst:
    first: int
    count: int


@dataclass(frozen=True)
class Received:
    publishes: list[tuple[int, ...]]


class Recorder(Actor):
    """Stands for the Broadcaster: keeps each Publish's ticks."""

    def __init__(self) -> None:
        super().__init__()
        self.publishes: list[tuple[int, ...]] = []

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, Publish):
            self.publishes.append(tuple(event.n for event in message.events))
        elif message == "received":
            self.send(sender, Received(list(self.publishes)))


class Bursty(EnsembleActor):
    role = "Bursty"

    @handles(Burst)
    def _burst(self, message: Burst, sender: Any) -> None:
        for n in range(message.first, message.first + message.count):
            self.publish([BenchTick(timestamp="2026-01-05T10:00:00Z", n=n, sent_at=0.0)])
        self.send(sender, "done")


def _start(system: ActorSystem, window_ms: float) -> tuple[Any, Any]:
    recorder = system.createActor(Recorder)
    bursty = system.createActor(Bursty)
    settings = load_settings(environ={}, overrides={"runtime.publish_window_ms": window_ms})
    started = ask_for(system, bursty, Configure("bursty", settings, os.getpid(),
                                                {"broadcaster": recorder}), Started)
    assert isinstance(started, Started)
    return recorder, bursty


def _received(system: ActorSystem, recorder: Any, total: int) -> list[tuple[int, ...]]:
    deadline = time.monotonic() + 10.0
    while True:
        publishes = ask_for(system, recorder, "received", Received).publishes
        if sum(len(p) for p in publishes) >= total or time.monotonic() > deadline:
            return publishes
        system.listen(0.02)  # lets the window's timer run


def test_a_burst_goes_as_few_messages_in_order_and_complete(system: ActorSystem) -> None:
    recorder, bursty = _start(system, 200.0)
    for first in (0, 50, 100):
        assert system.ask(bursty, Burst(first, 50), 5.0) == "done"
    publishes = _received(system, recorder, 150)
    assert [n for publish in publishes for n in publish] == list(range(150))
    assert publishes[0] == (0,)  # the first call after a quiet window is sent at once
    assert len(publishes) < 10  # ...and the rest of the burst together


def test_without_a_window_every_call_sends(system: ActorSystem) -> None:
    recorder, bursty = _start(system, 0.0)
    assert system.ask(bursty, Burst(0, 20), 5.0) == "done"
    assert _received(system, recorder, 20) == [(n,) for n in range(20)]


def test_what_is_pending_goes_out_when_the_actor_stops(system: ActorSystem) -> None:
    recorder, bursty = _start(system, 1000.0)  # a window longer than the test takes
    assert system.ask(bursty, Burst(0, 30), 5.0) == "done"
    system.tell(bursty, ActorExitRequest())
    publishes = _received(system, recorder, 30)
    assert [n for publish in publishes for n in publish] == list(range(30))
