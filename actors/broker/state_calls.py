"""Requests to SharedState that are waiting for their reply, and what to do with each reply.

An actor cannot block on a reply, so the broker registers a continuation per request id. If
SharedState dies before answering, its replacement has a new address and the request would
never be answered: :meth:`StateCalls.to_resend` gives every outstanding request again, oldest
first, for the new address. That is safe because every request the broker makes is idempotent
(a set of a whole value, a read, a journal append or compare-and-set with an ``op_id``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from messages.commands import StateReply, StateRequest

__all__ = ["StateCalls"]

OnReply = Callable[[StateReply], None]


@dataclass(slots=True)
class _Outstanding:
    message: StateRequest
    on_reply: OnReply
    sent_to: Any


class StateCalls:
    def __init__(self, prefix: str = "broker") -> None:
        self._prefix = f"{prefix}-{os.getpid()}-"
        self._counter = itertools.count(1)
        self._outstanding: dict[str, _Outstanding] = {}

    def next_id(self) -> str:
        return f"{self._prefix}{next(self._counter)}"

    def add(self, make: Callable[[str], StateRequest], on_reply: OnReply,
            address: Any) -> StateRequest:
        """Register a request built by ``make(request_id)``; returns it, for sending to
        ``address`` (None: SharedState is not up; it goes out with :meth:`to_resend`)."""
        message = make(self.next_id())
        self._outstanding[message.request_id] = _Outstanding(message, on_reply, address)
        return message

    def take(self, reply: StateReply) -> OnReply | None:
        """The continuation of ``reply``'s request (None: not ours, or answered already)."""
        outstanding = self._outstanding.pop(reply.request_id, None)
        return outstanding.on_reply if outstanding is not None else None

    def to_resend(self, address: Any) -> list[StateRequest]:
        """Requests not sent to ``address`` yet, oldest first; they count as sent to it now."""
        if address is None:
            return []
        again = []
        for outstanding in self._outstanding.values():
            if outstanding.sent_to != address:
                outstanding.sent_to = address
                again.append(outstanding.message)
        return again

    def __len__(self) -> int:
        return len(self._outstanding)
