"""``/api/sim/faults``: the simulated terminal's fault switches, for testing the paper terminal.

``GET`` returns every switch; ``POST`` with a JSON object of switch changes (``{"disconnect":
true}``, ``{"requote_rate": 0.5}``) applies them at once and returns the new switches. Both need
the API token. The request goes through the bridge to the MT5Broker, which owns the terminal:
409 when the broker has no fault switches (only the simulated terminal has them), 400 naming an
unknown switch or a bad value (checked here first, so a typo costs no actor hop).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from actors.broker.fault_switches import FaultChangeError, checked_fault_changes, fault_switches
from actors.broker.sim.faults import FAULT_RANGES, FaultConfig
from messages.trading import SetSimFaults, SimFaultsReply
from web.api_spec import Operation, json_answer, obj
from web.core import CONTEXT, ClientError, ask, json_body, json_response

__all__ = ["API", "routes"]

BROKER_ROLE = "broker"
_ERRORS = {400: "bad_value", 409: "not_simulated", 503: "unavailable"}

routes = web.RouteTableDef()


async def _ask_broker(request: web.Request, changes: dict[str, Any]) -> web.Response:
    broker = request.app[CONTEXT].broker
    if not broker.fault_switches:
        raise ClientError(409, _ERRORS[409], f"the {broker.name} broker has no fault switches: "
                          "only the simulated terminal (broker.kind=sim) has them")
    reply = await ask(request.app, BROKER_ROLE, lambda rid: SetSimFaults(rid, changes))
    assert isinstance(reply, SimFaultsReply)
    if reply.status != 200:
        raise ClientError(reply.status, _ERRORS.get(reply.status, "rejected"), reply.detail)
    return json_response({"faults": reply.faults})


@routes.get("/api/sim/faults")
async def get_faults(request: web.Request) -> web.Response:
    return await _ask_broker(request, {})


@routes.post("/api/sim/faults")
async def set_faults(request: web.Request) -> web.Response:
    body = await json_body(request)
    try:
        changes = checked_fault_changes(body)
    except FaultChangeError as error:
        raise ClientError(400, "bad_value", str(error)) from None
    return await _ask_broker(request, changes)


def _switch_schema(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    low, high, unit = FAULT_RANGES[name]
    return {"type": "integer" if isinstance(value, int) else "number",
            "minimum": low, "maximum": high,
            **({"description": unit.strip()} if unit else {})}


_SWITCHES = {name: _switch_schema(name, value)
             for name, value in fault_switches(FaultConfig()).items()}
_FAULTS = obj(("faults",), faults={"type": "object", "properties": _SWITCHES})

API = (
    Operation("GET", "/api/sim/faults", "The simulated terminal's fault switches", tag="sim",
              errors=(409, 503), ok={200: json_answer("every switch", _FAULTS)}),
    Operation("POST", "/api/sim/faults", "Change fault switches at once", tag="sim",
              errors=(400, 409, 503),
              body={"type": "object", "properties": _SWITCHES, "additionalProperties": False},
              ok={200: json_answer("every switch, after the change", _FAULTS)}),
)
