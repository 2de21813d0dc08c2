"""Hypothesis strategies for requests to the web front: every route, with paths, query strings,
headers and bodies that range from well-formed to hostile (deep nesting, huge numbers, bogus
charsets, bytes that are not UTF-8, tokens with stray bytes, fault switches with any value)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

__all__ = ["FuzzRequest", "requests"]

KEYS = st.sampled_from(["ops.a", "ops.b", "ops." + "k" * 300, "risk.state", "ops.%ff", "x"])
ROUTES = [
    ("GET", "/"), ("GET", "/api/health"), ("GET", "/api/supervisors"), ("GET", "/metrics"),
    ("GET", "/api/state"), ("GET", "/api/account"), ("GET", "/api/positions"),
    ("GET", "/api/trades"), ("GET", "/api/scan"), ("GET", "/api/events"),
    ("POST", "/api/ws-ticket"), ("GET", "/ws"), ("GET", "/api/kv"), ("GET", "/api/kv/{key}"),
    ("PUT", "/api/kv/{key}"), ("DELETE", "/api/kv/{key}"), ("POST", "/api/kv/{key}/increment"),
    ("POST", "/api/kv/{key}/cas"), ("POST", "/api/control/{command}"),
    ("GET", "/api/journal/trades"), ("GET", "/api/journal/trades.csv"),
    ("GET", "/api/journal/daily"), ("GET", "/api/journal/calibration"),
    ("GET", "/api/journal/decisions/{decision}"), ("GET", "/api/bars"), ("GET", "/api/equity"),
    ("GET", "/api/risk"), ("GET", "/api/broker"), ("GET", "/api/sim/faults"),
    ("POST", "/api/sim/faults"), ("POST", "/api/broker/reconnect"),
    ("POST", "/api/nope"), ("PATCH", "/api/state"),
]
FAULT_SWITCHES = st.sampled_from([
    "disconnect", "ipc_timeout", "call_delay_s", "requote_rate", "price_off_rate",
    "algo_trading_off", "no_money", "trade_server_down", "timeout_after_execution", "nope"])
FAULT_VALUES = st.one_of(
    st.booleans(), st.none(), st.integers(), st.floats(),  # NaN and infinities included
    st.sampled_from([0, 0.05, 0.5, 1, 1.5, -1, 600, 601, 1e300, "0.5", "true", [], {}]),
    st.text(max_size=8))
PARAMETERS = st.sampled_from(["since", "limit", "types", "format", "prefix", "after", "symbol",
                              "timeframe", "count", "day", "bins", "token", "ticket"])
VALUES = st.one_of(
    st.sampled_from(["0", "1", "-1", "99999999999999999999", "abc", "", "M5", "EURUSD",
                     "ACTOR_RESTARTED", "msgpack", "2026-01-01", "1e9", "%ff", "ops."]),
    st.text(max_size=20),
)
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                        st.floats(allow_nan=False, allow_infinity=False))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)


@st.composite
def _body(draw: st.DrawFn) -> bytes:
    import json

    kind = draw(st.sampled_from(["object", "value", "faults", "deep", "bigint", "raw", "none"]))
    if kind == "faults":
        return json.dumps(draw(st.dictionaries(FAULT_SWITCHES, FAULT_VALUES, max_size=3))).encode()
    if kind == "object":
        fields = draw(st.dictionaries(st.sampled_from(
            ["value", "op_id", "delta", "new", "expected", "reason", "disconnect"]),
            JSON_VALUES, max_size=4))
        return json.dumps(fields).encode()
    if kind == "value":
        return json.dumps(draw(JSON_VALUES)).encode()
    if kind == "deep":
        depth = draw(st.integers(20, 3000))
        return b'{"value": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == "bigint":
        return b'{"value": ' + b"9" * draw(st.integers(90, 6000)) + b', "op_id": "x"}'
    if kind == "raw":
        return draw(st.binary(max_size=64))
    return b""


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@st.composite
def requests(draw: st.DrawFn, token: str, exclude: frozenset[str] = frozenset()) -> FuzzRequest:
    method, template = draw(st.sampled_from([r for r in ROUTES if r[1] not in exclude]))
    path = template.format(
        key=draw(KEYS),
        command=draw(st.sampled_from(["pause", "resume", "explode", "kill-switch", ""])),
        decision=draw(st.sampled_from(["d-1", "x" * 80, "a b", "%00"])),
    )
    query = draw(st.lists(st.tuples(PARAMETERS, VALUES), max_size=3))
    if query:
        from urllib.parse import quote

        path += "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    headers: dict[str, str] = {}
    auth = draw(st.sampled_from(["good", "none", "bad", "stray"]))
    if auth == "good":
        headers["Authorization"] = f"Bearer {token}"
    elif auth == "bad":
        headers["Authorization"] = draw(st.sampled_from(["Bearer nope", "Basic x", "Bearer "]))
    elif auth == "stray":
        headers["Authorization"] = "Bearer " + token[:5] + "\udcff"  # a byte that is not UTF-8
    headers["Content-Type"] = draw(st.sampled_from([
        "application/json", "application/json; charset=bogus", "text/plain",
        "application/json; charset=utf-8", "application/json; charset=latin-1"]))
    if draw(st.booleans()):
        headers["Origin"] = draw(st.sampled_from(["http://evil.example", "null"]))
    return FuzzRequest(method, path, headers, draw(_body()) if method != "GET" else b"")
