"""The table of requests an actor waits on: replies, timeouts, resends and tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.runtime.requests import OpenRequest, OutstandingRequests


@dataclass(frozen=True)
class Report:
    request_id: str
    status: str

    @property
    def final(self) -> bool:
        return self.status != "unknown"


def request(request_id: str, replies: list[Any], timeouts: list[str], **options: Any,
            ) -> OpenRequest:
    return OpenRequest(request_id, options.pop("role", "broker"), f"message {request_id}",
                       replies.append, lambda: timeouts.append(request_id), **options)


def test_a_single_reply_closes_its_request_and_a_second_one_is_nobody_s() -> None:
    table, replies, timeouts = OutstandingRequests(), [], []
    table.open(request("a", replies, timeouts), deadline=10.0)
    first = table.answer("a", "yes")
    assert first is not None
    assert "a" not in table
    assert table.answer("a", "again") is None
    assert table.expire(now=11.0) == []  # answered: its deadline no longer counts
    assert table.next_deadline() is None


def test_an_order_stays_open_through_unknown_until_its_fate_is_known() -> None:
    table, replies, timeouts = OutstandingRequests(), [], []
    table.open(request("o", replies, timeouts, final=lambda r: r.final), deadline=None)
    assert table.answer("o", Report("o", "unknown")) is not None
    assert "o" in table
    assert table.answer("o", Report("o", "done")) is not None
    assert "o" not in table


def test_a_timeout_is_called_once_and_forgets_a_single_reply_request() -> None:
    table, replies, timeouts = OutstandingRequests(), [], []
    table.open(request("a", replies, timeouts), deadline=5.0)
    table.open(request("b", replies, timeouts), deadline=9.0)
    assert table.next_deadline() == 5.0
    assert [r.request_id for r in table.expire(now=6.0)] == ["a"]
    assert "a" not in table and "b" in table
    assert table.next_deadline() == 9.0
    assert table.expire(now=6.5) == []


def test_a_late_order_is_still_answered_after_its_timeout() -> None:
    """The report of an order that was sent must reach its sender however late it is."""
    table, replies, timeouts = OutstandingRequests(), [], []
    table.open(request("o", replies, timeouts, final=lambda r: r.final), deadline=5.0)
    assert [r.request_id for r in table.expire(now=6.0)] == ["o"]
    assert table.expire(now=7.0) == []  # late once, not every sweep
    assert table.next_deadline() is None
    assert table.answer("o", Report("o", "done")) is not None
    assert "o" not in table


def test_a_resend_request_waits_for_its_role_and_follows_it_to_a_new_address() -> None:
    table, replies, timeouts = OutstandingRequests(), [], []
    table.open(request("r", replies, timeouts, resend=True, role="shared_state"), deadline=9.0)
    table.open(request("x", replies, timeouts, role="shared_state", address="old"), deadline=9.0)
    assert table.readdress({"broker": "b1"}) == []  # its role is still down
    moved = table.readdress({"shared_state": "s1"})
    assert [(r.request_id, r.address) for r in moved] == [("r", "s1")]
    assert table.readdress({"shared_state": "s1"}) == []  # same address: not sent twice
    assert [r.address for r in table.readdress({"shared_state": "s2"})] == ["s2"]


def test_tags_say_whether_anything_of_a_cycle_is_still_open() -> None:
    table, replies, timeouts = OutstandingRequests(), [], []
    cycle, other = object(), object()
    table.open(request("o", replies, timeouts, final=lambda r: r.final, tag=cycle), None)
    assert table.waiting_on(cycle) and not table.waiting_on(other)
    table.answer("o", Report("o", "unknown"))
    assert table.waiting_on(cycle)
    table.answer("o", Report("o", "rejected"))
    assert not table.waiting_on(cycle)
