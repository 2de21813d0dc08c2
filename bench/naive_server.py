"""The fan-out baseline: a minimal aiohttp server that broadcasts the way the seed did.

``python -m bench.naive_server --port P`` serves:

- ``GET /ws``: a WebSocket. The first frame is ``{"type": "HELLO", "last_seq": N}``, then one
  frame per event, each a single event object (no batching).
- ``POST /run`` with ``{"count": C, "rate": R, "max_seconds": S}``: generates ``C`` BENCH_TICK
  events at ``R`` events/s, shaped like the daemon's (``type``, ``timestamp``, ``seq``, ``n``,
  ``sent_at``), and answers ``{"emitted": E, "seconds": T}`` when done. Each event is stamped
  with the wall time it is created, then broadcast by awaiting ``ws.send_json(event)`` for each
  client in turn: one send per client per event, sequentially, as the seed's
  ``ConnectionManager.broadcast`` did (the seed encoded once and awaited ``send_text`` per
  client; ``send_json`` encodes per client, as issue 2 describes the baseline). The generator
  is paced like :class:`bench.producer.EventProducer`: it emits whatever is due, so a slow
  broadcast delays later events instead of dropping them. It stops after ``max_seconds`` even
  if events remain, and says how many it emitted. With ``"quotes": Q`` (and
  ``"quote_interval_s"``, default 0.25) it also broadcasts, every interval, one unnumbered
  QUOTE event for each of Q symbols (``Q00``…), shaped like the daemon's, beside the stream.
- ``GET /health``: ``{"clients": N}``.

It binds 127.0.0.1 only and has no authentication: it exists for the benchmark alone.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from aiohttp import web

from actors.runtime.clock import iso_utc

__all__ = ["NaiveBroadcaster", "create_app", "main", "run_server", "serve_routes"]


class NaiveBroadcaster:
    """The seed's connection manager: a list of sockets, each awaited in turn."""

    def __init__(self) -> None:
        self.clients: list[web.WebSocketResponse] = []
        self.last_seq = 0

    def attach(self, ws: web.WebSocketResponse) -> None:
        self.clients.append(ws)

    def detach(self, ws: web.WebSocketResponse) -> None:
        if ws in self.clients:
            self.clients.remove(ws)

    async def broadcast(self, event: dict[str, Any]) -> None:
        dead = []
        for ws in self.clients:
            try:
                await ws.send_json(event)
            except (ConnectionError, RuntimeError):
                dead.append(ws)
        for ws in dead:
            if ws in self.clients:
                self.clients.remove(ws)

    async def generate(self, count: int, rate: float, max_seconds: float, quotes: int = 0,
                       quote_interval_s: float = 0.25) -> tuple[int, float]:
        started = time.monotonic()
        deadline = started + max_seconds
        emitted = 0
        next_quotes, rounds = started, 0
        while emitted < count and time.monotonic() < deadline:
            if quotes and time.monotonic() >= next_quotes:
                next_quotes += quote_interval_s
                rounds += 1
                await self._quotes(quotes, rounds)
            due = min(count, int((time.monotonic() - started) * rate) + 1)
            while emitted < due and time.monotonic() < deadline:
                now = time.time()
                self.last_seq += 1
                await self.broadcast({
                    "type": "BENCH_TICK",
                    "timestamp": iso_utc(now),
                    "seq": self.last_seq,
                    "n": emitted,
                    "sent_at": now,
                })
                emitted += 1
            pause = started + emitted / rate - time.monotonic()
            await asyncio.sleep(max(pause, 0.0))
        return emitted, time.monotonic() - started

    async def _quotes(self, symbols: int, round_number: int) -> None:
        now = time.time()
        for index in range(symbols):
            bid = 1.0 + (round_number + index) % 100 / 10_000
            await self.broadcast({"type": "QUOTE", "timestamp": iso_utc(now),
                                  "symbol": f"Q{index:02d}", "bid": bid, "ask": bid + 0.0002,
                                  "spread": 2.0, "time": now})


BROADCASTER = web.AppKey("broadcaster", NaiveBroadcaster)


async def _websocket(request: web.Request) -> web.StreamResponse:
    broadcaster = request.app[BROADCASTER]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_json({"type": "HELLO", "last_seq": broadcaster.last_seq})
    broadcaster.attach(ws)
    try:
        async for _ in ws:
            pass
    finally:
        broadcaster.detach(ws)
    return ws


async def _run(request: web.Request) -> web.Response:
    body = await request.json()
    emitted, seconds = await request.app[BROADCASTER].generate(
        int(body["count"]), float(body["rate"]), float(body.get("max_seconds", 60.0)),
        int(body.get("quotes", 0)), float(body.get("quote_interval_s", 0.25)),
    )
    return web.json_response({"emitted": emitted, "seconds": seconds})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"clients": len(request.app[BROADCASTER].clients)})


def serve_routes(broadcaster: NaiveBroadcaster) -> web.Application:
    """The benchmark's routes around ``broadcaster`` (this one, or a better-built subclass)."""
    app = web.Application()
    app[BROADCASTER] = broadcaster
    app.router.add_get("/ws", _websocket)
    app.router.add_post("/run", _run)
    app.router.add_get("/health", _health)
    return app


def create_app() -> web.Application:
    return serve_routes(NaiveBroadcaster())


def run_server(app: web.Application, description: str, argv: list[str] | None = None) -> None:
    """Serve ``app`` on 127.0.0.1 at ``--port`` until stopped."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None,
                print=None, shutdown_timeout=1.0)


def main(argv: list[str] | None = None) -> None:
    run_server(create_app(), __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
