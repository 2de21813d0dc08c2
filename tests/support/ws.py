"""A WebSocket client as a dashboard would be: reads frames, decodes batches, keeps events."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import msgpack


class EventClient:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.frames: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.close_code: int | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> EventClient:
        self.ws = await self.session.ws_connect(self.url, heartbeat=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                frame = msgpack.unpackb(message.data)
                frame["_binary"] = True
            else:
                break
            self.frames.append(frame)
            self.events.extend(frame["events"])
        self.close_code = self.ws.close_code

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    async def wait_for(self, predicate: Any, timeout: float = 20.0,
                       what: Callable[[], str] | None = None) -> None:
        """Until ``predicate()``; on a timeout, ``what()`` says what was still missing."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                seqs = [event["seq"] for event in self.events if "seq" in event]
                gaps = sum(1 for a, b in itertools.pairwise(seqs) if b != a + 1)
                missing = f"; {what()}" if what is not None else ""
                raise AssertionError(f"timed out; {len(self.events)} events received, "
                                     f"{gaps} gap(s) in seq, still connected{missing}")
            if self._reader is not None and self._reader.done():
                raise AssertionError(f"connection closed ({self.close_code}); "
                                     f"{len(self.events)} events received")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
