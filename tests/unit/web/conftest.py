"""The web front's app, for route tests without an ActorSystem.

The app is the real one (:func:`web.app.create_app`), served by pytest-aiohttp's
``aiohttp_client``. Its hub reads a real ``events.db`` in ``tmp_path``, fed the way the
Broadcaster feeds it (numbered, journalled, then published). Its bridge is answered by
:class:`Responder` on the test's loop: SharedState's requests by SharedState's own
:func:`~actors.shared_state.requests.answer` over a real ``state.db``, the other roles' by
replies a test declares. Every request is pickled and unpickled on the way, as Thespian does.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from actors.broadcaster.journal import EVENTS_FILE, Journal
from actors.broadcaster.snapshot import Snapshot
from actors.shared_state.keys import OPERATOR_PREFIX
from actors.shared_state.requests import answer
from actors.shared_state.store import KeyValueStore, Quota
from messages.codec import encode_json, to_wire
from messages.commands import StateRequest
from messages.events import Event
from messages.supervision import NodeStatus
from messages.trading import BrokerSnapshot, BrokerSnapshotRequest, RiskStatus, RiskStatusRequest
from web.app import create_app
from web.bridge import ActorBridge, BridgeRequest
from web.core import BrokerFacts, WebContext
from web.hub import Hub
from web.origins import allowed_host_names

TOKEN = "unit-test-token-0123456789"
SIM_BROKER = BrokerFacts(name="sim", fault_switches=True)
# How long a route waits for its actor: long enough for the in-test responder on a loaded
# 2-core machine (0.5 s was not: an answered request timed out once), short enough that the
# tests of an actor that never answers stay quick.
REQUEST_TIMEOUT_S = 2.0


class Responder:
    """Plays the actors behind the bridge: ``on(type, reply)`` declares how a role answers a
    message type; SharedState answers from a real store. A message nobody answers is left
    unanswered, as a dead actor would leave it."""

    def __init__(self, bridge: ActorBridge, store: KeyValueStore) -> None:
        self.bridge = bridge
        self.store = store
        self.received: list[BridgeRequest] = []
        self._replies: dict[type, Callable[[Any], Any]] = {}

    @property
    def hops(self) -> list[BridgeRequest]:
        """What routes sent, without the readiness watcher's own polling (which runs on its
        own timer and may ask at any moment)."""
        return [r for r in self.received
                if not isinstance(r.message, RiskStatusRequest | BrokerSnapshotRequest)]

    def on(self, message_type: type, reply: Callable[[Any], Any]) -> None:
        self._replies[message_type] = reply

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.bridge.loop = loop
        loop.add_reader(self.bridge.fileno(), self._drain)

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self.bridge.fileno())

    def _drain(self) -> None:
        for request in self.bridge.drain():
            message = pickle.loads(pickle.dumps(request.message))  # what Thespian delivers
            self.received.append(request)
            if isinstance(message, StateRequest):
                reply = answer(self.store, message)
            elif type(message) in self._replies:
                reply = self._replies[type(message)](message)
            else:
                continue
            self.bridge.resolve(request.request_id, pickle.loads(pickle.dumps(reply)))


@dataclass
class Feed:
    """Numbers events, journals them and publishes them to the hub, as the Broadcaster does."""

    journal: Journal
    hub: Hub
    snapshot: Snapshot = field(default_factory=Snapshot)
    last_seq: int = 0

    def publish(self, *events: Event) -> list[dict[str, Any]]:
        wires = []
        for event in events:
            self.last_seq += 1
            wires.append(to_wire(event.numbered(self.last_seq)))
        texts = [encode_json(wire) for wire in wires]
        self.journal.append([(w["seq"], w["type"], t) for w, t in zip(wires, texts, strict=True)])
        self.snapshot.apply_all(wires)
        self.hub.publish(wires, texts)
        return wires

    def sync(self) -> None:
        """The Broadcaster's first SnapshotSync: the WebFront may serve /ws from now on."""
        self.hub.sync_snapshot(self.snapshot.to_dict(), self.last_seq)


def node(name: str, state: str = "running", restarts: int = 0,
         children: tuple[NodeStatus, ...] = ()) -> NodeStatus:
    return NodeStatus(name=name, role=name, state=state, pid=1000, restarts=restarts,
                      last_failure=None, started_at="2026-01-01T00:00:00Z",
                      strategy="one_for_one" if children else None, children=children)


@dataclass
class WebFixture:
    client: TestClient
    hub: Hub
    feed: Feed
    responder: Responder
    token: str = TOKEN

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def starting(self, *, risk_loaded: bool, broker_reconciled: bool) -> None:
        """How far the RiskManager and the broker are, as their status replies say."""
        self.responder.on(RiskStatusRequest, lambda m: RiskStatus(
            m.request_id, "ACTIVE" if risk_loaded else "HALTED", False, False,
            "" if risk_loaded else "loading", loaded=risk_loaded))
        self.responder.on(BrokerSnapshotRequest, lambda m: BrokerSnapshot(
            m.request_id, connected=True, reconciled=broker_reconciled, server_time=0.0,
            account=None, positions=(), orders=()))

    async def ready(self) -> None:
        """Finish the start-up: the Broadcaster syncs, the RiskManager has loaded its state
        and the broker has reconciled; returns once /api/health says ok."""
        self.starting(risk_loaded=True, broker_reconciled=True)
        self.feed.sync()
        while (await self.call("GET", "/api/health", token=False))[0] != 200:
            await asyncio.sleep(0.01)

    async def call(self, method: str, path: str, *, token: bool = True,
                   **kwargs: Any) -> tuple[int, Any]:
        headers = {**(self.auth if token else {}), **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        content_type = response.headers.get("Content-Type", "")
        body = await (response.json() if content_type.startswith("application/json")
                      else response.text())
        return response.status, body


def make_context(broker: BrokerFacts = SIM_BROKER, **overrides: Any) -> WebContext:
    values: dict[str, Any] = {"token": TOKEN, "allowed_hosts": allowed_host_names("127.0.0.1", ()),
                              "allowed_origins": (), "request_timeout_s": REQUEST_TIMEOUT_S,
                              "broker": broker}
    return WebContext(**(values | overrides))


@pytest.fixture
def context() -> WebContext:
    """Override in a test module to run the app with other settings."""
    return make_context()


@pytest.fixture
def quota() -> Quota:
    """SharedState's quota on operator keys (the defaults); override to test it."""
    return Quota(OPERATOR_PREFIX, 1000, 65_536)


@pytest.fixture
async def web_app(tmp_path: Path, aiohttp_client: Any, context: WebContext, quota: Quota,
                  ) -> AsyncIterator[WebFixture]:
    journal = Journal(tmp_path / EVENTS_FILE)
    store = KeyValueStore(tmp_path / "state.db", quotas=[quota])
    hub = Hub(str(tmp_path / EVENTS_FILE), queue_limit=1000, flush_interval_s=0.0,
              max_batch_events=500)
    bridge = ActorBridge()
    responder = Responder(bridge, store)
    loop = asyncio.get_running_loop()
    responder.start(loop)
    client: TestClient | None = None
    try:
        client = await aiohttp_client(create_app(hub, bridge, context))
        hub.set_tree(node("root", children=(node("core"), node("trading"))))
        yield WebFixture(client, hub, Feed(journal, hub), responder)
    finally:
        if client is not None:
            await client.close()  # the app's cleanup first: its tasks still use the bridge
        responder.stop(loop)
        bridge.close()
        journal.close()
        store.close()
