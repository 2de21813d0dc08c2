"""The REST API through real HTTP: authentication, snapshots, SharedState, and errors that are
always JSON and never a 500."""

from __future__ import annotations

import json
import socket
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings

from actors.runtime.distribution import version
from tests.support.daemon import Daemon
from tests.support.http_fuzz import FuzzRequest, requests


def test_health_needs_no_token(shared_daemon: Daemon) -> None:
    status, body = shared_daemon.request("GET", "/api/health", token=None)
    assert status == 200 and body["status"] == "ok" and body["uptime_s"] >= 0
    assert body["version"] == version() != "0+unknown"


def test_health_says_starting_until_ready_and_controls_wait_for_it(make_daemon: Any) -> None:
    """The daemon starts with the simulated terminal disconnected (``sim.faults.disconnect``
    in the configuration), so the broker cannot reconcile: health is ``starting`` (503) and a
    control is 503, not 409, for as long as that lasts; switching it off lets start-up finish."""
    daemon = make_daemon("sim.faults.disconnect=true", start=False)
    daemon.start(wait=False)
    broker = "the broker to reconcile with the terminal"

    def starting_on_the_broker_only() -> Any:
        status, body = daemon.request("GET", "/api/health", token=None)
        return status == 503 and body["waiting_for"] == [broker] and body

    body = daemon.wait_until(starting_on_the_broker_only, timeout=60,
                             what="/api/health to wait for the broker only")
    assert body["status"] == "starting"
    status, answer = daemon.request("POST", "/api/control/pause", body={"op_id": "early"})
    assert status == 503 and answer["error"] == "unavailable", answer
    assert "starting" in answer["detail"] and broker in answer["detail"], answer
    assert daemon.request("GET", "/api/health", token=None)[0] == 503  # still disconnected
    status, answer = daemon.request("POST", "/api/sim/faults", body={"disconnect": False})
    assert status == 200 and answer["faults"]["disconnect"] is False, answer
    daemon.request("POST", "/api/broker/reconnect", body={})  # now, not at the next retry
    body = daemon.wait_until(
        lambda: (answer := daemon.request("GET", "/api/health", token=None))[0] == 200
        and answer[1], timeout=60, what="/api/health to say ok")
    assert body["status"] == "ok" and "waiting_for" not in body
    status, answer = daemon.request("POST", "/api/control/pause", body={"op_id": "first"})
    assert (status, answer["mode"]) == (200, "PAUSED")


@pytest.mark.parametrize("path", ["/api/state", "/api/supervisors", "/api/events", "/api/account",
                                  "/api/positions", "/api/kv", "/metrics"])
@pytest.mark.parametrize("token", [None, "wrong-token-wrong-token"])
def test_everything_else_needs_the_token(shared_daemon: Daemon, path: str, token: str | None,
                                         ) -> None:
    status, body = shared_daemon.request("GET", path, token=token)
    assert status == 401 and body["error"] == "unauthorized"


def test_token_in_the_query_string_works(shared_daemon: Daemon) -> None:
    status, body = shared_daemon.request("GET", f"/api/state?token={shared_daemon.token}",
                                         token=None)
    assert status == 200 and "account" in body


def test_state_is_the_seed_snapshot_with_nothing_traded_on_a_fresh_daemon(make_daemon) -> None:
    daemon = make_daemon()
    state = daemon.wait_until(lambda: (s := daemon.get("/api/state"))["risk"] and s,
                              what="the RiskManager to announce its state")
    assert set(state) >= {"account", "positions", "scan_summary", "recent_trades", "events"}
    assert state["positions"] == [] and state["recent_trades"] == []
    assert state["risk"]["mode"] == "ACTIVE" and state["risk"]["kill_switch"] is False
    assert [event["seq"] for event in state["events"]] == list(range(1, state["last_seq"] + 1))


def test_events_page_by_seq(shared_daemon: Daemon) -> None:
    shared_daemon.produce(120)
    first = shared_daemon.get("/api/events?since=0&limit=50")
    seqs = [event["seq"] for event in first["events"]]
    assert seqs == list(range(seqs[0], seqs[0] + 50))
    rest = shared_daemon.get(f"/api/events?since={seqs[-1]}&limit=1000")["events"]
    assert rest[0]["seq"] == seqs[-1] + 1
    assert rest[-1]["seq"] == shared_daemon.get("/api/health")["last_seq"]
    only = shared_daemon.get("/api/events?since=0&types=ACTOR_RESTARTED")["events"]
    assert all(event["type"] == "ACTOR_RESTARTED" for event in only)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [("/api/events?since=-1", "since"), ("/api/events?limit=0", "limit"),
     ("/api/events?limit=100000", "limit"), ("/api/events?since=abc", "since"),
     ("/api/events?types=NOPE", "types"), ("/ws?format=xml", "format"),
     ("/ws?since=x", "since")],
)
def test_bad_parameters_get_400_naming_the_parameter(shared_daemon: Daemon, path: str,
                                                     parameter: str) -> None:
    status, body = shared_daemon.request("GET", path)
    assert status == 400 and body["parameter"] == parameter and parameter in body["detail"]


