"""The live stream through real WebSocket clients: snapshot first, events in order, replay with
no gap and no duplicate, filters, msgpack, and a stalled client that slows nobody down."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import aiohttp
import pytest

from tests.support.daemon import WEEKDAY_MARKET_START, Daemon
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration


def _url(daemon: Daemon, **query: object) -> str:
    params = "&".join(f"{key}={value}" for key, value in {"token": daemon.token, **query}.items())
    return f"{daemon.ws_url}?{params}"


def _ticks(client: EventClient) -> list[int]:
    """The produced ticks' own counters (``n``), in arrival order."""
    return [event["n"] for event in client.of_type("BENCH_TICK")]


def _seqs(client: EventClient) -> list[int]:
    """The seq of every event after the snapshot (the trading roles publish between ticks),
    live quotes aside: they are not numbered."""
    return [event["seq"] for event in client.events
            if event["type"] not in ("STATE_SNAPSHOT", "QUOTE")]


def _contiguous(seqs: list[int]) -> bool:
    return seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True


async def test_snapshot_first_then_live_events_in_order(shared_daemon: Daemon, session) -> None:
    client = await EventClient(session, _url(shared_daemon)).connect()
    await client.wait_for(lambda: client.frames)
    first = client.events[0]
    assert first["type"] == "STATE_SNAPSHOT"
    assert set(first["data"]) >= {"account", "positions", "scan_summary", "recent_trades",
                                  "events", "last_seq"}
    assert client.frames[0]["v"] == 1
    await asyncio.to_thread(shared_daemon.produce, 500)
    await client.wait_for(lambda: len(_ticks(client)) >= 500)
    assert _ticks(client) == list(range(500))
    # Every event after the snapshot (ticks and whatever the trading roles said meanwhile)
    # follows it with no gap and no duplicate.
    seqs = _seqs(client)
    assert seqs[0] == first["data"]["last_seq"] + 1 and _contiguous(seqs)
    await client.close()


async def test_quotes_go_live_but_never_into_the_journal(make_daemon, session) -> None:
    # A weekday's market: at the wall clock's own time it is closed at weekends (no quotes).
    shared_daemon = make_daemon(f"sim.start={WEEKDAY_MARKET_START}")
    client = await EventClient(session, _url(shared_daemon)).connect()
    await client.wait_for(lambda: len({q["symbol"] for q in client.of_type("QUOTE")}) >= 2)
    quote = client.of_type("QUOTE")[0]
    assert "seq" not in quote and quote["ask"] > quote["bid"] > 0 and quote["spread"] > 0
    state = shared_daemon.get("/api/state")
    assert {quote["symbol"] for quote in client.of_type("QUOTE")} <= set(state["quotes"])
    journal = shared_daemon.get("/api/events?types=QUOTE&limit=10")
    assert journal["events"] == []  # live only: ?since= replays none
    await client.close()


async def test_since_replays_what_was_missed_without_gap_or_duplicate(shared_daemon: Daemon,
                                                                      session) -> None:
    first = await EventClient(session, _url(shared_daemon)).connect()
    await asyncio.to_thread(shared_daemon.produce, 200)
    await first.wait_for(lambda: len(_ticks(first)) >= 200)
    last_seen = _seqs(first)[-1]
    await first.close()

    await asyncio.to_thread(shared_daemon.produce, 300)  # missed while disconnected
    resumed = await EventClient(session, _url(shared_daemon, since=last_seen)).connect()
    await resumed.wait_for(lambda: len(_ticks(resumed)) >= 300)
    await asyncio.to_thread(shared_daemon.produce, 100)  # and live again
    await resumed.wait_for(lambda: len(_ticks(resumed)) >= 400)
    assert resumed.events[0]["type"] == "STATE_SNAPSHOT"
    seqs = _seqs(resumed)
    assert seqs[0] == last_seen + 1 and _contiguous(seqs)
    assert _ticks(resumed) == list(range(300)) + list(range(100))
    await resumed.close()


