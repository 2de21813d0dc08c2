"""``GET /api/risk``: where trading stands, as the RiskManager itself judges it: the mode, the
kill switch, what blocks new entries (denial codes, empty when nothing does), the per-trade
risk cap, and the broker day's realised P&L, open risk at the stops, reserved risk, loss limit
and what remains of it. It reveals the account, so it needs the token."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from messages.trading import RiskStatus, RiskStatusRequest
from web.api_spec import INTEGER, NUMBER, STRING, Operation, array, json_answer, nullable, obj
from web.core import ask, json_response

__all__ = ["API", "routes"]

routes = web.RouteTableDef()


@routes.get("/api/risk")
async def risk(request: web.Request) -> web.Response:
    status = await ask(request.app, "risk", RiskStatusRequest)
    assert isinstance(status, RiskStatus)
    return json_response({
        "mode": status.mode,
        "kill_switch": status.kill_switch,
        "paused": status.paused,
        "reason": status.reason,
        "blocked_by": list(status.blocked_by),
        "per_trade_risk_cap": {"pct_of_balance": status.per_trade_risk_cap_pct},
        "day": dataclasses.asdict(status.day) if status.day is not None else {},
    })


API = (
    Operation("GET", "/api/risk", "Where trading stands, as the RiskManager judges it",
              tag="risk", errors=(503,), ok={200: json_answer("the risk state", obj(
                  ("mode", "kill_switch", "paused", "reason", "blocked_by",
                   "per_trade_risk_cap", "day"),
                  mode={"enum": ["ACTIVE", "REDUCING", "HALTED", "PAUSED"]},
                  kill_switch={"type": "boolean"}, paused={"type": "boolean"}, reason=STRING,
                  blocked_by={**array(STRING), "description": "denial codes"},
                  per_trade_risk_cap=obj(pct_of_balance=NUMBER), day={
                      **obj(broker_day=STRING, realised=NUMBER, open_risk=nullable(NUMBER),
                            reserved=NUMBER, loss_limit=nullable(NUMBER),
                            remaining=nullable(NUMBER), trades=INTEGER),
                      "description": "the broker day's figures (empty until the RiskManager "
                                     "has loaded its state); broker_day is YYYY-MM-DD"}))}),
)
