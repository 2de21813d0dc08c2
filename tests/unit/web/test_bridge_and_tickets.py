"""The bridge refuses what cannot travel to an actor; tickets are single-use and expire."""

from __future__ import annotations

import threading

import pytest

from web.bridge import ActorBridge, Unsendable
from web.tickets import TicketBook


async def test_a_message_that_does_not_pickle_is_refused_before_it_is_queued() -> None:
    bridge = ActorBridge()
    try:
        with pytest.raises(Unsendable, match="cannot be sent to an actor"):
            await bridge.request("shared_state", lambda rid: (rid, threading.Lock()), 1.0)
        nested: list[object] = []
        for _ in range(5000):
            nested = [nested]
        with pytest.raises(Unsendable, match="RecursionError"):
            await bridge.request("shared_state", lambda rid: (rid, nested), 1.0)
        assert bridge.drain() == []
    finally:
        bridge.close()


def test_a_ticket_is_good_once_and_only_until_it_expires() -> None:
    now = [100.0]
    book = TicketBook(ttl_s=30.0, clock=lambda: now[0])
    first, second = book.issue(), book.issue()
    assert book.redeem(first) and not book.redeem(first)
    now[0] += 30.0
    assert not book.redeem(second)
    assert not book.redeem("") and not book.redeem(None) and not book.redeem("made-up")


def test_live_tickets_are_bounded() -> None:
    book = TicketBook(ttl_s=30.0, max_live=3, clock=lambda: 0.0)
    tickets = [book.issue() for _ in range(5)]
    assert [book.redeem(t) for t in tickets] == [False, False, True, True, True]
