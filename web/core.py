"""What every route module shares: the typed app keys, the client error, the JSON helpers and
the middlewares.

Route modules import this module and nothing of the app factory (:mod:`web.app`), which
imports them: the dependency points one way. Every error a client can cause is a 4xx with a
JSON body naming the problem; an unexpected one is a 500 JSON with an id that is also in the
log, never a crash of the actor.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from actors.runtime.logs import get_logger
from messages.events import EVENT_TYPES
from web.auth import request_token, token_matches
from web.bridge import ActorBridge, ServiceUnavailable
from web.hub import Hub

__all__ = [
    "BRIDGE",
    "CONTEXT",
    "HUB",
    "PUBLIC_PATHS",
    "BrokerFacts",
    "ClientError",
    "Handler",
    "WebContext",
    "ask",
    "auth_middleware",
    "errors_middleware",
    "int_param",
    "json_body",
    "json_response",
    "types_param",
]

PUBLIC_PATHS = frozenset({"/", "/api/health", "/favicon.ico"})


@dataclass(frozen=True, slots=True)
class BrokerFacts:
    """What the routes need to know about the broker, so that none of them looks at its kind.

    ``name`` is only for messages; ``utc_offset_s`` is how far the trade server's clock is ahead
    of UTC; ``fault_switches`` says whether ``/api/sim/faults`` has a terminal to act on."""

    name: str
    utc_offset_s: float
    fault_switches: bool


@dataclass(frozen=True, slots=True)
class WebContext:
    """The web front's settings, as the routes read them."""

    token: str
    allowed_origins: tuple[str, ...]
    request_timeout_s: float
    broker: BrokerFacts


HUB = web.AppKey("hub", Hub)
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


async def ask(request: web.Request, role: str, make: Callable[[str], Any]) -> Any:
    """Send ``make(request_id)`` to the actor with ``role`` and wait for its reply."""
    return await request.app[BRIDGE].request(role, make, request.app[CONTEXT].request_timeout_s)


# --- middlewares ---------------------------------------------------------------------------


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
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
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith("/static/"):
        return await handler(request)
    if not token_matches(request_token(request), request.app[CONTEXT].token):
        raise ClientError(401, "unauthorized",
                          "a valid token is required: Authorization: Bearer <token> or ?token=")
    return await handler(request)


# --- parameters and bodies -----------------------------------------------------------------


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


def types_param(request: web.Request) -> frozenset[str] | None:
    """``?types=A,B``: event types to keep (None: all); an unknown one is a 400."""
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
