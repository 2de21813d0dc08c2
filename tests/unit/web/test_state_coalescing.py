"""Tests: superseded state events are dropped before numbering; nothing else is, and the
order holds (actors/broadcaster/coalesce.py)."""

from __future__ import annotations

from actors.broadcaster.coalesce import coalesce as coalesce_wires
from bench.producer import BenchTick
from messages.codec import from_wire, to_wire
from messages.events import AccountUpdate, Event, PositionUpdate, ScanSummary
from tests.support.rows import account_row

T = "2026-01-05T10:00:00Z"


def _account(equity: float) -> AccountUpdate:
    return AccountUpdate(timestamp=T, account=account_row(equity=equity))


def _scan(strategy: str, count: int) -> ScanSummary:
    return ScanSummary(timestamp=T, symbols={}, count=count, candidates=0, strategy=strategy)


def _tick(n: int) -> BenchTick:
    return BenchTick(timestamp=T, n=n, sent_at=0.0)


def coalesce(events: list[Event]) -> list[Event]:
    """The Broadcaster coalesces events in wire form, as the publish lane brings them."""
    return [from_wire(wire) for wire in coalesce_wires([to_wire(e) for e in events])]


def test_other_events_are_all_kept_in_order() -> None:
    ticks: list[Event] = [_tick(n) for n in range(5)]
    assert coalesce(ticks) == ticks


def test_each_state_key_ends_at_its_latest_value_at_its_last_place() -> None:
    events: list[Event] = [_account(1.0), _tick(0), _scan("a", 1), _account(2.0), _scan("b", 7),
                           _tick(1), _scan("a", 2), PositionUpdate(timestamp=T, positions=())]
    kept = coalesce(events)
    assert kept == [_tick(0), _account(2.0), _scan("b", 7), _tick(1), _scan("a", 2),
                    PositionUpdate(timestamp=T, positions=())]


def test_the_state_a_reader_ends_with_is_the_same_as_without_coalescing() -> None:
    events: list[Event] = [_account(float(n)) if n % 3 else _tick(n) for n in range(30)]
    kept = coalesce(events)

    def final(stream: list[Event]) -> tuple[float, list[int]]:
        equity = [e.account.equity for e in stream if isinstance(e, AccountUpdate)][-1]
        return equity, [e.n for e in stream if isinstance(e, BenchTick)]

    assert final(kept) == final(events)
    assert sum(isinstance(e, AccountUpdate) for e in kept) == 1
