"""State-like events superseded within one Publish are dropped before they are numbered.

A state-like event (the account, the open positions, a strategy's scan summary, a symbol's
quote) says what something *is*; a later one of the same key says it all again. When one
``Publish`` carries several of the same key (a producer that fell behind flushes its backlog in
one message), only the latest is numbered and journalled, at the place of its last occurrence;
every other event is kept, in order. Nothing that was numbered is ever dropped: the journal
keeps every numbered event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from messages.events import Event

__all__ = ["STATE_KEYS", "coalesce", "state_key"]

# Event type → what identifies the thing it describes (beside the type itself).
STATE_KEYS: dict[str, Callable[[Event], tuple[Any, ...]]] = {
    "ACCOUNT_UPDATE": lambda event: (),
    "POSITION_UPDATE": lambda event: (),
    "SCAN_SUMMARY": lambda event: (getattr(event, "strategy", ""),),
    "QUOTE": lambda event: (getattr(event, "symbol", ""),),
}


def state_key(event: Event) -> tuple[Any, ...] | None:
    """The key of a state-like event, None for any other event."""
    key = STATE_KEYS.get(event.TYPE)
    return None if key is None else (event.TYPE, *key(event))


def coalesce(events: Sequence[Event]) -> list[Event]:
    """``events`` without the state-like events a later one of the same key supersedes."""
    keys = [state_key(event) for event in events]
    last = {key: index for index, key in enumerate(keys) if key is not None}
    return [event for index, (event, key) in enumerate(zip(events, keys, strict=True))
            if key is None or last[key] == index]
