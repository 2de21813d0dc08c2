"""The Strategy role's pure logic: indicators, sessions, candidate signals, trade management.

The Strategy actor (``actor.py``, written separately) fetches bars and ticks, calls these
modules and sends messages; nothing here touches an actor, the broker or the clock.
"""

from __future__ import annotations

__all__: list[str] = []
