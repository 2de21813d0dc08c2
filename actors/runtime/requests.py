"""Requests an actor has sent and still waits on: the one way every actor tracks them.

An actor asks a role (by name, not by address) and is answered by a message that carries the
request's id. What can happen meanwhile, and what this table does about it:

- **No answer in time.** The caller's ``on_timeout`` is called once. A request that expects a
  single reply is then forgotten. One that expects a sequence of replies (``final`` is given,
  as for an order: approval, "unknown", then its real fate) stays open, because a late report
  of an order that was sent must still reach whoever sent it.
- **Several replies.** Each goes to ``on_reply``; the request closes on the first reply for
  which ``final(reply)`` is true (on the first reply when ``final`` is not given).
- **The role is down or restarted.** A request marked ``resend`` (only for requests safe to
  repeat: idempotent, or carrying an operation id) waits while the role has no address and is
  sent again to its new address when the directory changes.
- **Who is still waiting.** A request may carry a ``tag`` (a cycle, a batch), so the actor can
  ask whether anything tagged so is still open.

This module is pure: it decides what to send and whom to call, and the actor does it
(:meth:`actors.runtime.base.EnsembleActor.ask_peer`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OpenRequest", "OutstandingRequests"]

Callback = Callable[[Any], None]


@dataclass(slots=True)
class OpenRequest:
    """One request in flight: where it went, and what to do with its replies."""

    request_id: str
    role: str
    message: Any
    on_reply: Callback
    on_timeout: Callable[[], None] | None = None
    final: Callable[[Any], bool] | None = None
    resend: bool = False
    tag: Any = None
    address: Any = None
    late: bool = field(default=False)  # its timeout has passed (called once)


class OutstandingRequests:
    """The open requests of one actor, by id, with their deadlines earliest first."""

    def __init__(self) -> None:
        self._open: dict[str, OpenRequest] = {}
        # (deadline, request id): one timer at the earliest deadline instead of one per
        # request (Thespian scans every pending timer on every message it delivers).
        self._deadlines: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._open

    def open(self, request: OpenRequest, deadline: float | None) -> None:
        self._open[request.request_id] = request
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, request.request_id))

    def answer(self, request_id: str, reply: Any) -> OpenRequest | None:
        """The request ``reply`` answers (closed if the reply is its last), or None."""
        request = self._open.get(request_id)
        if request is None:
            return None
        if request.final is None or request.final(reply):
            del self._open[request_id]
        return request

    def expire(self, now: float) -> list[OpenRequest]:
        """The requests whose deadline has passed unanswered; their ``on_timeout`` is due."""
        due: list[OpenRequest] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, request_id = heapq.heappop(self._deadlines)
            request = self._open.get(request_id)
            if request is None or request.late:
                continue
            request.late = True
            if request.final is None:
                del self._open[request_id]
            due.append(request)
        return due

    def next_deadline(self) -> float | None:
        """The earliest deadline still to watch, or None."""
        deadlines = self._deadlines
        while deadlines and self._is_settled(deadlines[0][1]):
            heapq.heappop(deadlines)
        return deadlines[0][0] if deadlines else None

    def _is_settled(self, request_id: str) -> bool:
        request = self._open.get(request_id)
        return request is None or request.late

    def readdress(self, directory: Mapping[str, Any]) -> list[OpenRequest]:
        """Requests to send again, now addressed to their role's new address."""
        moved: list[OpenRequest] = []
        for request in self._open.values():
            if not request.resend:
                continue
            address = directory.get(request.role)
            if address is not None and address != request.address:
                request.address = address
                moved.append(request)
        return moved

    def waiting_on(self, tag: Any) -> bool:
        """Whether a request tagged ``tag`` (by identity) is still open."""
        return any(request.tag is tag for request in self._open.values())