def test_unknown_routes_and_methods_get_json(shared_daemon: Daemon) -> None:
    assert shared_daemon.request("GET", "/api/nope") == (
        404, {"error": "not_found", "detail": "GET /api/nope: Not Found"})
    status, body = shared_daemon.request("POST", "/api/state", body={})
    assert status == 405 and body["error"] == "method_not_allowed"


def test_shared_state_round_trip_and_idempotent_counters(shared_daemon: Daemon) -> None:
    status, body = shared_daemon.request("PUT", "/api/kv/ops.note", body={"value": {"a": [1, 2]}})
    assert status == 200 and body["value"] == {"a": [1, 2]} and body["updated_at"]
    assert shared_daemon.get("/api/kv/ops.note")["value"] == {"a": [1, 2]}
    for _ in range(3):  # a client retrying the same operation
        status, body = shared_daemon.request("POST", "/api/kv/ops.count/increment",
                                             body={"delta": 2, "op_id": "retry-me"})
        assert status == 200 and body["value"] == 2
    status, body = shared_daemon.request("POST", "/api/kv/ops.mode/cas",
                                         body={"expected": None, "new": "A", "op_id": "c1"})
    assert status == 200
    status, body = shared_daemon.request("POST", "/api/kv/ops.mode/cas",
                                         body={"expected": "B", "new": "C", "op_id": "c2"})
    assert status == 409 and body["current"] == "A"
    assert shared_daemon.request("DELETE", "/api/kv/ops.note")[1]["deleted"] is True
    assert shared_daemon.request("GET", "/api/kv/ops.note")[0] == 404
    assert "ops.count" in shared_daemon.get("/api/kv?prefix=ops.")["items"]


def test_actor_owned_keys_cannot_be_written_through_the_api(shared_daemon: Daemon) -> None:
    status, body = shared_daemon.request("PUT", "/api/kv/risk.kill_switch", body={"value": 0})
    assert status == 403 and "only keys under 'ops.'" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("PUT", "/api/kv/ops.x", b"not json"),
        ("PUT", "/api/kv/ops.x", b"[1, 2]"),
        ("PUT", "/api/kv/ops.x", b'{"no_value": 1}'),
        ("PUT", "/api/kv/ops.x", b'{"value": NaN}'),
        ("PUT", "/api/kv/ops.x", b"\xff\xfe\x00"),
        ("POST", "/api/kv/ops.x/increment", b'{"delta": "1", "op_id": "z"}'),
        ("POST", "/api/kv/ops.x/increment", b'{"delta": 1}'),
        ("POST", "/api/kv/ops.x/cas", b'{"op_id": "q"}'),
        ("PUT", "/api/kv/" + "ops." + "k" * 300, b'{"value": 1}'),
    ],
)
def test_bad_input_gets_a_4xx_json_and_kills_nothing(shared_daemon: Daemon, method: str,
                                                     path: str, raw: bytes) -> None:
    pids_before = {node["name"]: node["pid"] for node in shared_daemon.tree()["children"][0][
        "children"]}
    status, body = shared_daemon.request(method, path, raw=raw)
    assert 400 <= status < 500, (status, body)
    assert isinstance(body, dict) and body["error"] and body["detail"]
    pids_after = {node["name"]: node["pid"] for node in shared_daemon.tree()["children"][0][
        "children"]}
    assert pids_after == pids_before


