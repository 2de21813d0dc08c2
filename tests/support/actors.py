"""Helpers for tests that run actors in one process (simpleSystemBase)."""

from __future__ import annotations

import time
from typing import Any

from thespian.actors import Actor, ActorSystem

ASK_S = 10.0


def ask_for(system: ActorSystem, address: Any, message: Any, expected: type,
            timeout: float = ASK_S) -> Any:
    """Ask, then keep listening until a message of ``expected`` type arrives (supervisors
    push status updates to whoever configured them, which may be the test)."""
    reply = system.ask(address, message, timeout)
    deadline = time.monotonic() + timeout
    while not isinstance(reply, expected) and time.monotonic() < deadline:
        reply = system.listen(0.1)
    assert isinstance(reply, expected), f"no {expected.__name__} within {timeout} s"
    return reply


class Recorder(Actor):
    """Stands in for the roles the test does not run: it keeps what it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message == "dump":
            self.send(sender, list(self.received))
        else:
            self.received.append(message)