async def test_resuming_while_events_flow_has_no_gap(shared_daemon: Daemon, session) -> None:
    start_seq = shared_daemon.get("/api/health")["last_seq"]
    producing = asyncio.create_task(asyncio.to_thread(shared_daemon.produce, 3000, 1500.0, 10))
    await asyncio.sleep(0.8)  # join mid-stream
    client = await EventClient(session, _url(shared_daemon, since=start_seq)).connect()
    await producing
    await client.wait_for(lambda: len(_ticks(client)) >= 3000)
    seqs = _seqs(client)
    assert seqs[0] == start_seq + 1 and _contiguous(seqs)
    assert _ticks(client) == list(range(3000))
    await client.close()


async def test_msgpack_frames_carry_the_same_events(shared_daemon: Daemon, session) -> None:
    text = await EventClient(session, _url(shared_daemon)).connect()
    binary = await EventClient(session, _url(shared_daemon, format="msgpack")).connect()
    await asyncio.gather(text.wait_for(lambda: text.frames), binary.wait_for(lambda: binary.frames))
    await asyncio.to_thread(shared_daemon.produce, 100)
    await text.wait_for(lambda: len(_ticks(text)) >= 100)
    await binary.wait_for(lambda: len(_ticks(binary)) >= 100)
    assert all(frame.get("_binary") for frame in binary.frames)
    assert binary.of_type("BENCH_TICK") == text.of_type("BENCH_TICK")
    await asyncio.gather(text.close(), binary.close())


async def test_types_filter(make_daemon, session) -> None:
    daemon = make_daemon()
    client = await EventClient(session, _url(daemon, types="ACTOR_RESTARTED")).connect()
    await asyncio.to_thread(daemon.produce, 50)
    pid = daemon.node("shared_state")["pid"]
    import os
    import signal

    os.kill(pid, signal.SIGKILL)
    await client.wait_for(lambda: client.of_type("ACTOR_RESTARTED"))
    assert {event["type"] for event in client.events} == {"STATE_SNAPSHOT", "ACTOR_RESTARTED"}
    await client.close()


async def test_origin_of_another_site_is_refused(shared_daemon: Daemon, session) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(_url(shared_daemon), headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    ok = await session.ws_connect(_url(shared_daemon),
                                  headers={"Origin": f"http://127.0.0.1:{shared_daemon.port}"})
    await ok.close()


def _stalled_websocket(daemon: Daemon) -> socket.socket:
    """A WebSocket that completes its handshake and then never reads again."""
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", daemon.port))
    stalled.sendall(
        f"GET /ws?token={daemon.token} HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )
    assert b"101" in stalled.recv(12)
    return stalled


async def test_a_stalled_client_is_told_to_resync_and_never_delays_the_others(make_daemon,
                                                                              session) -> None:
    # The stalled socket first soaks up the kernel's loopback buffers (megabytes); only then
    # does the server's sender for it block and its queue fill past the limit.
    daemon = make_daemon()  # the default queue limit (20,000 events): a second of slack here
    stalled = _stalled_websocket(daemon)
    try:
        healthy = await EventClient(session, _url(daemon)).connect()
        await asyncio.to_thread(daemon.produce, 100_000, 20_000.0, 100)
        # A hang guard, not a speed test: on two shared cores the client may need a while.
        # (Shorter than pytest's own timeout, so that a failure says what was missing.)
        try:
            await healthy.wait_for(lambda: len(_ticks(healthy)) >= 100_000, timeout=200)
        except AssertionError as failure:
            journaled = daemon.get("/api/events?types=BENCH_TICK&limit=1")
            raise AssertionError(f"{failure}; {len(_ticks(healthy))} ticks delivered; "
                                 f"web front at seq {journaled['last_seq']}; "
                                 f"tree {daemon.tree()}") from failure
        assert _ticks(healthy) == list(range(100_000)) and _contiguous(_seqs(healthy))
        assert healthy.close_code is None  # the healthy client is still connected
        metrics = await (await session.get(f"{daemon.base_url}/metrics",
                                           headers={"Authorization": f"Bearer {daemon.token}"})
                         ).text()
        assert "ensemble_ws_resyncs_total 1" in metrics
        await healthy.close()
    finally:
        with contextlib.suppress(OSError):
            stalled.close()
