"""The snapshot endpoints, ``/api/events`` and ``/ws`` on the real app and a real journal."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest

from actors.broadcaster.journal import Doorbell
from actors.runtime import frame_auth
from actors.runtime.frame_auth import AuthenticatedPickle
from messages.events import AccountUpdate, ActorRestarted, PositionUpdate
from tests.support.rows import account_row, position_row
from tests.unit.web.conftest import WebFixture

NOW = "2026-01-01T00:00:00Z"


def restarted(n: int) -> ActorRestarted:
    return ActorRestarted(timestamp=NOW, name=f"actor{n}", old_pid=n, new_pid=n + 1,
                          reason="test", restarts=n)


async def frames(ws: aiohttp.ClientWebSocketResponse, until_seq: int) -> list[dict[str, Any]]:
    """Events received until the one numbered ``until_seq`` (STATE_SNAPSHOT included)."""
    events: list[dict[str, Any]] = []
    while not any(event.get("seq") == until_seq for event in events):
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame = json.loads(message.data)
        assert frame["v"] == 1
        events.extend(frame["events"])
    return events


async def test_state_and_its_parts_follow_the_published_events(web_app: WebFixture) -> None:
    web_app.feed.publish(
        AccountUpdate(timestamp=NOW, account=account_row(equity=10_010.0)),
        PositionUpdate(timestamp=NOW, positions=(position_row(ticket=7, symbol="GBPUSD"),)),
    )
    status, state = await web_app.call("GET", "/api/state")
    assert status == 200 and state["last_seq"] == 2
    assert [event["seq"] for event in state["events"]] == [1, 2]
    assert (await web_app.call("GET", "/api/account"))[1]["equity"] == 10_010.0
    (position,) = (await web_app.call("GET", "/api/positions"))[1]
    assert (position["ticket"], position["symbol"], position["direction"]) == (7, "GBPUSD", "BUY")
    assert (await web_app.call("GET", "/api/trades"))[1] == []


async def test_events_page_by_seq_and_filter_by_type(web_app: WebFixture) -> None:
    web_app.feed.publish(*(restarted(n) for n in range(30)))
    web_app.feed.publish(AccountUpdate(timestamp=NOW, account=account_row(equity=1.0)))
    status, page = await web_app.call("GET", "/api/events?since=10&limit=5")
    assert status == 200 and page["last_seq"] == 31
    assert [event["seq"] for event in page["events"]] == [11, 12, 13, 14, 15]
    status, only = await web_app.call("GET", "/api/events?types=ACCOUNT_UPDATE")
    assert [event["seq"] for event in only["events"]] == [31]


@pytest.mark.parametrize(("query", "parameter"), [
    ("/api/events?since=-1", "since"), ("/api/events?limit=0", "limit"),
    ("/api/events?limit=abc", "limit"), ("/api/events?types=NOPE", "types"),
    ("/ws?format=xml", "format"), ("/ws?since=x", "since"), ("/ws?types=NOPE", "types"),
])
async def test_bad_parameters_get_400_naming_them(web_app: WebFixture, query: str,
                                                  parameter: str) -> None:
    status, body = await web_app.call("GET", query)
    assert status == 400 and body["parameter"] == parameter and parameter in body["detail"]


async def test_ws_starts_with_the_snapshot_then_goes_live(web_app: WebFixture) -> None:
    web_app.feed.publish(restarted(1))
    web_app.feed.sync()
    async with web_app.client.ws_connect("/ws", headers=web_app.auth) as ws:
        first = json.loads((await ws.receive(timeout=5)).data)["events"][0]
        assert first["type"] == "STATE_SNAPSHOT" and first["data"]["last_seq"] == 1
        assert "seq" not in first and first["timestamp"].endswith("Z")
        web_app.feed.publish(restarted(2), restarted(3))
        live = await frames(ws, 3)
        assert [event["seq"] for event in live] == [2, 3]


async def test_ws_since_replays_what_was_missed_without_gap_or_duplicate(
    web_app: WebFixture,
) -> None:
    web_app.feed.publish(*(restarted(n) for n in range(10)))
    web_app.feed.sync()
    async with web_app.client.ws_connect("/ws?since=4", headers=web_app.auth) as ws:
        received = await frames(ws, 10)
        web_app.feed.publish(restarted(11))
        received += await frames(ws, 11)
    seqs = [event["seq"] for event in received if event["type"] != "STATE_SNAPSHOT"]
    assert seqs == list(range(5, 12))


async def test_ws_from_a_foreign_origin_is_refused(web_app: WebFixture) -> None:
    status, body = await web_app.call("GET", "/ws", headers={"Origin": "http://evil.example"})
    assert status == 403 and body["error"] == "forbidden_origin"


async def test_closing_the_app_closes_the_websockets_with_going_away(web_app: WebFixture) -> None:
    web_app.feed.sync()
    ws = await web_app.client.ws_connect("/ws", headers=web_app.auth)
    await ws.receive(timeout=5)  # the snapshot
    await web_app.client.server.close()  # runs on_shutdown, then the cleanup contexts
    message = await ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1001
    await ws.close()


T = "2026-01-05T10:00:00Z"


async def _live(ws: aiohttp.ClientWebSocketResponse) -> None:
    first = json.loads((await ws.receive(timeout=5)).data)["events"][0]
    assert first["type"] == "STATE_SNAPSHOT"


async def _sent_directly(web_app: WebFixture, clients: int) -> None:
    """Wait until every client's sender task is live (frames are then written at the flush)."""
    while sum(s.pump is not None for s in web_app.hub.subscribers) < clients:
        await asyncio.sleep(0.01)


