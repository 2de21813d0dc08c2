"""The aiohttp application: routes, authentication and error handling.

The app is built by :func:`create_app` around a :class:`~web.hub.Hub` (snapshot, tree,
clients) and an :class:`~web.bridge.ActorBridge` (requests to actors). Every error a client
can cause is a 4xx with a JSON body naming the problem; an unexpected one is a 500 JSON with
an id that is also in the log, never a crash of the actor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from actors.runtime.distribution import version
from actors.runtime.logs import get_logger
from messages.commands import (
    StateCompareAndSet,
    StateDelete,
    StateGet,
    StateGetAll,
    StateIncrement,
    StateReply,
    StateSet,
)
from messages.events import EVENT_TYPES
from web.auth import origin_allowed, request_token, token_matches
from web.bridge import ActorBridge, ServiceUnavailable
from web.hub import Hub

__all__ = [
    "BRIDGE",
    "CONTEXT",
    "HUB",
    "SETTINGS",
    "ClientError",
    "WebContext",
    "create_app",
    "int_param",
    "json_body",
    "json_response",
]

STATIC_DIR = Path(__file__).parent / "static"
OPERATOR_KEY_PREFIX = "ops."
MAX_EVENTS_LIMIT = 1000
PUBLIC_PATHS = frozenset({"/", "/api/health", "/favicon.ico"})


@dataclass(frozen=True, slots=True)
class WebContext:
    token: str
    allowed_origins: tuple[str, ...]
    request_timeout_s: float


HUB = web.AppKey("hub", Hub)
SETTINGS = web.AppKey("settings", object)
BRIDGE = web.AppKey("bridge", ActorBridge)
CONTEXT = web.AppKey("context", WebContext)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ClientError(Exception):
    """Raised by handlers for a 4xx answer."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"error": error, "detail": detail, **extra}


