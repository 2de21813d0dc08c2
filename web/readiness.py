"""Whether the daemon has finished starting, as ``/api/health`` reports it.

Ready means: every actor of the supervision tree is running, the RiskManager has loaded its
saved state, the broker has reconciled with the terminal, and this web front has had the
Broadcaster's first sync. Until then ``/api/health`` answers ``starting`` (503) naming what it
waits for, and controls are answered 503 (they would find the risk state unloaded). Once ready,
the web front stays ready for its lifetime: a later restart of one actor is reported by the
supervision tree and answered 503 by the routes that need that actor.

:func:`watch` runs on the web loop from the app's start until ready, asking the RiskManager and
the broker for their status (a few requests, never one per health check).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiohttp import web

from messages.trading import BrokerSnapshot, BrokerSnapshotRequest, RiskStatus, RiskStatusRequest
from web.bridge import ServiceUnavailable
from web.core import HUB, ask
from web.hub import Hub

__all__ = ["READINESS", "Readiness", "watch"]

POLL_INTERVAL_S = 0.1


@dataclass
class Readiness:
    tree_running: bool = False
    risk_loaded: bool = False
    broker_reconciled: bool = False
    synced: bool = False

    @property
    def ready(self) -> bool:
        return not self.waiting_for()

    def observe(self, hub: Hub) -> Readiness:
        """Take the hub's facts (its sync, the tree) as they are now, unless already ready."""
        if not self.ready:
            self.synced = hub.synced.is_set()
            self.tree_running = hub.tree is not None and hub.tree.state == "running"
        return self

    def waiting_for(self) -> list[str]:
        waiting = [("every actor to start", self.tree_running),
                   ("the RiskManager to load its state", self.risk_loaded),
                   ("the broker to reconcile with the terminal", self.broker_reconciled),
                   ("the Broadcaster's first sync", self.synced)]
        return [what for what, done in waiting if not done]


READINESS = web.AppKey("readiness", Readiness)


async def _status(app: web.Application, role: str, message_type: type) -> object | None:
    """The role's status reply, or None while it cannot answer (starting, restarting)."""
    with contextlib.suppress(ServiceUnavailable, TimeoutError):
        return await ask(app, role, lambda rid: message_type(request_id=rid))
    return None


async def watch(app: web.Application, interval_s: float = POLL_INTERVAL_S) -> None:
    readiness = app[READINESS]
    hub = app[HUB]
    while not readiness.observe(hub).ready:
        if readiness.tree_running:
            if not readiness.risk_loaded:
                risk = await _status(app, "risk", RiskStatusRequest)
                readiness.risk_loaded = isinstance(risk, RiskStatus) and risk.loaded
            if not readiness.broker_reconciled:
                broker = await _status(app, "broker", BrokerSnapshotRequest)
                readiness.broker_reconciled = (isinstance(broker, BrokerSnapshot)
                                               and broker.reconciled)
        if not readiness.ready:
            await asyncio.sleep(interval_s)
