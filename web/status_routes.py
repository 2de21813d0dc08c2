"""The daemon's own status: ``/api/health`` (no token), ``/api/supervisors`` (the supervision
tree as the supervisors last reported it) and ``/metrics`` for Prometheus."""

from __future__ import annotations

import time

from aiohttp import web

from actors.runtime.distribution import version
from web.bridge import ServiceUnavailable
from web.core import HUB, json_response

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
    hub = request.app[HUB]
    lines = [
        "# TYPE ensemble_uptime_seconds gauge",
        f"ensemble_uptime_seconds {time.monotonic() - hub.started:.3f}",
        "# TYPE ensemble_last_event_seq gauge",
        f"ensemble_last_event_seq {hub.last_seq}",
        "# TYPE ensemble_ws_clients gauge",
        f"ensemble_ws_clients {len(hub.subscribers)}",
    ]
    for name, value in sorted(hub.counters.items()):
        lines += [f"# TYPE ensemble_ws_{name}_total counter", f"ensemble_ws_{name}_total {value}"]
    lines.append("# TYPE ensemble_actor_restarts_total counter")
    for name, value in sorted(hub.restarts_by_name.items()):
        lines.append(f'ensemble_actor_restarts_total{{name="{name}"}} {value}')
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain",
                        charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})
