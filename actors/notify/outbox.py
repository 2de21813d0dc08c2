"""A bounded send queue and the retry rule, pure: what the channels (``channels.py``) wait on.

Notifications must never pile up without bound while Telegram or a webhook is unreachable:
an :class:`Outbox` keeps at most ``limit`` messages, drops the oldest past that, and says how
many it dropped so that the next message sent can tell the reader. :func:`retry_delay` is the
backoff between tries: exponential, capped, honouring a server's ``retry_after``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Outbox", "RetryPolicy", "retry_delay"]

T = TypeVar("T")


class Outbox(Generic[T]):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[T] = deque()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        self._items.append(item)
        while len(self._items) > self.limit:
            self._items.popleft()
            self.dropped += 1

    def take(self) -> T | None:
        """The oldest message, out of the queue (a message being sent is never dropped)."""
        return self._items.popleft() if self._items else None

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    initial_s: float = 1.0
    max_s: float = 60.0


def retry_delay(policy: RetryPolicy, attempt: int, retry_after: float | None = None
                ) -> float | None:
    """Seconds to wait before try ``attempt + 1`` after try ``attempt`` (1-based) failed, or
    None when the message is given up. A server's ``retry_after`` wins (flood control)."""
    if attempt >= policy.attempts:
        return None
    if retry_after is not None and retry_after >= 0:
        return float(retry_after)
    return min(policy.max_s, policy.initial_s * 2 ** (attempt - 1))
