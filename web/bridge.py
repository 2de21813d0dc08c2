"""The bridge between the WebFront actor's thread and its asyncio loop (DESIGN.md §4).

The two sides share no mutable state:

* loop → actor: a request is put on a queue and a wake-up byte is written to a socketpair.
  The actor watches the other end (``ThespianWatch``), drains the queue in one go, and sends
  the messages.
* actor → loop: replies and events cross with ``loop.call_soon_threadsafe``; the futures of
  waiting requests are only ever touched on the loop.

A message is pickled once on the loop before it is queued: one that Thespian could not pickle
(nested too deep, an unpicklable value) is refused there with :class:`Unsendable`, instead of
failing inside the actor's send and never being answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import queue
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ActorBridge", "BridgeRequest", "ServiceUnavailable", "Unsendable"]


class ServiceUnavailable(RuntimeError):
    """The actor a request is for is not running (starting, restarting, or stopped)."""


class Unsendable(ValueError):
    """A request whose message cannot travel to an actor (it does not pickle)."""


def check_sendable(message: Any) -> None:
    try:
        pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, RecursionError, TypeError, AttributeError, ValueError) as error:
        raise Unsendable(f"the request cannot be sent to an actor: {type(error).__name__}: "
                         f"{error}"[:300]) from None


@dataclass(frozen=True, slots=True)
class BridgeRequest:
    """A message for the actor with ``role``; its reply resolves ``request_id``."""

    role: str
    request_id: str
    message: Any


class ActorBridge:
    def __init__(self) -> None:
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._requests: queue.SimpleQueue[BridgeRequest] = queue.SimpleQueue()
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    # --- loop side ---------------------------------------------------------------------------

    async def request(
        self, role: str, make_message: Callable[[str], Any], timeout: float
    ) -> Any:
        """Send ``make_message(request_id)`` to ``role`` and wait for the reply."""
        loop = asyncio.get_running_loop()
        self.loop = loop
        request_id = uuid.uuid4().hex
        message = make_message(request_id)
        check_sendable(message)
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[request_id] = future
        self._requests.put(BridgeRequest(role, request_id, message))
        # One byte wakes the actor; if the buffer is full, a wake-up is pending anyway.
        with contextlib.suppress(BlockingIOError):
            self._wake_writer.send(b"\0")
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)

    def _settle(self, request_id: str, reply: Any, error: BaseException | None) -> None:
        future = self._pending.get(request_id)
        if future is None or future.done():
            return  # timed out already, or answered twice
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(reply)

    # --- actor side --------------------------------------------------------------------------

    def fileno(self) -> int:
        return self._wake_reader.fileno()

    def drain(self) -> list[BridgeRequest]:
        """Everything requested since the last drain (called on the actor's thread)."""
        with contextlib.suppress(BlockingIOError):
            while self._wake_reader.recv(4096):
                pass
        drained: list[BridgeRequest] = []
        while True:
            try:
                drained.append(self._requests.get_nowait())
            except queue.Empty:
                return drained

    def resolve(self, request_id: str, reply: Any) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._settle, request_id, reply, None)

    def fail(self, request_id: str, error: BaseException) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._settle, request_id, None, error)

    def close(self) -> None:
        self._wake_reader.close()
        self._wake_writer.close()