async def test_frames_written_at_the_flush_reach_every_client_whole_and_in_order(
        web_app: WebFixture) -> None:
    web_app.feed.sync()
    async with web_app.client.ws_connect("/ws", headers=web_app.auth) as one, \
            web_app.client.ws_connect("/ws?format=msgpack", headers=web_app.auth) as two:
        await _live(one)
        await two.receive(timeout=5)  # its snapshot
        await _sent_directly(web_app, 2)
        # Small frames, one of 126..65535 bytes and one past 65535 (the three header forms).
        big = account_row(equity=1.0, currency="x" * 70_000)
        published = [AccountUpdate(timestamp=T, account=account_row(equity=float(n)))
                     for n in range(3)]
        for event in published:
            web_app.feed.publish(event)
            await asyncio.sleep(0.02)  # a flush each
        web_app.feed.publish(AccountUpdate(timestamp=T, account=account_row(currency="y" * 500)))
        web_app.feed.publish(AccountUpdate(timestamp=T, account=big))
        received = await frames(one, 5)
        assert [event["seq"] for event in received] == [1, 2, 3, 4, 5]
        assert received[-1]["account"]["currency"] == big.currency
        binary: list[dict[str, Any]] = []
        while len(binary) < 5:
            message = await two.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.BINARY
            binary.extend(msgpack.unpackb(message.data)["events"])
        assert binary == received


async def test_compression_is_refused_so_every_client_can_be_sent_the_shared_frame(
        web_app: WebFixture) -> None:
    web_app.feed.sync()
    async with web_app.client.ws_connect("/ws", headers=web_app.auth, compress=15) as ws:
        assert ws.compress == 0
        await _live(ws)
        await _sent_directly(web_app, 1)
        web_app.feed.publish(*(AccountUpdate(timestamp=T, account=account_row(equity=float(n)))
                               for n in range(3)))
        assert [event["seq"] for event in await frames(ws, 3)] == [1, 2, 3]


async def test_quotes_rung_on_the_doorbell_reach_the_clients(
        web_app: WebFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a body sealed with the daemon's secret puts quotes on the dashboard."""
    monkeypatch.setattr(frame_auth, "_installed", AuthenticatedPickle(os.urandom(32)))
    web_app.feed.sync()
    quote = {"type": "QUOTE", "timestamp": T, "symbol": "EURUSD", "bid": 1.1, "ask": 1.1002,
             "spread": 2.0, "time": 100.0}
    bell = Doorbell(Path(web_app.hub.journal_path))
    try:
        async with web_app.client.ws_connect("/ws", headers=web_app.auth) as ws:
            await _live(ws)
            await _sent_directly(web_app, 1)
            while not bell.ring_with_quotes([json.dumps(quote)]):
                await asyncio.sleep(0.01)  # until the hub's listener is bound
            message = await ws.receive(timeout=5)
            assert json.loads(message.data)["events"] == [quote]
            web_app.hub.quotes_rung(b"not json")  # a body that is not the Broadcaster's
            web_app.hub.quotes_rung(frame_auth.seal(b'[{"type": "ACCOUNT_UPDATE"}]') or b"")
            forged = json.dumps([{**quote, "bid": 9.9, "time": 200.0}]).encode()
            web_app.hub.quotes_rung(forged)  # a quote, but not sealed: dropped unread
            assert web_app.hub.snapshot.to_dict()["quotes"]["EURUSD"]["bid"] == 1.1
    finally:
        bell.close()
