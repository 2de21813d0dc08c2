"""Tests: a client's queue of shared frames yields every event once, in order (web/hub.py)."""

from __future__ import annotations

import json
from typing import Any, cast

from aiohttp import web

from web.hub import Frame, LiveEvent, Subscriber, build_frame


def _events(first: int, last: int, kind: str = "BENCH_TICK") -> list[LiveEvent]:
    return [LiveEvent(seq, kind, json.dumps({"type": kind, "seq": seq}), None)
            for seq in range(first, last + 1)]


def _subscriber(limit: int = 1000, types: frozenset[str] | None = None) -> Subscriber:
    return Subscriber(cast(web.WebSocketResponse, None), None, False, types, limit)


def _drain(subscriber: Subscriber, max_events: int) -> list[Any]:
    """What a sender would send, frame by frame, as decoded seqs."""
    sent = []
    while (frame := subscriber.take(max_events)) is not None:
        data = frame.data if frame.data is not None else subscriber.frame(frame.events)
        sent.append([event["seq"] for event in json.loads(data)["events"]])
        subscriber.last_sent_seq = frame.last_seq
    return sent


def test_a_caught_up_client_is_sent_the_shared_frame_itself() -> None:
    events = _events(1, 3)
    shared = Frame(events, build_frame(events, False))
    subscriber = _subscriber()
    subscriber.offer(shared)
    assert subscriber.take(100) is shared
    assert subscriber.queued_events == 0


def test_a_slow_client_gets_what_queued_merged_in_order_without_what_it_has() -> None:
    subscriber = _subscriber()
    for first in (1, 4, 7):
        chunk = _events(first, first + 2)
        subscriber.offer(Frame(chunk, build_frame(chunk, False)))
    subscriber.last_sent_seq = 2  # a replay already sent 1 and 2
    assert _drain(subscriber, 4) == [[3, 4, 5, 6], [7, 8, 9]]
    assert subscriber.queued_events == 0


def test_frames_a_client_already_has_are_skipped() -> None:
    subscriber = _subscriber()
    subscriber.offer(Frame(_events(1, 5)))
    subscriber.last_sent_seq = 5
    assert subscriber.take(100) is None
    assert subscriber.queued_events == 0


def test_a_queue_over_its_limit_overflows_and_empties() -> None:
    subscriber = _subscriber(limit=4)
    assert not subscriber.offer(Frame(_events(1, 3)))
    assert subscriber.offer(Frame(_events(4, 5)))
    assert subscriber.overflowed and not subscriber.queue


def test_a_client_wants_only_its_types() -> None:
    subscriber = _subscriber(types=frozenset({"ACCOUNT_UPDATE"}))
    mixed = _events(1, 2) + _events(3, 3, "ACCOUNT_UPDATE")
    assert [event.seq for event in subscriber.wants(mixed)] == [3]
