"""``GET /api/broker``: what the broker is and whether it is connected, as the MT5Broker itself
reports it (its :class:`~messages.trading.BrokerProfile`): kind, server, company, account,
currency, trade mode, the server clock's UTC offset, market speed and epoch (market time is
``market_epoch[0] + (now − market_epoch[1]) × speed``, or the wall clock when it is null),
commission, fault switches.
``POST /api/broker/reconnect``: the operator's command to connect again. Both need the token,
like every other account route."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from messages.trading import BrokerSnapshot, BrokerSnapshotRequest, ReconnectBroker
from web.api_spec import INTEGER, NUMBER, STRING, Operation, array, json_answer, nullable, obj
from web.bridge import ServiceUnavailable
from web.core import ask, json_response

__all__ = ["API", "routes"]

routes = web.RouteTableDef()


@routes.get("/api/broker")
async def broker(request: web.Request) -> web.Response:
    snapshot = await ask(request.app, "broker", BrokerSnapshotRequest)
    assert isinstance(snapshot, BrokerSnapshot)
    if snapshot.profile is None:
        raise ServiceUnavailable("the broker has not opened its terminal yet")
    profile = dataclasses.asdict(snapshot.profile)
    return json_response({**profile, "connected": snapshot.connected,
                          "reconciled": snapshot.reconciled,
                          "server_time": snapshot.server_time})


@routes.post("/api/broker/reconnect")
async def reconnect(request: web.Request) -> web.Response:
    """The operator's command to connect again, the only retry after ``auth_failed`` (fix the
    login, server or password first). Answers the broker's state after the attempt."""
    snapshot = await ask(request.app, "broker", ReconnectBroker)
    assert isinstance(snapshot, BrokerSnapshot)
    return json_response({"connected": snapshot.connected, "reconciled": snapshot.reconciled},
                         202 if not snapshot.connected else 200)


_CONNECTION = obj(("connected", "reconciled"), connected={"type": "boolean"},
                  reconciled={"type": "boolean"})

API = (
    Operation("GET", "/api/broker", "What the broker is and whether it is connected",
              tag="broker", errors=(503,), ok={200: json_answer("the broker's profile", obj(
                  ("kind", "connected", "reconciled"), kind=STRING, server=STRING,
                  company=STRING, account=nullable(INTEGER), currency=STRING, trade_mode=STRING,
                  server_utc_offset_s=NUMBER, speed=NUMBER,
                  market_epoch=nullable(array(NUMBER)), commission_per_lot=NUMBER,
                  fault_switches={"type": "boolean"}, connected={"type": "boolean"},
                  reconciled={"type": "boolean"}, server_time=nullable(NUMBER)))}),
    Operation("POST", "/api/broker/reconnect", "Connect again (the only retry after "
              "auth_failed)", tag="broker", errors=(503,),
              ok={200: json_answer("connected", _CONNECTION),
                  202: json_answer("not connected (yet)", _CONNECTION)}),
)
