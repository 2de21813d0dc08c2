"""The event stream and its snapshot: the seed's snapshot endpoints (``/api/state``,
``/api/account``, ``/api/positions``, ``/api/trades``, ``/api/scan``), the journal by seq
(``/api/events``), the live WebSocket (``/ws``) and the tickets that open it from a browser
(``POST /api/ws-ticket``). All are answered on the web loop, with no actor hop."""

from __future__ import annotations

import asyncio

from aiohttp import web

from web.core import (
    CONTEXT,
    HUB,
    TICKETS,
    ClientError,
    Handler,
    int_param,
    json_response,
    types_param,
)
from web.origins import origin_allowed

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


@routes.post("/api/ws-ticket")
async def ws_ticket(request: web.Request) -> web.Response:
    """A single-use ticket for ``/ws?ticket=``, so the token stays out of the URL; with the
    last seq, so that a page ahead of this server does not ask for a ``since`` beyond it."""
    tickets, hub = request.app[TICKETS], request.app[HUB]
    last_seq = max(hub.last_seq, await asyncio.to_thread(hub.journal_last_seq))
    return json_response({"ticket": tickets.issue(), "expires_in_s": tickets.ttl_s,
                          "last_seq": last_seq})


async def _since_param(request: web.Request) -> int | None:
    """``?since=SEQ``: replay from there; a seq beyond the last one is a 400 naming it."""
    if "since" not in request.query:
        return None
    since = int_param(request, "since", -1, 0, 2**62)
    hub = request.app[HUB]
    await hub.wait_synced()
    if since > hub.last_seq:
        last = max(hub.last_seq, await asyncio.to_thread(hub.journal_last_seq))
        if since > last:
            raise ClientError(400, "bad_parameter", f"since={since} is beyond the last seq, "
                              f"{last}", parameter="since", last_seq=last)
    return since


@routes.get("/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, context.allowed_hosts, context.allowed_origins,
                          str(sockname[0]) if sockname else None,
                          int(sockname[1]) if sockname else None):
        raise ClientError(403, "forbidden_origin", f"Origin {origin!r} may not open /ws")
    types = types_param(request)
    wire_format = request.query.get("format", "json")
    if wire_format not in ("json", "msgpack"):
        raise ClientError(400, "bad_parameter",
                          f"format={wire_format!r}: use json or msgpack", parameter="format")
    since = await _since_param(request)
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    await request.app[HUB].serve(ws, request.transport, since=since, types=types,
                                 binary=wire_format == "msgpack")
    return ws
