"""Log lines about messages stay short and never raise, whatever the message holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from thespian.actors import ActorSystem, PoisonMessage

from actors.runtime.base import EnsembleActor, handles
from actors.runtime.brief import brief, brief_error
from actors.runtime.logs import bound_values


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class Ping:
    n: int


@dataclass(frozen=True, slots=True)
class Pong:
    n: int


class Echo(EnsembleActor):
    role = "Echo"

    @handles(Ping)
    def _on_ping(self, message: Ping, sender: Any) -> None:
        self.send(sender, Pong(message.n))


class Unprintable:
    def __repr__(self) -> str:
        raise ValueError("no repr")

    def __str__(self) -> str:
        raise ValueError("no str")


def _nested(depth: int) -> list[Any]:
    top: list[Any] = []
    inner = top
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return top


def test_a_poison_message_nested_beyond_the_recursion_limit_is_logged_briefly() -> None:
    poison = PoisonMessage(Put("ops.x", _nested(100_000)))
    with pytest.raises(RecursionError):
        str(poison)
    text = brief(poison)
    assert text.startswith("Poison<Put(key='ops.x', value=[[[") and len(text) <= 300


@pytest.mark.parametrize("value, expected", [
    ({"a": "x" * 10_000}, "{'a': 'xxx"),
    (list(range(10_000)), "[0, 1, 2, 3, 4, 5, 6, 7, ...]"),
    (Put("k", Unprintable()), "Put(key='k', value=<Unprintable>)"),
    (Unprintable(), "<Unprintable>"),
])
def test_brief_is_bounded_and_never_raises(value: Any, expected: str) -> None:
    text = brief(value, limit=120)
    assert text.startswith(expected) and len(text) <= 120


def test_an_exception_whose_str_raises_is_still_named() -> None:
    class Odd(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert brief_error(Odd()) == "Odd: <unprintable>"
    assert brief_error(ValueError("x" * 1000), limit=50) == "ValueError: " + "x" * 35 + "..."


def test_log_values_that_are_not_plain_are_bounded() -> None:
    event = bound_values(None, "warning", {"event": "e", "n": 3, "m": _nested(100_000),
                                           "_record": object()})
    assert event["n"] == 3 and event["m"].startswith("[[[") and len(event["m"]) <= 300
    assert not isinstance(event["_record"], str)


def test_an_actor_survives_a_poison_message_it_cannot_print(system: ActorSystem) -> None:
    echo = system.createActor(Echo)
    with structlog.testing.capture_logs() as logs:
        system.tell(echo, PoisonMessage(Put("ops.x", _nested(100_000))))
        assert system.ask(echo, Ping(1), 5) == Pong(1)
    warning, = (entry for entry in logs if entry["event"] == "message failed in its recipient")
    assert warning["message"].startswith("Poison<Put(") and len(warning["message"]) <= 300
    assert not [entry for entry in logs if entry["event"] == "actor crashed"]
