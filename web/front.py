"""The WebFront actor: an aiohttp server on a loop in its own thread, bridged to the actors.

The actor side receives events, snapshots and the supervision tree and hands them to the loop
with ``call_soon_threadsafe``; the loop side puts requests on the :class:`~web.bridge.ActorBridge`
and the actor, woken through a watched socket, sends them on and routes the replies back.
Because it runs a thread, this actor creates no child actors: forking a multi-threaded process
can deadlock the child (DESIGN.md §1).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web
from thespian.actors import WatchMessage

from actors.broadcaster.journal import EVENTS_FILE
from actors.runtime.base import EnsembleActor, handles
from messages.commands import EventBatch, LiveQuotes, SnapshotSync, StateReply
from messages.supervision import TreeStatus
from messages.trading import (
    BrokerSnapshot,
    ControlReply,
    MarketData,
    OrderReport,
    RiskStatus,
    SimFaultsReply,
)
from web.app import create_app
from web.auth import load_or_create_token
from web.bridge import ActorBridge, BridgeRequest, ServiceUnavailable
from web.core import BrokerFacts, WebContext, hide_server_version
from web.hub import Hub
from web.origins import allowed_host_names

__all__ = ["BRIDGE_REPLIES", "WebFrontActor", "WebServerThread", "broker_facts", "web_context"]

SERVER_START_TIMEOUT_S = 10.0

# Replies that answer a request made through the bridge; each carries its ``request_id``.
BRIDGE_REPLIES: tuple[type, ...] = (StateReply, MarketData, ControlReply, RiskStatus,
                                    BrokerSnapshot, OrderReport, SimFaultsReply)


def broker_facts(settings: Any) -> BrokerFacts:
    """What the routes know of the broker. The one place in the web front that looks at the
    broker's kind, until the broker's profile (which says whether fault switches exist)
    reaches the front in ``BrokerReady``."""
    kind = str(settings.broker.kind)
    return BrokerFacts(name=kind, fault_switches=kind == "sim")


def web_context(settings: Any, token: str) -> WebContext:
    web_settings = settings.web
    return WebContext(
        token=token,
        allowed_hosts=allowed_host_names(web_settings.host, web_settings.allowed_hosts),
        allowed_origins=tuple(web_settings.allowed_origins),
        request_timeout_s=float(web_settings.request_timeout_s),
        broker=broker_facts(settings),
    )


class WebServerThread(threading.Thread):
    """Runs the aiohttp app on its own event loop until :meth:`stop`."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        super().__init__(name="web-front", daemon=True)
        self.app = app
        self.host = host
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stopping: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as error:  # reported to the actor, which crashes on purpose
            self.error = error
            self.ready.set()
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        hide_server_version()
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                               shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True, backlog=512)
        await site.start()
        self.ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    def stop(self, timeout: float = 3.0) -> None:
        if self._stopping is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._stopping.set)
        self.join(timeout)


class WebFrontActor(EnsembleActor):
    role = "WebFront"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bridge = ActorBridge()
        self.hub: Hub | None = None
        self.server: WebServerThread | None = None
        self._tree_version = 0

    def on_configure(self) -> None:
        settings = self.settings
        data_path = settings.data_path
        token, _ = load_or_create_token(data_path)
        journal_path = data_path / EVENTS_FILE
        self.hub = Hub(
            str(journal_path),
            queue_limit=settings.web.client_queue_limit,
            flush_interval_s=settings.web.flush_interval_ms / 1000.0,
            max_batch_events=settings.web.max_batch_events,
        )
        app = create_app(self.hub, self.bridge, web_context(settings, token))
        self.server = WebServerThread(app, settings.web.host, settings.web.port)
        self.bridge.loop = self.server.loop
        self.server.start()
        if not self.server.ready.wait(SERVER_START_TIMEOUT_S):
            raise RuntimeError(f"web server did not start within {SERVER_START_TIMEOUT_S} s")
        if self.server.error is not None:
            raise RuntimeError(
                f"web server cannot listen on {settings.web.host}:{settings.web.port}: "
                f"{self.server.error}"
            )
        self.log.info("web front listening", host=settings.web.host, port=settings.web.port)

    def on_stop(self) -> None:
        if self.server is not None:
            self.server.stop()  # the app's on_shutdown closes the WebSockets first
            self.server = None
        self.bridge.close()

    def watched_fds(self) -> list[int]:
        return [self.bridge.fileno()] if self.server is not None else []

    def _on_loop(self, function: Any, *args: Any) -> None:
        if self.server is not None and self.server.loop.is_running():
            self.server.loop.call_soon_threadsafe(function, *args)

    # --- from actors ---------------------------------------------------------------------------

    @handles(EventBatch)
    def _on_events(self, message: EventBatch, sender: Any) -> None:
        assert self.hub is not None
        self._on_loop(self.hub.publish, message.wires, message.texts)

    @handles(LiveQuotes)
    def _on_quotes(self, message: LiveQuotes, sender: Any) -> None:
        assert self.hub is not None
        self._on_loop(self.hub.live_quotes, message.wires, message.texts)

    @handles(SnapshotSync)
    def _on_snapshot(self, message: SnapshotSync, sender: Any) -> None:
        assert self.hub is not None
        self._on_loop(self.hub.sync_snapshot, message.snapshot, message.last_seq)

    @handles(TreeStatus)
    def _on_tree(self, message: TreeStatus, sender: Any) -> None:
        assert self.hub is not None
        if message.version and message.version <= self._tree_version:
            return  # an older tree overtaken in transit (Thespian does not keep order)
        self._tree_version = message.version
        self._on_loop(self.hub.set_tree, message.root)

    @handles(*BRIDGE_REPLIES)
    def _on_late_reply(self, message: Any, sender: Any) -> None:
        """A reply to a request the loop side has given up on: nobody waits for it."""

    # --- from the loop -------------------------------------------------------------------------

    @handles(WatchMessage)
    def _on_wake(self, message: WatchMessage, sender: Any) -> None:
        for request in self.bridge.drain():
            self._forward(request)

    def _forward(self, request: BridgeRequest) -> None:
        """Ask the request's role for the loop side. Only requests safe to repeat cross the
        bridge (SharedState's operations are idempotent or carry an op id), so one sent to an
        actor that then dies is sent again to its replacement."""
        limit = self.settings.web.request_timeout_s

        def unanswered() -> None:
            self.bridge.fail(request.request_id, ServiceUnavailable(
                f"{request.role} did not answer in {limit:g} s (starting or restarting)"))

        self.ask_peer(request.role, lambda _: request.message,
                      lambda reply: self.bridge.resolve(request.request_id, reply),
                      limit, unanswered, resend=True, request_id=request.request_id)
