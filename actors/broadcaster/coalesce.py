"""State-like events superseded within what the Broadcaster takes at once are dropped before
they are numbered.

A state-like event (the account, the open positions, a strategy's scan summary, a symbol's
quote) says what something *is*; a later one of the same key says it all again. When one
``Publish``, or what the publish lane brought at one wake-up (producers that ran ahead of the
Broadcaster), carries several of the same key, only the latest is numbered and journalled, at
the place of its last occurrence;
every other event is kept, in order. Nothing that was numbered is ever dropped: the journal
keeps every numbered event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["STATE_KEYS", "coalesce", "state_key"]

W = TypeVar("W", bound=Mapping[str, Any])

# Event type → what identifies the thing it describes (beside the type itself), from the
# event's wire form (``messages.codec.to_wire``).
STATE_KEYS: dict[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] = {
    "ACCOUNT_UPDATE": lambda wire: (),
    "POSITION_UPDATE": lambda wire: (),
    "SCAN_SUMMARY": lambda wire: (wire.get("strategy", ""),),
    "QUOTE": lambda wire: (wire.get("symbol", ""),),
}


def state_key(wire: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The key of a state-like event (in wire form), None for any other event."""
    kind = wire.get("type")
    key = STATE_KEYS.get(kind) if isinstance(kind, str) else None
    return None if key is None else (kind, *key(wire))


def coalesce(events: Sequence[W]) -> list[W]:
    """``events`` (wire form) without the state-like events a later one of the same key
    supersedes."""
    keys = [state_key(event) for event in events]
    last = {key: index for index, key in enumerate(keys) if key is not None}
    return [event for index, (event, key) in enumerate(zip(events, keys, strict=True))
            if key is None or last[key] == index]