def test_metrics_speak_prometheus(shared_daemon: Daemon) -> None:
    import urllib.request

    request = urllib.request.Request(shared_daemon.base_url + "/metrics",
                                     headers={"Authorization": f"Bearer {shared_daemon.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    assert "# TYPE ensemble_ws_clients gauge" in text
    assert "ensemble_last_event_seq " in text


# --- inputs that crashed or 500ed the front, Host and Origin, headers (issue 11) ---------------


def tree_facts(daemon: Daemon) -> dict[str, tuple[int | None, int]]:
    """Every actor's pid and restart count."""
    facts: dict[str, tuple[int | None, int]] = {}

    def walk(node: dict[str, Any]) -> None:
        facts[node["name"]] = (node["pid"], node["restarts"])
        for child in node["children"]:
            walk(child)

    walk(daemon.tree())
    return facts


def raw_http(daemon: Daemon, head: bytes, body: bytes = b"") -> tuple[int, bytes, bytes]:
    """One request written byte for byte (for what HTTP libraries refuse to send): status,
    headers, body."""
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as connection:
        connection.sendall(head + b"Connection: close\r\n\r\n" + body)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    headers, _, payload = reply.partition(b"\r\n\r\n")
    return int(headers.split(b" ", 2)[1]), headers, payload


def put_raw(daemon: Daemon, body: bytes, content_type: bytes = b"application/json",
            ) -> tuple[int, Any]:
    status, _, payload = raw_http(
        daemon, b"PUT /api/kv/ops.fuzz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + daemon.token.encode() + b"\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n", body)
    return status, json.loads(payload)


@pytest.mark.parametrize(("body", "content_type", "limit"), [
    (b'{"value": ' + b"[" * 950 + b"]" * 950 + b"}", b"application/json", "max_depth"),
    (b'{"value": ' + b"[" * 1000 + b"]" * 1000 + b"}", b"application/json", "max_depth"),
    (b'{"value": ' + b"9" * 4301 + b"}", b"application/json", "max_number_chars"),
    (b'{"value": 1e999}', b"application/json", "finite_numbers"),
    (b'{"value": 1}', b"application/json; charset=bogus", "charset"),
])
def test_inputs_that_crashed_the_core_are_400s_and_restart_nothing(
    shared_daemon: Daemon, body: bytes, content_type: bytes, limit: str,
) -> None:
    before = tree_facts(shared_daemon)
    status, answer = put_raw(shared_daemon, body, content_type)
    assert status == 400 and answer["limit"] == limit and answer["detail"], answer
    status, _ = shared_daemon.request("PUT", "/api/kv/ops.after", body={"value": 1})
    assert status == 200  # SharedState and the front still answer
    assert tree_facts(shared_daemon) == before


@pytest.mark.parametrize("value", [1e300, -1.0, 601, "600", None])
def test_a_fault_switch_value_out_of_range_is_a_400_and_restarts_nothing(
    shared_daemon: Daemon, value: object,
) -> None:
    """``call_delay_s: 1e300`` crashed the broker with an OverflowError."""
    before = tree_facts(shared_daemon)
    status, answer = shared_daemon.request("POST", "/api/sim/faults", {"call_delay_s": value})
    assert status == 400 and "call_delay_s" in json.dumps(answer), answer
    assert shared_daemon.get("/api/sim/faults")["faults"]["call_delay_s"] == 0
    assert tree_facts(shared_daemon) == before


def test_a_non_utf8_authorization_is_a_401(shared_daemon: Daemon) -> None:
    status, _, payload = raw_http(shared_daemon, b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                 b"Authorization: Bearer \xff\xfe\xfd\r\n")
    assert status == 401 and json.loads(payload)["error"] == "unauthorized"


def test_a_malformed_request_line_is_a_400_without_the_server_version(
    shared_daemon: Daemon,
) -> None:
    status, headers, _ = raw_http(shared_daemon, b"GET /\x00 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert status == 400 and b"aiohttp" not in headers and b"Python" not in headers


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/state"])
def test_a_foreign_host_is_misdirected(shared_daemon: Daemon, path: str) -> None:
    status, _, payload = raw_http(shared_daemon, f"GET {path} HTTP/1.1\r\n"
                                                 "Host: evil.example\r\n".encode())
    assert status == 421 and json.loads(payload)["error"] == "misdirected"
    status, _, _ = raw_http(shared_daemon, f"GET {path} HTTP/1.1\r\n"
                                           f"Host: localhost:{shared_daemon.port}\r\n".encode())
    assert status in (200, 401)


@pytest.mark.parametrize(("host", "origin", "status"), [
    ("evil.example", "http://evil.example:{port}", 421),  # DNS rebinding
    ("127.0.0.1:{port}", "http://evil.example:{port}", 403),
])
async def test_the_websocket_checks_host_and_origin_against_the_configuration(
    shared_daemon: Daemon, session: aiohttp.ClientSession, host: str, origin: str, status: int,
) -> None:
    port = shared_daemon.port
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(f"{shared_daemon.ws_url}?token={shared_daemon.token}",
                                 headers={"Host": host.format(port=port),
                                          "Origin": origin.format(port=port)})
    assert refused.value.status == status


async def test_the_page_origin_and_a_ticket_open_the_websocket(
    shared_daemon: Daemon, session: aiohttp.ClientSession,
) -> None:
    status, issued = shared_daemon.request("POST", "/api/ws-ticket", body={})
    assert status == 200 and issued["ticket"] and issued["last_seq"] >= 0
    url = f"{shared_daemon.ws_url}?ticket={issued['ticket']}"
    async with session.ws_connect(url, headers={"Origin": shared_daemon.base_url}) as ws:
        first = await ws.receive(timeout=10)
        assert json.loads(first.data)["events"][0]["type"] == "STATE_SNAPSHOT"
    with pytest.raises(aiohttp.WSServerHandshakeError) as reused:
        await session.ws_connect(url)
    assert reused.value.status == 401


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/state", "/static/js/main.js"])
def test_responses_carry_the_security_headers(shared_daemon: Daemon, path: str) -> None:
    status, headers, _ = raw_http(shared_daemon, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                 f"Authorization: Bearer {shared_daemon.token}"
                                                 "\r\n".encode())
    lines = {line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip()
             for line in headers.split(b"\r\n")[1:]}
    assert status == 200
    assert b"frame-ancestors 'none'" in lines[b"content-security-policy"]
    assert lines[b"x-content-type-options"] == b"nosniff"
    assert lines[b"referrer-policy"] == b"no-referrer"
    assert lines[b"server"] == b"Ensemble"


def test_ws_since_beyond_the_last_seq_is_a_400_naming_it(shared_daemon: Daemon) -> None:
    last = shared_daemon.get("/api/events?limit=1")["last_seq"]
    status, body = shared_daemon.request("GET", f"/ws?since={last + 1000}")
    assert status == 400 and body["parameter"] == "since" and body["last_seq"] >= last
    assert str(body["last_seq"]) in body["detail"]


def test_operator_keys_are_limited_by_the_configuration_and_listing_pages(
    make_daemon: Any,
) -> None:
    daemon = make_daemon("web.ops_max_keys=2", "web.ops_max_value_bytes=64")
    assert daemon.request("PUT", "/api/kv/ops.a", body={"value": 1})[0] == 200
    assert daemon.request("PUT", "/api/kv/ops.b", body={"value": 2})[0] == 200
    status, body = daemon.request("PUT", "/api/kv/ops.c", body={"value": 3})
    assert status == 400 and "2 keys under 'ops.'" in body["detail"]
    status, body = daemon.request("PUT", "/api/kv/ops.a", body={"value": "x" * 100})
    assert status == 400 and "at most 64" in body["detail"]
    first = daemon.get("/api/kv?prefix=ops.&limit=1")
    assert list(first["items"]) == ["ops.a"] and first["next"] == "ops.a"
    second = daemon.get("/api/kv?prefix=ops.&limit=1&after=ops.a")
    assert list(second["items"]) == ["ops.b"] and second["next"] is None


def send_fuzzed(daemon: Daemon, request: FuzzRequest) -> tuple[int, bytes]:
    head = f"{request.method} {request.path} HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
    for name, value in request.headers.items():
        head += f"{name}: {value}\r\n"
    head += f"Content-Length: {len(request.body)}\r\n"
    status, _, payload = raw_http(daemon, head.encode("utf-8", "surrogateescape"), request.body)
    return status, payload


NO_FAULTS = {"disconnect": False, "ipc_timeout": False, "call_delay_s": 0.0,
             "requote_rate": 0.0, "price_off_rate": 0.0, "algo_trading_off": False,
             "no_money": False, "trade_server_down": False, "timeout_after_execution": False,
             "position_history_timeouts": 0, "frozen_position_requests": 0}


def restore_the_terminal(daemon: Daemon) -> None:
    """Every fault switch off, and the broker connected again, before the next request: a
    broker told to disconnect answers 503 on purpose, and that is not what the fuzz checks."""
    status, body = daemon.request("POST", "/api/sim/faults", body=NO_FAULTS)
    assert status == 200 and body["faults"] == NO_FAULTS, body

    def connected() -> bool:
        if daemon.get("/api/broker")["connected"]:
            return True
        daemon.request("POST", "/api/broker/reconnect", body={})
        return False

    daemon.wait_until(connected, timeout=30, what="the broker to connect again")


def test_fuzzed_requests_get_no_5xx_and_restart_nothing(make_daemon: Any) -> None:
    """A bounded fuzz run over every route (tests/support/http_fuzz.py), the fault switches and
    the reconnect route included. After a fault change is accepted, the switches are turned
    off and the broker connected again before the next request."""
    daemon = make_daemon()
    before = tree_facts(daemon)
    answers: list[tuple[int, str, str]] = []

    @settings(max_examples=600, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(requests(daemon.token))
    def run(request: FuzzRequest) -> None:
        status, payload = send_fuzzed(daemon, request)
        answers.append((status, request.method, request.path))
        assert status < 500, (request, payload[:300])
        if request.path.startswith("/api/sim/faults") and request.method == "POST" \
                and status == 200:
            restore_the_terminal(daemon)

    run()
    assert tree_facts(daemon) == before, "an actor restarted during the fuzz run"
    statuses = {status for status, _, _ in answers}
    assert {200, 400, 401} <= statuses, statuses  # the run reached the routes, not only 4xx
    reached = {(method, path.partition("?")[0], status) for status, method, path in answers}
    assert {("POST", "/api/sim/faults", 200), ("POST", "/api/sim/faults", 400),
            ("POST", "/api/broker/reconnect", 200)} <= reached, sorted(reached)
