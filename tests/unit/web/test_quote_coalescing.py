"""Tests: live quotes are coalesced per symbol, for each client and in the snapshot; a slow
client gets the latest quote of each symbol, never a backlog (web/hub.py,
actors/broadcaster/snapshot.py)."""

from __future__ import annotations

import json
from typing import Any, cast

from aiohttp import web

from actors.broadcaster.snapshot import Snapshot
from web.hub import Frame, LiveEvent, Subscriber, build_frame


def _quote(symbol: str, bid: float, time: float = 0.0) -> LiveEvent:
    wire = {"type": "QUOTE", "timestamp": "2026-01-05T10:00:00Z", "symbol": symbol,
            "bid": bid, "ask": bid + 0.0002, "spread": 2.0, "time": time}
    return LiveEvent(0, "QUOTE", json.dumps(wire), wire)


def _flush_frame(*quotes: LiveEvent) -> Frame:
    return Frame(list(quotes), build_frame(quotes, False))


def _subscriber(types: frozenset[str] | None = None) -> Subscriber:
    return Subscriber(cast(web.WebSocketResponse, None), None, False, types, 4)


def _sent(subscriber: Subscriber) -> list[tuple[str, Any]]:
    frame = subscriber.take_quotes()
    assert frame is not None
    data = frame.data if frame.data is not None else subscriber.frame(frame.events)
    return [(quote["symbol"], quote["bid"]) for quote in json.loads(data)["events"]]


def test_a_caught_up_client_is_given_the_groups_own_frame() -> None:
    subscriber = _subscriber()
    shared = _flush_frame(_quote("EURUSD", 1.1), _quote("USDJPY", 150.0))
    subscriber.offer_quotes(shared)
    assert subscriber.take_quotes() is shared
    assert subscriber.take_quotes() is None


def test_a_slow_client_gets_the_latest_quote_of_each_symbol_once() -> None:
    subscriber = _subscriber()
    for flush in range(100):  # a hundred flushes while its sender was stuck
        subscriber.offer_quotes(_flush_frame(_quote("EURUSD", 1.1 + flush / 1e4),
                                             _quote(f"SYM{flush % 3}", float(flush))))
    assert sorted(_sent(subscriber)) == [("EURUSD", 1.1 + 99 / 1e4), ("SYM0", 99.0),
                                         ("SYM1", 97.0), ("SYM2", 98.0)]
    assert subscriber.take_quotes() is None


def test_quotes_never_count_towards_the_queue_limit() -> None:
    subscriber = _subscriber()  # a queue limit of 4 events
    for flush in range(50):
        subscriber.offer_quotes(_flush_frame(*(_quote(f"S{n}", float(flush)) for n in range(10))))
    assert not subscriber.overflowed and subscriber.queued_events == 0
    assert len(_sent(subscriber)) == 10


def test_an_overflowed_client_takes_no_more_quotes() -> None:
    subscriber = _subscriber()
    subscriber.overflowed = True
    subscriber.offer_quotes(_flush_frame(_quote("EURUSD", 1.1)))
    assert subscriber.take_quotes() is None


def test_a_client_that_filters_types_can_leave_quotes_out() -> None:
    subscriber = _subscriber(types=frozenset({"ACCOUNT_UPDATE"}))
    assert subscriber.wants([_quote("EURUSD", 1.1)]) == []


def test_the_snapshot_keeps_the_newest_quote_of_each_symbol_out_of_its_event_list() -> None:
    snapshot = Snapshot()
    for wire in (_quote("EURUSD", 1.1, time=10.0).wire, _quote("EURUSD", 1.2, time=11.0).wire,
                 _quote("USDJPY", 150.0, time=5.0).wire):
        assert wire is not None
        snapshot.apply(wire)
    older = _quote("EURUSD", 1.0, time=9.0).wire
    assert older is not None
    assert snapshot.apply_quote(older) is False  # overtaken in transit: the newer one stays
    assert {s: q["bid"] for s, q in snapshot.quotes.items()} == {"EURUSD": 1.2, "USDJPY": 150.0}
    assert snapshot.events == [] and snapshot.last_seq == 0
    again = Snapshot.from_dict(snapshot.to_dict())
    assert again.quotes == snapshot.quotes
