"""The app factory: composes the route modules, the middlewares and the app's resources.

It holds no route and no helper of its own (those are in :mod:`web.core` and the ``*_routes``
modules, which never import this one). Resources live in ``cleanup_ctx`` (cleaned up only if
their start-up succeeded); open WebSockets are closed in ``on_shutdown``, before the server
waits for its handlers to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from actors.runtime.distribution import version
from web import (
    broker_routes,
    kv_routes,
    page_routes,
    readiness,
    risk_routes,
    sim_routes,
    status_routes,
    stream_routes,
    trading_routes,
)
from web.api_spec import Operation, openapi_document
from web.bridge import ActorBridge
from web.core import (
    BRIDGE,
    CONTEXT,
    HUB,
    OPENAPI,
    TICKETS,
    WebContext,
    auth_middleware,
    errors_middleware,
    host_middleware,
    security_headers,
)
from web.http_log import MalformedRequestLog
from web.hub import Hub
from web.tickets import TicketBook

__all__ = ["API", "ROUTE_TABLES", "create_app"]

_ROUTE_MODULES = (page_routes, status_routes, stream_routes, kv_routes, trading_routes,
                  sim_routes, broker_routes, risk_routes)
ROUTE_TABLES: tuple[web.RouteTableDef, ...] = tuple(m.routes for m in _ROUTE_MODULES)
# Each route module describes its routes beside them (web.api_spec); together, the API.
API: tuple[Operation, ...] = tuple(op for m in _ROUTE_MODULES for op in m.API)


async def _journal_reader(app: web.Application) -> AsyncIterator[None]:
    """The hub's journal connection is closed with the app."""
    yield
    app[HUB].close()


async def _journal_follower(app: web.Application) -> AsyncIterator[None]:
    """Fills, from the journal, events whose batch never reached this process."""
    follower = asyncio.create_task(app[HUB].follow_journal())
    yield
    follower.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follower


async def _readiness_watcher(app: web.Application) -> AsyncIterator[None]:
    """Finds out when the daemon has finished starting (:mod:`web.readiness`)."""
    watcher = asyncio.create_task(readiness.watch(app))
    yield
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher


async def _close_websockets(app: web.Application) -> None:
    await app[HUB].close_all()


def create_app(hub: Hub, bridge: ActorBridge, context: WebContext) -> web.Application:
    app = web.Application(middlewares=[host_middleware, errors_middleware, auth_middleware],
                          client_max_size=context.max_body_bytes,
                          handler_args={"logger": MalformedRequestLog(
                              logging.getLogger("aiohttp.server"))})
    app[HUB] = hub
    app[BRIDGE] = bridge
    app[CONTEXT] = context
    app[TICKETS] = TicketBook()
    app[OPENAPI] = openapi_document(API, version())
    app.cleanup_ctx.append(_journal_reader)
    app.cleanup_ctx.append(_journal_follower)
    app[readiness.READINESS] = readiness.Readiness()
    app.cleanup_ctx.append(_readiness_watcher)
    app.on_response_prepare.append(security_headers)
    app.on_shutdown.append(_close_websockets)
    for table in ROUTE_TABLES:
        app.add_routes(table)
    return app
