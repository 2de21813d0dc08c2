"""Small actors for supervision tests: workers that crash on request, a registry that records
what happened, and supervisors with each strategy."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from thespian.actors import Actor

from actors.runtime.base import EnsembleActor, handles
from actors.runtime.restart_policy import ChildSpec
from actors.runtime.root import RootSupervisor
from actors.runtime.supervisor import Supervisor
from messages.commands import Publish

REGISTRY = "test-registry"


@dataclass(frozen=True)
class Hello:
    name: str
    incarnation: int
    address: Any


@dataclass(frozen=True)
class Crash:
    reason: str


@dataclass(frozen=True)
class WhereIs:
    name: str


@dataclass(frozen=True)
class Published:
    pass


@dataclass(frozen=True)
class Whereabouts:
    address: Any
    starts: dict[str, int]


@dataclass(frozen=True)
class PublishedEvents:
    events: list[Any]


class Registry(Actor):
    """Remembers the latest address of every worker and every event published to it."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: dict[str, Any] = {}
        self.starts: dict[str, int] = {}
        self.events: list[Any] = []

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, Hello):
            self.addresses[message.name] = message.address
            self.starts[message.name] = self.starts.get(message.name, 0) + 1
        elif isinstance(message, WhereIs):
            self.send(sender, Whereabouts(self.addresses.get(message.name), dict(self.starts)))
        elif isinstance(message, Publish):
            self.events.extend(message.events)
        elif isinstance(message, Published):
            self.send(sender, PublishedEvents(list(self.events)))


class Worker(EnsembleActor):
    role = "Worker"

    def on_configure(self) -> None:
        registry = self.createActor(Registry, globalName=REGISTRY)
        self.send(registry, Hello(self.name, self.incarnation, self.myAddress))

    @handles(Crash)
    def _crash_now(self, message: Crash, sender: Any) -> None:
        raise RuntimeError(message.reason)


def _workers(*names: str) -> list[ChildSpec]:
    return [ChildSpec(name, f"{__name__}.Worker", "Worker") for name in names]


class OneForOne(Supervisor):
    strategy = "one_for_one"

    def child_specs(self) -> list[ChildSpec]:
        return _workers("a", "b", "c")


class RestForOne(Supervisor):
    strategy = "rest_for_one"

    def child_specs(self) -> list[ChildSpec]:
        return _workers("a", "b", "c")


class OneForAll(Supervisor):
    strategy = "one_for_all"

    def child_specs(self) -> list[ChildSpec]:
        return _workers("a", "b", "c")


class SampleRoot(RootSupervisor):
    """The real root logic over a small tree: one one_for_one group of workers."""

    def child_specs(self) -> list[ChildSpec]:
        return [ChildSpec("group", f"{__name__}.OneForOne", "OneForOne", is_supervisor=True)]


def pid() -> int:
    return os.getpid()
