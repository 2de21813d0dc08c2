"""The fan-out's second baseline: a single-process aiohttp server built the way a good one is.

``python -m bench.wellbuilt_server --port P`` serves the same routes as
:mod:`bench.naive_server` (``GET /ws``, ``POST /run``, ``GET /health``) and generates the same
BENCH_TICK stream, paced the same way, but broadcasts well:

- each event is encoded to JSON once, whatever the number of clients;
- each client has a bounded queue and one writer task; broadcasting only appends the encoded
  text to every queue (no await per client), so a slow client never holds the others back;
- a writer sleeps ``FLUSH_S`` (10 ms) after its queue wakes it, then sends everything queued as
  one frame ``{"v": 1, "events": [...]}``, the shape Ensemble's frames have;
- a client whose queue overflows (``QUEUE_LIMIT`` events) is closed with code 4000;
- what start-up made is frozen out of the garbage collector's sight (``gc.freeze``), as in
  Ensemble's actor processes, so a full collection does not walk the modules.

It is what Ensemble's pipeline is measured against (issue 12): the same fan-out with no actor
hop, no journal and no snapshot. It binds 127.0.0.1 only and has no authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections import deque
from typing import Any

from aiohttp import web

from bench.naive_server import NaiveBroadcaster, run_server, serve_routes

__all__ = ["FLUSH_S", "QUEUE_LIMIT", "WellBuiltBroadcaster", "create_app", "main"]

FLUSH_S = 0.010
QUEUE_LIMIT = 20_000


class _Client:
    __slots__ = ("queue", "wake", "writer", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: deque[str] = deque()
        self.wake = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None


class WellBuiltBroadcaster(NaiveBroadcaster):
    """Encode once, queue per client, one writer per client coalescing every 10 ms."""

    def __init__(self) -> None:
        super().__init__()
        self.queues: dict[web.WebSocketResponse, _Client] = {}

    def attach(self, ws: web.WebSocketResponse) -> None:
        super().attach(ws)
        client = _Client(ws)
        client.writer = asyncio.get_running_loop().create_task(self._write(client))
        self.queues[ws] = client

    def detach(self, ws: web.WebSocketResponse) -> None:
        super().detach(ws)
        client = self.queues.pop(ws, None)
        if client is not None and client.writer is not None:
            client.writer.cancel()

    async def broadcast(self, event: dict[str, Any]) -> None:
        text = json.dumps(event, separators=(",", ":"))
        for client in list(self.queues.values()):
            if len(client.queue) >= QUEUE_LIMIT:
                self.detach(client.ws)
                asyncio.get_running_loop().create_task(client.ws.close(code=4000))
                continue
            client.queue.append(text)
            client.wake.set()

    async def _write(self, client: _Client) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not client.ws.closed:
                await client.wake.wait()
                client.wake.clear()
                await asyncio.sleep(FLUSH_S)
                texts = list(client.queue)
                client.queue.clear()
                if texts:
                    await client.ws.send_str('{"v":1,"events":[' + ",".join(texts) + "]}")


async def _freeze(app: web.Application) -> None:
    gc.freeze()


def create_app() -> web.Application:
    app = serve_routes(WellBuiltBroadcaster())
    app.on_startup.append(_freeze)
    return app


def main(argv: list[str] | None = None) -> None:
    run_server(create_app(), __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
