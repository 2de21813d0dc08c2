"""The daemon's own status: ``/api/health`` (no token), ``/api/supervisors`` (the supervision
tree as the supervisors last reported it) and ``/metrics`` for Prometheus (:mod:`web.metrics`)."""

from __future__ import annotations

import time

from aiohttp import web

from actors.runtime.distribution import version
from web.bridge import ServiceUnavailable
from web.core import HUB, json_response
from web.metrics import CONTENT_TYPE

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    return json_response({"status": "ok", "version": version(),
                          "uptime_s": round(time.monotonic() - hub.started, 3),
                          "last_seq": hub.last_seq, "clients": len(hub.subscribers)})


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
