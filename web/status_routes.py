"""The daemon's own status: ``/api/health`` (no token; ``starting`` until ready, see
:mod:`web.readiness`), ``/api/supervisors`` (the supervision tree as the supervisors last
reported it) and ``/metrics`` for Prometheus (:mod:`web.metrics`)."""

from __future__ import annotations

import time

from aiohttp import web

from actors.runtime.distribution import version
from web.bridge import ServiceUnavailable
from web.core import HUB, json_response
from web.metrics import CONTENT_TYPE
from web.readiness import READINESS

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    """``ok`` (200) once the daemon has finished starting; until then ``starting`` (503),
    with what it is waiting for."""
    hub = request.app[HUB]
    waiting_for = request.app[READINESS].observe(request.app[HUB]).waiting_for()
    body = {"status": "starting" if waiting_for else "ok", "version": version(),
            "uptime_s": round(time.monotonic() - hub.started, 3),
            "last_seq": hub.last_seq, "clients": len(hub.subscribers)}
    if waiting_for:
        return json_response({**body, "waiting_for": waiting_for}, 503, **{"Retry-After": "1"})
    return json_response(body)


@routes.get("/api/supervisors")
async def supervisors(request: web.Request) -> web.Response:
    tree = request.app[HUB].tree
    if tree is None:
        raise ServiceUnavailable("the supervision tree has not reported yet")
    return json_response(tree.to_dict())


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = request.app[HUB].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE,
                                            "X-Content-Type-Options": "nosniff"})
