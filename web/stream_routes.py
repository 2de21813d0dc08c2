"""The event stream and its snapshot: the seed's snapshot endpoints (``/api/state``,
``/api/account``, ``/api/positions``, ``/api/trades``, ``/api/scan``), the journal by seq
(``/api/events``), the live WebSocket (``/ws``) and the tickets that open it from a browser
(``POST /api/ws-ticket``). All are answered on the web loop, with no actor hop."""

from __future__ import annotations

import asyncio

from aiohttp import web

from messages.events import EVENT_TYPES, AccountRow, PositionRow
from web.api_spec import (
    INTEGER,
    NUMBER,
    STRING,
    Answer,
    Operation,
    Param,
    array,
    json_answer,
    obj,
    record_schema,
)
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

__all__ = ["API", "EVENT", "MAX_EVENTS_LIMIT", "TYPES_PARAM", "routes"]

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
    # Not compressed: compression is per client (its own zlib stream), so the one frame built
    # for every client of a group could no longer be written to each of them as it is.
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024, compress=False)
    await ws.prepare(request)
    await request.app[HUB].serve(ws, request.transport, since=since, types=types,
                                 binary=wire_format == "msgpack")
    return ws


EVENT = obj(("type", "timestamp"), type=STRING,
            timestamp={"type": "string", "description": "ISO 8601 UTC"},
            seq={"type": "integer", "description": "the Broadcaster's number, from 1"})
_TYPE = "(?:" + "|".join(sorted(EVENT_TYPES)) + ")"
TYPES_PARAM = Param("types", "comma-separated event types to keep (default: all); an unknown "
                    "type is a 400", {"type": "string",
                                      "pattern": f"^(?:{_TYPE}(?:,{_TYPE})*)?$"})
_ACCOUNT = record_schema(AccountRow, complete=False)  # {} until the broker's first poll
_POSITION = record_schema(PositionRow)
_EXECUTION = obj(("symbol", "direction"), symbol=STRING, direction=STRING, price=NUMBER,
                 lot=NUMBER, ticket=INTEGER, seq=INTEGER, timestamp=STRING)
_SCAN = obj(symbols={"type": "object", "additionalProperties": STRING}, timestamp=STRING,
            count=INTEGER, candidates=INTEGER, strategy=STRING)
_STATE = obj(("account", "positions", "scan_summary", "recent_trades", "events", "risk",
              "broker", "last_seq"), account=_ACCOUNT, positions=array(_POSITION),
             scan_summary=_SCAN, scan_summaries=array(_SCAN),
             recent_trades=array(_EXECUTION), events=array(EVENT),
             risk={"type": "object"}, broker={"type": "object"}, last_seq=INTEGER)
_SEQ = {"type": "integer", "minimum": 0, "maximum": 2**62}

API = (
    Operation("GET", "/api/state", "The seed's STATE_SNAPSHOT: account, positions, scan, "
              "recent trades and events, risk, broker", tag="snapshot",
              ok={200: json_answer("the snapshot", _STATE)}),
    Operation("GET", "/api/account", "The account as last reported", tag="snapshot",
              ok={200: json_answer("the account (empty before the first report)", _ACCOUNT)}),
    Operation("GET", "/api/positions", "Open positions", tag="snapshot",
              ok={200: json_answer("the positions", array(_POSITION))}),
    Operation("GET", "/api/trades", "Recent executions (TRADE_EXECUTION), newest first",
              tag="snapshot", ok={200: json_answer("the executions", array(_EXECUTION))}),
    Operation("GET", "/api/scan", "The last scan's summary by symbol", tag="snapshot",
              ok={200: json_answer("the summary (empty before the first scan)", _SCAN)}),
    Operation("GET", "/api/events", "The event journal by seq", tag="events", errors=(400,),
              params=(Param("since", "events after this seq (default 0)", _SEQ),
                      Param("limit", "at most this many (default 100)",
                            {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS_LIMIT}),
                      TYPES_PARAM),
              ok={200: json_answer("events in seq order, and the last seq",
                                   obj(("events", "last_seq"), events=array(EVENT),
                                       last_seq=INTEGER))}),
    Operation("POST", "/api/ws-ticket", "A single-use ticket for /ws?ticket= (30 s)",
              tag="events", ok={200: json_answer("the ticket", obj(
                  ("ticket", "expires_in_s", "last_seq"), ticket=STRING, expires_in_s=NUMBER,
                  last_seq=INTEGER))}),
    Operation("GET", "/ws", "The live event stream (WebSocket): STATE_SNAPSHOT, then events in "
              "frames {\"v\": 1, \"events\": [...]}", tag="events", errors=(400, 403),
              description="Authenticated by the token or by ``?ticket=`` from POST "
                          "/api/ws-ticket. The Origin must be this server's. A client that "
                          "falls behind is closed with code 4000: reconnect with ``?since=``.",
              params=(Param("since", "replay events after this seq first (a seq beyond the "
                            "last one is a 400)", _SEQ),
                      TYPES_PARAM,
                      Param("format", "json (default) or msgpack (binary frames)",
                            {"enum": ["json", "msgpack"]}),
                      Param("ticket", "a ticket from POST /api/ws-ticket, instead of the "
                            "token")),
              ok={101: Answer("switching to the WebSocket protocol", content_type="")}),
)
