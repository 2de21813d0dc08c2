"""The HTTP API's description as data: each route module declares its operations in a table
beside its routes (``API``), and :func:`openapi_document` turns them into the OpenAPI 3.1
document served at ``/api/openapi.json``.

An :class:`Operation` names its method and path (aiohttp's template, which is OpenAPI's), its
parameters, its JSON body and its answers. The answers every route shares are added here, once:
401 (unless the route is public) and 421 (a foreign ``Host``). Errors are the JSON object every
route answers (:data:`ERROR`: ``error`` and ``detail``, and sometimes more, such as
``parameter``). A unit test checks the tables against the app's route table, both ways.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum
from typing import Any, Literal, get_type_hints

__all__ = [
    "ERROR",
    "INTEGER",
    "NUMBER",
    "STRING",
    "Answer",
    "Operation",
    "Param",
    "array",
    "json_answer",
    "nullable",
    "obj",
    "openapi_document",
    "record_schema",
]

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
ERROR: Schema = {"$ref": "#/components/schemas/Error"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(required: Iterable[str] = (), **properties: Schema) -> Schema:
    """An object with these properties (more may come: the API adds fields, never removes)."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def record_schema(record: type, *, complete: bool = True) -> Schema:
    """The schema of a message record (a dataclass of plain fields) as it goes on the wire, so
    the description cannot drift from the type. Fields without a default are required, unless
    the answer may hold none of the record yet (``complete=False``)."""
    hints = get_type_hints(record)
    properties = {item.name: _plain_schema(hints[item.name]) for item in fields(record)}
    required = [item.name for item in fields(record)
                if complete and item.default is MISSING and item.default_factory is MISSING]
    return obj(required, **properties)


def _plain_schema(hint: Any) -> Schema:
    if isinstance(hint, type) and issubclass(hint, Enum):
        return {"enum": [member.value for member in hint]}
    for python_type, schema in ((bool, {"type": "boolean"}), (int, INTEGER), (float, NUMBER),
                                (str, STRING)):
        if hint is python_type:
            return dict(schema)
    raise TypeError(f"no wire schema for a field of type {hint!r}")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    schema: Schema = field(default_factory=lambda: dict(STRING))
    where: Literal["query", "path", "header"] = "query"
    required: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """One status's answer: ``schema`` of a JSON body, or ``content_type`` for anything else."""

    description: str
    schema: Schema | None = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)  # name → description


def json_answer(description: str, schema: Schema) -> Answer:
    return Answer(description, schema)


def _error(description: str) -> Answer:
    return Answer(description, ERROR)


# The errors routes share, with what they mean; an operation lists the ones it can answer.
ERRORS: dict[int, str] = {
    400: "bad input: the body's ``detail`` names the parameter or field and what is allowed",
    401: "no valid token: ``Authorization: Bearer <token>`` or ``?token=``",
    403: "forbidden (the detail says why)",
    404: "not found",
    409: "conflict with the current state (the detail says which)",
    421: "the Host header does not name this server",
    503: "the daemon or the actor behind this route is starting or restarting: try again "
         "(``Retry-After``)",
}


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    ok: Mapping[int, Answer]
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    body_required: bool = True
    public: bool = False
    tag: str = "api"
    description: str = ""
    components: Mapping[str, Schema] = field(default_factory=dict)
    """Named schemas this operation's schemas refer to (``#/components/schemas/<name>``)."""

    def answers(self) -> dict[int, Answer]:
        codes = set(self.errors) | {421} | (set() if self.public else {401})
        return {**{code: _error(ERRORS[code]) for code in codes}, **dict(self.ok)}


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/")
            if part.startswith("{") and part.endswith("}")]


def _operation(op: Operation) -> dict[str, Any]:
    declared = {param.name for param in op.params if param.where == "path"}
    in_path = set(_path_params(op.path))
    if declared != in_path:
        raise ValueError(f"{op.method} {op.path}: path parameters {sorted(in_path)} but "
                         f"described {sorted(declared)}")
    out: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(op),
                           "tags": [op.tag], "responses": {}}
    if op.description:
        out["description"] = op.description
    if op.public:
        out["security"] = []
    if op.params:
        out["parameters"] = [
            {"name": p.name, "in": p.where, "description": p.description,
             "required": p.required or p.where == "path", "schema": p.schema}
            for p in op.params
        ]
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required,
                              "content": {"application/json": {"schema": op.body}}}
    for status, answer in sorted(op.answers().items()):
        response: dict[str, Any] = {"description": answer.description}
        if answer.schema is not None:
            response["content"] = {answer.content_type: {"schema": answer.schema}}
        elif answer.content_type:
            response["content"] = {answer.content_type: {}}
        if answer.headers:
            response["headers"] = {name: {"description": text, "schema": STRING}
                                   for name, text in answer.headers.items()}
        out["responses"][str(status)] = response
    return out


def _operation_id(op: Operation) -> str:
    words = [part.strip("{}").replace(".", "_").replace("-", "_")
             for part in op.path.split("/") if part and part != "api"]
    return "_".join([op.method.lower(), *words]) or op.method.lower()


def openapi_document(operations: Iterable[Operation], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``; raises ``ValueError`` on an operation
    described twice or a path parameter not described."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Schema] = {"Error": obj(("error", "detail"), error=STRING,
                                               detail=STRING)}
    for op in operations:
        methods = paths.setdefault(op.path, {})
        if op.method.lower() in methods:
            raise ValueError(f"{op.method} {op.path} is described twice")
        methods[op.method.lower()] = _operation(op)
        for name, schema in op.components.items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"schema {name!r} is described twice, differently")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ensemble", "version": version,
                 "description": "The daemon's web front: snapshots, the event journal, the "
                                "trade journal, SharedState for operators, the controls and the "
                                "WebSocket stream. Every error is a JSON object with `error` "
                                "and `detail`."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"token": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "the API token (ENSEMBLE_API_TOKEN, or the one "
                                          "written to <data-dir>/api_token)"},
                "token": {"type": "apiKey", "in": "query", "name": "token",
                          "description": "the same token in the query string"},
            },
            "schemas": schemas,
        },
        "paths": paths,
    }
