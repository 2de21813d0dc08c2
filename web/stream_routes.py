"""The event stream and its snapshot: the seed's snapshot endpoints (``/api/state``,
``/api/account``, ``/api/positions``, ``/api/trades``, ``/api/scan``), the journal by seq
(``/api/events``) and the live WebSocket (``/ws``). All are answered by the hub on the web
loop, with no actor hop."""

from __future__ import annotations

import asyncio

from aiohttp import web

from web.auth import origin_allowed
from web.core import (
    CONTEXT,
    HUB,
    ClientError,
    Handler,
    int_param,
    json_response,
    types_param,
)

__all__ = ["MAX_EVENTS_LIMIT", "routes"]

MAX_EVENTS_LIMIT = 1000

routes = web.RouteTableDef()


@routes.get("/api/state")
async def state(request: web.Request) -> web.Response:
    return json_response(request.app[HUB].snapshot.to_dict())


def _snapshot_part(name: str) -> Handler:
    async def part(request: web.Request) -> web.Response:
        return json_response(getattr(request.app[HUB].snapshot, name))

    part.__name__ = name
    return part


# The seed's endpoints for each part of the snapshot.
for _path, _name in (("/api/account", "account"), ("/api/positions", "positions"),
                     ("/api/trades", "recent_trades"), ("/api/scan", "scan_summary")):
    routes.get(_path)(_snapshot_part(_name))


@routes.get("/api/events")
async def events(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    since = int_param(request, "since", 0, 0, 2**62)
    limit = int_param(request, "limit", 100, 1, MAX_EVENTS_LIMIT)
    types = types_param(request)
    rows = await asyncio.to_thread(hub.read_journal, since, limit,
                                   sorted(types) if types else None)
    texts = ",".join(text for _, _, text in rows)
    return web.Response(text=f'{{"events":[{texts}],"last_seq":{hub.last_seq}}}',
                        content_type="application/json")


@routes.get("/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    if not origin_allowed(request, context.allowed_origins):
        raise ClientError(403, "forbidden_origin",
                          f"Origin {request.headers.get('Origin')!r} may not open /ws")
    since = int_param(request, "since", -1, 0, 2**62) if "since" in request.query else None
    types = types_param(request)
    wire_format = request.query.get("format", "json")
    if wire_format not in ("json", "msgpack"):
        raise ClientError(400, "bad_parameter",
                          f"format={wire_format!r}: use json or msgpack", parameter="format")
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    await request.app[HUB].serve(ws, request.transport, since=since, types=types,
                                 binary=wire_format == "msgpack")
    return ws
