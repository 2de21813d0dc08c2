"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from thespian.actors import ActorSystem


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    """A one-process ActorSystem (simpleSystemBase), shut down after the test."""
    actor_system = ActorSystem("simpleSystemBase", transientUnique=True)
    try:
        yield actor_system
    finally:
        actor_system.shutdown()
