"""Supervision in one process (simpleSystemBase): strategies, intensity, escalation, events."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from thespian.actors import ActorSystem

from actors.app.settings import Settings, load_settings
from messages.events import ActorRestarted
from messages.supervision import (
    Configure,
    GaveUp,
    NodeStatus,
    Peers,
    Started,
    StartTree,
    StatusReply,
    StatusRequest,
    TreeStarted,
)
from tests.support.actors import ask_for
from tests.unit.runtime import sample_actors
from tests.unit.runtime.sample_actors import (
    REGISTRY,
    Crash,
    Published,
    PublishedEvents,
    Registry,
    Whereabouts,
    WhereIs,
)

ASK = 5.0


def _settings(max_restarts: int = 5, backoff_initial_s: float = 0.0) -> Settings:
    return load_settings(
        assignments=[f"supervision.max_restarts={max_restarts}",
                     f"supervision.backoff_initial_s={backoff_initial_s}"],
        environ={},
    )


def _start(system: ActorSystem, cls: type, settings: Settings) -> tuple[Any, Any]:
    registry = system.createActor(Registry, globalName=REGISTRY)
    supervisor = system.createActor(cls)
    system.tell(supervisor, Peers({"broadcaster": registry}))
    ask_for(system, supervisor, Configure("sup", settings, os.getpid()), Started)
    return supervisor, registry


def _status(system: ActorSystem, supervisor: Any) -> NodeStatus:
    return ask_for(system, supervisor, StatusRequest("s"), StatusReply).root


def _children(node: NodeStatus) -> dict[str, NodeStatus]:
    return {child.name: child for child in node.children}


def _crash(system: ActorSystem, registry: Any, name: str, reason: str = "boom") -> None:
    system.tell(ask_for(system, registry, WhereIs(name), Whereabouts).address, Crash(reason))


def _starts(system: ActorSystem, registry: Any) -> dict[str, int]:
    return ask_for(system, registry, WhereIs("a"), Whereabouts).starts


def _wait_for(predicate: Any, system: ActorSystem, supervisor: Any) -> NodeStatus:
    deadline = time.monotonic() + ASK
    while True:
        node = _status(system, supervisor)  # asking also lets simpleSystemBase run its timers
        if predicate(node) or time.monotonic() > deadline:
            return node


@pytest.mark.parametrize(
    ("cls", "crashed", "restarted"),
    [
        (sample_actors.OneForOne, "b", {"b"}),
        (sample_actors.RestForOne, "b", {"b", "c"}),
        (sample_actors.OneForAll, "b", {"a", "b", "c"}),
    ],
)
def test_each_strategy_restarts_its_set(system: ActorSystem, cls: type, crashed: str,
                                        restarted: set[str]) -> None:
    supervisor, registry = _start(system, cls, _settings())
    assert _starts(system, registry) == {"a": 1, "b": 1, "c": 1}
    _crash(system, registry, crashed, "broken invariant")
    node = _wait_for(lambda n: n.state == "running" and
                     sum(_starts(system, registry).values()) == 3 + len(restarted),
                     system, supervisor)
    starts = _starts(system, registry)
    assert {name for name, count in starts.items() if count == 2} == restarted
    children = _children(node)
    assert children[crashed].last_failure["reason"] == "RuntimeError: broken invariant"
    assert all(children[name].restarts == (1 if name in restarted else 0) for name in children)
    assert node.state == "running"


def test_every_restart_is_published_as_an_event(system: ActorSystem) -> None:
    supervisor, registry = _start(system, sample_actors.OneForOne, _settings())
    _crash(system, registry, "a", "first")
    _wait_for(lambda n: _children(n)["a"].restarts == 1 and n.state == "running",
              system, supervisor)
    published = ask_for(system, registry, Published(), PublishedEvents).events
    events = [e for e in published if isinstance(e, ActorRestarted)]
    assert [(e.name, e.reason, e.restarts) for e in events] == [("a", "RuntimeError: first", 1)]


def test_intensity_exceeded_stops_the_children_and_escalates_to_the_daemon(
    system: ActorSystem,
) -> None:
    registry = system.createActor(Registry, globalName=REGISTRY)
    root = system.createActor(sample_actors.SampleRoot)
    ask_for(system, root, StartTree(_settings(max_restarts=1), os.getpid()), TreeStarted)
    # Each round fails the group's only allowed restart budget; the root then restarts the
    # group once (its own budget is 1 too) and gives up on the next escalation.
    gave_up = None
    for round_number in range(8):
        _crash(system, registry, "a", f"round {round_number}")
        message = system.listen(0.3)
        if isinstance(message, GaveUp):
            gave_up = message
            break
    assert gave_up is not None, "the root never gave up"
    assert gave_up.name == "root"
    assert "group failed 2 times in 30 s" in gave_up.reason
    assert "gave up" in gave_up.reason