def json_response(data: Any, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(data, status=status, headers=headers or None,
                             dumps=lambda value: json.dumps(value, allow_nan=False))


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ClientError as error:
        return json_response(error.body, error.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        reason = {404: "not_found", 405: "method_not_allowed"}.get(error.status, "http_error")
        return json_response({"error": reason, "detail": f"{request.method} {request.path}: "
                      f"{error.reason}"}, error.status)
    except ServiceUnavailable as error:
        return json_response({"error": "unavailable", "detail": str(error)}, 503,
                             **{"Retry-After": "1"})
    except TimeoutError:
        return json_response({"error": "timeout", "detail": "the actor did not answer in time"},
                             504)
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        get_logger("ensemble.web").exception("request failed", error_id=error_id,
                                             path=request.path)
        return json_response({"error": "internal", "detail": "unexpected error",
                              "id": error_id}, 500)


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith("/static/"):
        return await handler(request)
    if not token_matches(request_token(request), request.app[CONTEXT].token):
        raise ClientError(401, "unauthorized",
                          "a valid token is required: Authorization: Bearer <token> or ?token=")
    return await handler(request)


# --- parameters ----------------------------------------------------------------------------


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ClientError(400, "bad_parameter", f"{name}={raw!r} is not an integer",
                          parameter=name) from None
    if not low <= value <= high:
        raise ClientError(400, "bad_parameter", f"{name}={value} is outside {low}..{high}",
                          parameter=name)
    return value


def _types_param(request: web.Request) -> frozenset[str] | None:
    raw = request.query.get("types")
    if raw is None or raw == "":
        return None
    types = frozenset(part.strip() for part in raw.split(",") if part.strip())
    unknown = sorted(types - set(EVENT_TYPES))
    if unknown:
        raise ClientError(400, "bad_parameter",
                          f"types: unknown event type(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(EVENT_TYPES))}", parameter="types")
    return types


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ClientError(400, "bad_body", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ClientError(400, "bad_body", "the body must be a JSON object")
    return body


# --- routes --------------------------------------------------------------------------------

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html",
                            headers={"Cache-Control": "no-store"})


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


@routes.get("/api/state")
async def state(request: web.Request) -> web.Response:
    return json_response(request.app[HUB].snapshot.to_dict())


@routes.get("/api/account")
async def account(request: web.Request) -> web.Response:
    return json_response(request.app[HUB].snapshot.account)


@routes.get("/api/positions")
async def positions(request: web.Request) -> web.Response:
    return json_response(request.app[HUB].snapshot.positions)


@routes.get("/api/trades")
async def trades(request: web.Request) -> web.Response:
    return json_response(request.app[HUB].snapshot.recent_trades)


@routes.get("/api/scan")
async def scan(request: web.Request) -> web.Response:
    return json_response(request.app[HUB].snapshot.scan_summary)


@routes.get("/api/events")
async def events(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    since = int_param(request, "since", 0, 0, 2**62)
    limit = int_param(request, "limit", 100, 1, MAX_EVENTS_LIMIT)
    types = _types_param(request)
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
    types = _types_param(request)
    wire_format = request.query.get("format", "json")
    if wire_format not in ("json", "msgpack"):
        raise ClientError(400, "bad_parameter",
                          f"format={wire_format!r}: use json or msgpack", parameter="format")
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    await request.app[HUB].serve(ws, request.transport, since=since, types=types,
                                 binary=wire_format == "msgpack")
    return ws


# --- SharedState through HTTP ----------------------------------------------------------------


def _check_operator_key(key: str) -> None:
    if not key.startswith(OPERATOR_KEY_PREFIX):
        raise ClientError(403, "forbidden_key",
                          f"{key!r}: only keys under {OPERATOR_KEY_PREFIX!r} may be written "
                          "through the API; the others belong to the actors that own them")


async def _state_call(request: web.Request, make: Callable[[str], Any]) -> StateReply:
    context = request.app[CONTEXT]
    reply = await request.app[BRIDGE].request("shared_state", make, context.request_timeout_s)
    assert isinstance(reply, StateReply)
    if reply.error is not None:
        raise ClientError(400, "rejected", reply.error)
    return reply


@routes.get("/api/kv")
async def kv_list(request: web.Request) -> web.Response:
    prefix = request.query.get("prefix", "")
    reply = await _state_call(request, lambda rid: StateGetAll(request_id=rid, prefix=prefix))
    return json_response({"items": reply.value, "updated_at": reply.extra.get("updated_at", {})})


@routes.get("/api/kv/{key}")
async def kv_get(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    reply = await _state_call(request, lambda rid: StateGet(request_id=rid, key=key))
    if not reply.found:
        raise ClientError(404, "not_found", f"no key {key!r}")
    return json_response({"key": key, "value": reply.value, "updated_at": reply.updated_at})


@routes.put("/api/kv/{key}")
async def kv_set(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    _check_operator_key(key)
    body = await json_body(request)
    if "value" not in body:
        raise ClientError(400, "bad_body", 'the body needs a "value"')
    reply = await _state_call(request,
                              lambda rid: StateSet(request_id=rid, key=key, value=body["value"]))
    return json_response({"key": key, "value": reply.value, "updated_at": reply.updated_at})


@routes.delete("/api/kv/{key}")
async def kv_delete(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    _check_operator_key(key)
    reply = await _state_call(request, lambda rid: StateDelete(request_id=rid, key=key))
    return json_response({"key": key, "deleted": reply.found})


def _op_id(body: dict[str, Any]) -> str:
    op_id = body.get("op_id")
    if not isinstance(op_id, str) or not 1 <= len(op_id) <= 128:
        raise ClientError(400, "bad_body", 'the body needs an "op_id" string (1 to 128 '
                          "characters): a retry with the same op_id is applied once")
    return op_id


@routes.post("/api/kv/{key}/increment")
async def kv_increment(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    _check_operator_key(key)
    body = await json_body(request)
    op_id = _op_id(body)
    delta = body.get("delta", 1)
    reply = await _state_call(
        request, lambda rid: StateIncrement(request_id=rid, key=key, delta=delta, op_id=op_id)
    )
    return json_response({"key": key, "value": reply.value, "updated_at": reply.updated_at})


@routes.post("/api/kv/{key}/cas")
async def kv_compare_and_set(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    _check_operator_key(key)
    body = await json_body(request)
    op_id = _op_id(body)
    if "new" not in body:
        raise ClientError(400, "bad_body", 'the body needs "new" (and "expected", null for '
                          "an absent key)")
    reply = await _state_call(
        request,
        lambda rid: StateCompareAndSet(request_id=rid, key=key, expected=body.get("expected"),
                                       new=body["new"], op_id=op_id),
    )
    if not reply.ok:
        raise ClientError(409, "conflict", f"{key!r} does not hold the expected value",
                          current=reply.value)
    return json_response({"key": key, "value": reply.value})


# --- metrics -------------------------------------------------------------------------------


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


async def _journal_follower(app: web.Application) -> AsyncIterator[None]:
    """Fills, from the journal, events whose batch never reached this process."""
    follower = asyncio.create_task(app[HUB].follow_journal())
    yield
    follower.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follower


def create_app(hub: Hub, bridge: ActorBridge, context: WebContext,
               settings: Any = None) -> web.Application:
    app = web.Application(middlewares=[_errors, _auth], client_max_size=256 * 1024)
    app[HUB] = hub
    app[SETTINGS] = settings
    app[BRIDGE] = bridge
    app[CONTEXT] = context
    app.cleanup_ctx.append(_journal_follower)
    app.add_routes(routes)
    from web.trading_routes import routes as trading_routes  # imports this module's helpers

    app.add_routes(trading_routes)
    from web.sim_routes import routes as sim_routes  # imports this module's helpers

    app.add_routes(sim_routes)
    if STATIC_DIR.is_dir():
        app.router.add_static("/static/", STATIC_DIR, show_index=False)
    return app
