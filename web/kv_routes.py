"""SharedState through HTTP (``/api/kv``), for operators: any key can be read, only keys
under ``ops.`` can be written (the others belong to the actors that own them), within
SharedState's quota for them (``web.ops_max_keys`` keys of ``web.ops_max_value_bytes`` each).
Listing pages. Increment and compare-and-set take an ``op_id``, so a retried request applies
once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from actors.shared_state.keys import OPERATOR_PREFIX
from actors.shared_state.store import MAX_KEY_LENGTH
from messages.commands import (
    StateCompareAndSet,
    StateDelete,
    StateGet,
    StateGetAll,
    StateIncrement,
    StateReply,
    StateSet,
)
from web.api_spec import NUMBER, STRING, Operation, Param, json_answer, nullable, obj
from web.core import ClientError, ask, int_param, json_body, json_response

__all__ = ["API", "routes"]

SHARED_STATE_ROLE = "shared_state"
DEFAULT_PAGE = 100
MAX_PAGE = 1000

routes = web.RouteTableDef()


def _check_operator_key(key: str) -> None:
    if not key.startswith(OPERATOR_PREFIX):
        raise ClientError(403, "forbidden_key",
                          f"{key!r}: only keys under {OPERATOR_PREFIX!r} may be written "
                          "through the API; the others belong to the actors that own them")


async def _state_call(request: web.Request, make: Callable[[str], Any]) -> StateReply:
    reply = await ask(request.app, SHARED_STATE_ROLE, make)
    assert isinstance(reply, StateReply)
    if reply.error is not None:
        if reply.extra.get("conflict"):
            raise ClientError(409, "conflict", reply.error)
        raise ClientError(400, "rejected", reply.error)
    return reply


async def _operator_write(request: web.Request) -> tuple[str, dict[str, Any]]:
    """The key of a write (which must be an operator key) and the request's JSON body."""
    key = request.match_info["key"]
    _check_operator_key(key)
    return key, await json_body(request)


def _op_id(body: dict[str, Any]) -> str:
    op_id = body.get("op_id")
    if not isinstance(op_id, str) or not 1 <= len(op_id) <= 128:
        raise ClientError(400, "bad_body", 'the body needs an "op_id" string (1 to 128 '
                          "characters): a retry with the same op_id is applied once")
    return op_id


@routes.get("/api/kv")
async def kv_list(request: web.Request) -> web.Response:
    """One page of keys in key order: ``?prefix=``, ``?limit=`` (default 100) and ``?after=``
    (the ``next`` of the previous page; null on the last page)."""
    prefix = request.query.get("prefix", "")
    after = request.query.get("after", "")
    limit = int_param(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    for name, value in (("prefix", prefix), ("after", after)):
        if len(value) > MAX_KEY_LENGTH:
            raise ClientError(400, "bad_parameter", f"{name} is longer than {MAX_KEY_LENGTH} "
                              "characters", parameter=name)
    reply = await _state_call(request, lambda rid: StateGetAll(
        request_id=rid, prefix=prefix, after=after, limit=limit + 1))
    keys = list(reply.value)
    page = keys[:limit]
    updated_at = reply.extra.get("updated_at", {})
    return json_response({"items": {key: reply.value[key] for key in page},
                          "updated_at": {key: updated_at.get(key) for key in page},
                          "next": page[-1] if len(keys) > limit else None})


@routes.get("/api/kv/{key}")
async def kv_get(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    reply = await _state_call(request, lambda rid: StateGet(request_id=rid, key=key))
    if not reply.found:
        raise ClientError(404, "not_found", f"no key {key!r}")
    return json_response({"key": key, "value": reply.value, "updated_at": reply.updated_at})


@routes.put("/api/kv/{key}")
async def kv_set(request: web.Request) -> web.Response:
    key, body = await _operator_write(request)
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


@routes.post("/api/kv/{key}/increment")
async def kv_increment(request: web.Request) -> web.Response:
    key, body = await _operator_write(request)
    op_id = _op_id(body)
    delta = body.get("delta", 1)
    reply = await _state_call(
        request, lambda rid: StateIncrement(request_id=rid, key=key, delta=delta, op_id=op_id)
    )
    return json_response({"key": key, "value": reply.value, "updated_at": reply.updated_at})


@routes.post("/api/kv/{key}/cas")
async def kv_compare_and_set(request: web.Request) -> web.Response:
    key, body = await _operator_write(request)
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


_KEY = Param("key", f"a SharedState key (at most {MAX_KEY_LENGTH} characters)",
             {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
              "examples": ["risk.state"]}, where="path")
_OPS_KEY = Param("key", f"an operator key: under {OPERATOR_PREFIX!r} (any other is a 403), at "
                 f"most {MAX_KEY_LENGTH} characters",
                 {"type": "string", "pattern": f"^{re.escape(OPERATOR_PREFIX)}[^/]{{1,200}}$",
                  "examples": [f"{OPERATOR_PREFIX}note"]}, where="path")
_ANY: dict[str, Any] = {"description": "any JSON value"}
_OP_ID = {"type": "string", "minLength": 1, "maxLength": 128,
          "description": "a retry with the same op_id is applied once"}
_ENTRY = obj(("key", "value"), key=STRING, value=_ANY,
             updated_at={"type": ["string", "null"], "description": "ISO 8601 UTC"})
_WRITE_ERRORS = (400, 403, 503)

API = (
    Operation("GET", "/api/kv", "One page of keys, in key order", tag="kv", errors=(400, 503),
              params=(Param("prefix", "only keys that start with this",
                            {"type": "string", "maxLength": MAX_KEY_LENGTH}),
                      Param("after", "the previous page's next",
                            {"type": "string", "maxLength": MAX_KEY_LENGTH}),
                      Param("limit", f"keys per page (default {DEFAULT_PAGE})",
                            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE})),
              ok={200: json_answer("the page; next is null on the last one", obj(
                  ("items", "updated_at", "next"),
                  items={"type": "object"}, updated_at={"type": "object"},
                  next=nullable(STRING)))}),
    Operation("GET", "/api/kv/{key}", "One key", tag="kv", errors=(400, 404, 503),
              params=(_KEY,), ok={200: json_answer("the key's value", _ENTRY)}),
    Operation("PUT", "/api/kv/{key}", "Set an operator key", tag="kv", errors=_WRITE_ERRORS,
              params=(_OPS_KEY,), body=obj(("value",), value=_ANY),
              ok={200: json_answer("the value written", _ENTRY)}),
    Operation("DELETE", "/api/kv/{key}", "Delete an operator key", tag="kv",
              errors=_WRITE_ERRORS, params=(_OPS_KEY,),
              ok={200: json_answer("whether it existed", obj(
                  ("key", "deleted"), key=STRING, deleted={"type": "boolean"}))}),
    Operation("POST", "/api/kv/{key}/increment", "Add to a number (once per op_id)", tag="kv",
              errors=(*_WRITE_ERRORS, 409), params=(_OPS_KEY,),
              body=obj(("op_id",), op_id=_OP_ID, delta={**NUMBER, "description": "default 1"}),
              ok={200: json_answer("the new value", _ENTRY)}),
    Operation("POST", "/api/kv/{key}/cas", "Compare and set (once per op_id)", tag="kv",
              errors=(*_WRITE_ERRORS, 409), params=(_OPS_KEY,),
              body=obj(("op_id", "new"), op_id=_OP_ID, new=_ANY,
                       expected={"description": "the value it must hold (null: absent)"}),
              ok={200: json_answer("the new value", obj(("key", "value"), key=STRING,
                                                         value=_ANY))}),
)
