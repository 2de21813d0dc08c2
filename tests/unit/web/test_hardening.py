"""Inputs that used to crash or 500 the web front get a 4xx naming the problem, before any
actor hop; the Host and Origin checks; the security headers; ``?since=`` beyond the last seq."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web_response

from messages.events import ActorRestarted
from tests.unit.web.conftest import WebFixture, make_context
from web.core import WebContext, hide_server_version
from web.origins import allowed_host_names

DEEP = b'{"value": ' + b"[" * 1000 + b"]" * 1000 + b"}"
JUST_TOO_DEEP = b'{"value": ' + b"[" * 950 + b"]" * 950 + b"}"
HUGE_INT = b'{"value": ' + b"7" * 4301 + b"}"


async def raw_request(web_app: WebFixture, data: bytes) -> bytes:
    """Bytes on a plain socket, for what an HTTP client library refuses to send."""
    reader, writer = await asyncio.open_connection(web_app.client.host, web_app.client.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


@pytest.mark.parametrize(("body", "content_type", "limit"), [
    (DEEP, "application/json", "max_depth"),
    (JUST_TOO_DEEP, "application/json", "max_depth"),
    (HUGE_INT, "application/json", "max_number_chars"),
    (b'{"value": 1e999}', "application/json", "finite_numbers"),
    (b'{"value": NaN}', "application/json", "finite_numbers"),
    (b'{"value": 1}', "application/json; charset=bogus", "charset"),
    (b'{"value": "x"}', "application/json; charset=latin-1", "charset"),
    (b'{"value": "' + b"x" * 300_000 + b'"}', "application/json", "max_body_bytes"),
])
async def test_a_body_past_a_limit_is_a_400_naming_it(web_app: WebFixture, body: bytes,
                                                      content_type: str, limit: str) -> None:
    status, answer = await web_app.call("PUT", "/api/kv/ops.x", data=body,
                                        headers={"Content-Type": content_type})
    assert status == 400 and answer["limit"] == limit, answer
    assert web_app.responder.hops == []


async def test_a_non_utf8_body_is_a_400(web_app: WebFixture) -> None:
    await web_app.ready()
    status, answer = await web_app.call("POST", "/api/control/pause", data=b'{"reason": "\xff"}',
                                        headers={"Content-Type": "application/json"})
    assert status == 400 and "UTF-8" in answer["detail"]


async def test_a_non_utf8_byte_in_authorization_is_a_401(web_app: WebFixture) -> None:
    reply = await raw_request(web_app, b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       b"Authorization: Bearer \xff\xfe\r\n"
                                       b"Connection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
    assert b'"unauthorized"' in reply


async def test_an_actor_that_does_not_answer_is_a_503_in_time(web_app: WebFixture) -> None:
    await web_app.ready()
    status, body = await web_app.call("POST", "/api/control/pause")
    assert status == 503 and body["error"] == "unavailable"


# --- Host and Origin ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/state", "/static/js/api.js", "/ws"])
async def test_a_foreign_host_is_misdirected(web_app: WebFixture, path: str) -> None:
    status, body = await web_app.call("GET", path, headers={"Host": "evil.example"})
    assert status == 421 and "web.allowed_hosts" in body["detail"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:8000", "LOCALHOST"])
async def test_our_own_hosts_are_served(web_app: WebFixture, host: str) -> None:
    assert (await web_app.call("GET", "/", headers={"Host": host}))[0] == 200


class TestAConfiguredHost:
    @pytest.fixture
    def context(self) -> WebContext:
        return make_context(allowed_hosts=allowed_host_names("127.0.0.1", ["dash.example"]))

    async def test_is_served_and_its_origin_may_open_the_websocket(
        self, web_app: WebFixture,
    ) -> None:
        web_app.feed.sync()
        assert (await web_app.call("GET", "/", headers={"Host": "dash.example"}))[0] == 200
        origin = f"http://dash.example:{web_app.client.port}"
        async with web_app.client.ws_connect("/ws", headers={**web_app.auth,
                                                              "Origin": origin}) as ws:
            assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT


@pytest.mark.parametrize(("host", "origin", "status"), [
    (None, "http://evil.example:{port}", 403),
    ("evil.example", "http://evil.example:{port}", 421),  # DNS rebinding: Host and Origin agree
    (None, "http://localhost:1", 403),
    (None, "null", 403),
])
async def test_the_websocket_origin_is_checked_against_the_configured_hosts(
    web_app: WebFixture, host: str | None, origin: str, status: int,
) -> None:
    headers = {"Origin": origin.format(port=web_app.client.port)}
    if host is not None:
        headers["Host"] = host
    assert (await web_app.call("GET", "/ws", headers=headers))[0] == status


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "http://localhost:{port}"])
async def test_the_page_own_origin_opens_the_websocket(web_app: WebFixture, origin: str) -> None:
    web_app.feed.sync()
    headers = {**web_app.auth, "Origin": origin.format(port=web_app.client.port)}
    async with web_app.client.ws_connect("/ws", headers=headers) as ws:
        assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT


# --- headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "token"), [("/", False), ("/api/health", False),
                                             ("/api/state", True), ("/api/nope", True),
                                             ("/static/css/app.css", False),
                                             ("/api/state", False)])
async def test_every_response_carries_the_security_headers(web_app: WebFixture, path: str,
                                                           token: bool) -> None:
    headers = web_app.auth if token else {}
    async with web_app.client.get(path, headers=headers) as response:
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Server"] == "Ensemble"


async def test_a_malformed_request_line_is_logged_once_without_traceback(
    web_app: WebFixture, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_response, "SERVER_SOFTWARE", web_response.SERVER_SOFTWARE)
    hide_server_version()  # as the web front's process does
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    for _ in range(5):
        reply = await raw_request(web_app, b"GET /x\x00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b" 400 " in reply.split(b"\r\n")[0]
        assert b"Server: Ensemble\r\n" in reply and b"aiohttp" not in reply
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING and records[0].exc_info is None
    assert "malformed HTTP request from 127.0.0.1" in records[0].getMessage()


# --- the stream --------------------------------------------------------------------------


async def test_ws_since_beyond_the_last_seq_is_a_400_naming_it(web_app: WebFixture) -> None:
    web_app.feed.publish(*(ActorRestarted(timestamp="2026-01-01T00:00:00Z", name="a",
                                          old_pid=1, new_pid=2, reason="t", restarts=n)
                           for n in range(3)))
    web_app.feed.sync()
    status, body = await web_app.call("GET", "/ws?since=99")
    assert status == 400 and body["last_seq"] == 3 and "3" in body["detail"]
    assert body["parameter"] == "since"


async def test_a_ticket_opens_the_websocket_once(web_app: WebFixture) -> None:
    web_app.feed.sync()
    status, issued = await web_app.call("POST", "/api/ws-ticket")
    assert status == 200 and issued["expires_in_s"] > 0
    async with web_app.client.ws_connect(f"/ws?ticket={issued['ticket']}") as ws:
        first: Any = await ws.receive(timeout=5)
        assert first.type == aiohttp.WSMsgType.TEXT and "STATE_SNAPSHOT" in first.data
    status, body = await web_app.call("GET", f"/ws?ticket={issued['ticket']}", token=False)
    assert status == 401 and "ws-ticket" in body["detail"]
    assert (await web_app.call("POST", "/api/ws-ticket", token=False))[0] == 401
