"""``GET /api/risk``: where trading stands, as the RiskManager itself judges it: the mode, the
kill switch, what blocks new entries (denial codes, empty when nothing does), the per-trade
risk cap, and the broker day's realised P&L, open risk at the stops, reserved risk, loss limit
and what remains of it. It reveals the account, so it needs the token."""

from __future__ import annotations

from aiohttp import web

from messages.trading import RiskStatus, RiskStatusRequest
from web.core import ask, json_response

__all__ = ["routes"]

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
        "day": status.day,
    })
