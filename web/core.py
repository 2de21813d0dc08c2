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

from aiohttp import web, web_response

from actors.runtime.logs import get_logger
from messages.events import EVENT_TYPES
from web.auth import request_token, token_matches
from web.bounded_json import MAX_DEPTH, MAX_NUMBER_CHARS, JsonLimitError, loads
from web.bridge import ActorBridge, ServiceUnavailable, Unsendable
from web.hub import Hub
from web.origins import host_allowed
from web.tickets import TicketBook

__all__ = [
    "BRIDGE",
    "CONTEXT",
    "HUB",
    "OPENAPI",
    "PUBLIC_PATHS",
    "SECURITY_HEADERS",
    "SERVER_NAME",
    "TICKETS",
    "BrokerFacts",
    "ClientError",
    "Handler",
    "WebContext",
    "ask",
    "auth_middleware",
    "errors_middleware",
    "hide_server_version",
    "host_middleware",
    "int_param",
    "json_body",
    "json_response",
    "security_headers",
    "types_param",
]

PUBLIC_PATHS = frozenset({"/", "/api/health", "/api/openapi.json", "/favicon.ico"})
SERVER_NAME = "Ensemble"
# The dashboard loads nothing from another host and is never framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class BrokerFacts:
    """What the routes need to know about the broker, so that none of them looks at its kind.

    ``name`` is only for messages; ``fault_switches`` says whether ``/api/sim/faults`` has a
    terminal to act on. (The broker's clock comes with each of its replies.)"""

    name: str
    fault_switches: bool


@dataclass(frozen=True, slots=True)
class WebContext:
    """The web front's settings, as the routes read them."""

    token: str
    allowed_hosts: frozenset[str]
    """Host names a request may carry (with the address the connection arrived at)."""
    allowed_origins: tuple[str, ...]
    request_timeout_s: float
    broker: BrokerFacts
    max_body_bytes: int = 256 * 1024


HUB = web.AppKey("hub", Hub)
BRIDGE = web.AppKey("bridge", ActorBridge)
CONTEXT = web.AppKey("context", WebContext)
TICKETS = web.AppKey("tickets", TicketBook)
OPENAPI = web.AppKey("openapi", dict)
"""The API's OpenAPI document, built by the app factory from the route modules' tables."""

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


async def ask(app: web.Application, role: str, make: Callable[[str], Any]) -> Any:
    """Send ``make(request_id)`` to the actor with ``role`` and wait for its reply (at most
    ``request_timeout_s``)."""
    return await app[BRIDGE].request(role, make, app[CONTEXT].request_timeout_s)


# --- middlewares ---------------------------------------------------------------------------


def _unavailable(detail: str) -> web.Response:
    return json_response({"error": "unavailable", "detail": detail}, 503, **{"Retry-After": "1"})


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
        kept = {name: error.headers[name] for name in ("Allow",) if name in error.headers}
        return json_response({"error": reason, "detail": f"{request.method} {request.path}: "
                              f"{error.reason}"}, error.status, **kept)
    except Unsendable as error:
        return json_response({"error": "bad_body", "detail": str(error)}, 400)
    except ServiceUnavailable as error:
        return _unavailable(str(error))
    except TimeoutError:
        # An actor that does not answer in time is starting or restarting: try again.
        return _unavailable(f"the actor did not answer in "
                            f"{request.app[CONTEXT].request_timeout_s:g} s; try again")
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        get_logger("ensemble.web").exception("request failed", error_id=error_id,
                                             path=request.path)
        return json_response({"error": "internal", "detail": "unexpected error",
                              "id": error_id}, 500)


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """421 for a Host that is not ours (a DNS-rebinding page), before anything else runs."""
    context = request.app[CONTEXT]
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    local = str(sockname[0]) if sockname else None
    if not host_allowed(request.headers.get("Host"), context.allowed_hosts, local):
        return json_response({"error": "misdirected", "detail": "the Host header must name "
                              "this server (its bind address, localhost, or one of "
                              "web.allowed_hosts)"}, 421)
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the page's policy on every response, and no version."""
    response.headers.update(SECURITY_HEADERS)
    response.headers["Server"] = SERVER_NAME


def hide_server_version() -> None:
    """Responses that aiohttp writes itself (a malformed request line gets a 400 before any
    app code runs) name ``Python/x aiohttp/y`` unless this process-wide default is replaced.
    Called by the process that serves the web front."""
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith("/static/"):
        return await handler(request)
    if request.path == "/ws" and "ticket" in request.query:
        if not request.app[TICKETS].redeem(request.query.get("ticket")):
            raise ClientError(401, "unauthorized", "the ticket is unknown, used or expired: "
                              "get a new one from POST /api/ws-ticket")
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
    types = frozenset(raw.split(","))
    unknown = sorted(repr(t) for t in types - set(EVENT_TYPES))
    if unknown:
        raise ClientError(400, "bad_parameter",
                          f"types: unknown event type(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(EVENT_TYPES))}", parameter="types")
    return types


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, parsed within limits (:mod:`web.bounded_json`): a 400 names
    what is wrong or which limit was passed."""
    charset = (request.charset or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ClientError(400, "bad_charset", f"charset={charset!r}: JSON bodies are UTF-8",
                          limit="charset")
    limit = request.app[CONTEXT].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ClientError(400, "body_too_large", f"the body has {request.content_length} "
                          f"bytes; at most {limit} are allowed", limit="max_body_bytes")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ClientError(400, "body_too_large", f"the body is over {limit} bytes",
                          limit="max_body_bytes") from None
    try:
        body = loads(raw, max_depth=MAX_DEPTH, max_number_chars=MAX_NUMBER_CHARS)
    except JsonLimitError as error:
        extra = {} if error.limit is None else {"limit": error.limit}
        raise ClientError(400, "bad_body", str(error), **extra) from None
    if not isinstance(body, dict):
        raise ClientError(400, "bad_body", "the body must be a JSON object")
    return body
