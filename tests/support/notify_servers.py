"""Local stand-ins for the outside services the notifier talks to: a Telegram Bot API server
and a webhook receiver, each a real aiohttp server on 127.0.0.1 in a thread of its own (the
tests that use them also block on HTTP to the daemon).

:class:`FakeTelegram` implements the Bot API methods python-telegram-bot calls (``getMe``,
``getUpdates`` with long polling and offsets, ``sendMessage``, ``setMyCommands``) as the real
server answers them, including its error form (``{"ok": false, "error_code", "description",
"parameters": {"retry_after"}}``), a token check, and switches to fail the next sends.
Tests wait on its state with :meth:`wait_for`, which wakes whenever a request changes it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["FakeTelegram", "FakeWebhook"]


class _ThreadedServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.changed = threading.Condition()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> _ThreadedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _touch(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0,
                 what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self.changed.wait(min(left, 0.5))


class FakeTelegram(_ThreadedServer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.sent: list[dict[str, Any]] = []  # sendMessage calls that succeeded
        self.calls: list[str] = []  # every method called, in order
        self.commands: list[dict[str, Any]] = []
        self.fail_sends: list[tuple[int, dict[str, Any]]] = []  # (status, body) to answer next
        self.refused_texts: set[str] = set()  # answered 400 "chat not found", every time
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1000
        self._new_update = asyncio.Event()
        self.held = 0  # sendMessage calls waiting for release()
        self._gate: asyncio.Event | None = None
        self.confirmed = 0  # the highest update id the client confirmed (by asking past it)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/bot{token}/{method}", self._method)
        return app

    # --- what a test does -------------------------------------------------------------------

    def user_says(self, chat_id: int, text: str) -> int:
        """A user writes ``text`` in chat ``chat_id``; returns the update's id."""
        def add() -> int:
            self._next_update += 1
            self._updates.append({"update_id": self._next_update, "message": {
                "message_id": self._next_update, "date": int(time.time()), "text": text,
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": chat_id, "is_bot": False, "first_name": "Tester"}}})
            self._new_update.set()
            return self._next_update

        return asyncio.run_coroutine_threadsafe(_call(add), self.loop).result(10)

    def hold(self) -> None:
        """Make sendMessage calls wait until :meth:`release`."""
        self.loop.call_soon_threadsafe(setattr, self, "_gate", asyncio.Event())

    def release(self) -> None:
        def open_gate() -> None:
            if self._gate is not None:
                self._gate.set()
                self._gate = None

        self.loop.call_soon_threadsafe(open_gate)

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [call["text"] for call in list(self.sent)
                if chat_id is None or call["chat_id"] == chat_id]

    # --- the Bot API ------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(method)
        try:
            handler = {"getMe": self._get_me, "getUpdates": self._get_updates,
                       "sendMessage": self._send_message, "setMyCommands": self._set_commands,
                       "deleteWebhook": self._true, "close": self._true}.get(method)
            if handler is None:
                return _error(404, "Not Found")
            return await handler(params)
        finally:
            self._touch()

    async def _true(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _get_me(self, params: dict[str, Any]) -> web.Response:
        return _ok({"id": 4242, "is_bot": True, "first_name": "Ensemble test",
                    "username": "ensemble_test_bot", "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False})

    async def _set_commands(self, params: dict[str, Any]) -> web.Response:
        self.commands = list(_json_field(params.get("commands")) or [])
        return _ok(True)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.confirmed = max(self.confirmed, offset - 1)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self._updates and time.monotonic() < deadline:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return _ok(self._updates[:100])

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        if self._gate is not None:
            gate = self._gate
            self.held += 1
            self._touch()
            await gate.wait()
            self.held -= 1
        if self.fail_sends:
            status, body = self.fail_sends.pop(0)
            return web.json_response(body, status=status)
        if params.get("text") in self.refused_texts:
            return _error(400, "Bad Request: chat not found")
        if "chat_id" not in params or not params.get("text"):
            return _error(400, "Bad Request: message text is empty")
        chat_id = int(params["chat_id"])
        self.sent.append({"chat_id": chat_id, "text": params["text"]})
        return _ok({"message_id": len(self.sent), "date": int(time.time()), "text":
                    params["text"], "chat": {"id": chat_id, "type": "private"}})


class FakeWebhook(_ThreadedServer):
    """Collects every JSON body POSTed to ``/hook``; answers ``statuses`` first, if any."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook/{secret}", self._hook)
        return app

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook/s3cret-path"

    async def _hook(self, request: web.Request) -> web.Response:
        try:
            if self.statuses:
                return web.Response(status=self.statuses.pop(0), headers={"Retry-After": "0"})
            self.bodies.append(await request.json())
            return web.Response(status=204)
        finally:
            self._touch()

    def texts(self) -> list[str]:
        return [str(body.get("text") or body.get("content")) for body in list(self.bodies)]


async def _call(function: Callable[[], Any]) -> Any:
    return function()


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        params.update(dict(await request.post()))
    return params


def _json_field(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
