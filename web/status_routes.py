"""The daemon's own status: ``/api/health`` (no token; ``starting`` until ready, see
:mod:`web.readiness`), ``/api/supervisors`` (the supervision tree as the supervisors last
reported it), ``/metrics`` for Prometheus (:mod:`web.metrics`) and ``/api/openapi.json`` (no
token), the API's description (:mod:`web.api_spec`)."""

from __future__ import annotations

import time

from aiohttp import web

from actors.runtime.distribution import version
from web.api_spec import INTEGER, NUMBER, STRING, Answer, Operation, array, json_answer, obj
from web.bridge import ServiceUnavailable
from web.core import HUB, OPENAPI, json_response
from web.metrics import CONTENT_TYPE
from web.readiness import READINESS

__all__ = ["API", "routes"]

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


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


_HEALTH = obj(("status", "version", "uptime_s", "last_seq", "clients"),
              status={"enum": ["ok", "starting"]}, version=STRING, uptime_s=NUMBER,
              last_seq=INTEGER, clients=INTEGER,
              waiting_for={**array(STRING), "description": "what the daemon still waits for"})
_NODE = obj(("name", "role", "state", "restarts", "children"), name=STRING, role=STRING,
            state=STRING, pid={"type": ["integer", "null"]}, restarts=INTEGER,
            last_failure={"anyOf": [{"type": "null"},
                                    obj(("time", "reason"), time=STRING, reason=STRING)]},
            started_at={"type": ["string", "null"]},
            strategy={"type": ["string", "null"]},
            children=array({"$ref": "#/components/schemas/Node"}))

API = (
    Operation("GET", "/api/health", "Whether the daemon has finished starting", public=True,
              tag="status", ok={
                  200: json_answer("ready", _HEALTH),
                  503: Answer("starting: ``waiting_for`` says what for", _HEALTH,
                              headers={"Retry-After": "seconds"})}),
    Operation("GET", "/api/supervisors", "The supervision tree as the supervisors last "
              "reported it", tag="status", errors=(503,),
              ok={200: json_answer("the root supervisor and its subtree",
                                   {"$ref": "#/components/schemas/Node"})},
              components={"Node": _NODE}),
    Operation("GET", "/metrics", "Prometheus metrics (text exposition format)", tag="status",
              ok={200: Answer("the metrics", content_type="text/plain")}),
    Operation("GET", "/api/openapi.json", "This description (OpenAPI 3.1)", public=True,
              tag="status", ok={200: json_answer("the OpenAPI document", {"type": "object"})}),
)
