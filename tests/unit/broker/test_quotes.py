"""Tests: the broker quotes a watched symbol only when its bid or ask changed
(actors/broker/quotes.py)."""

from __future__ import annotations

from actors.broker.quotes import QuoteWatch, spread_points
from messages.market import TickRecord

T = "2026-01-05T10:00:00Z"


def _tick(bid: float, ask: float, time_msc: int = 1_767_607_200_123) -> TickRecord:
    return TickRecord(time=time_msc // 1000, bid=bid, ask=ask, last=0.0, volume=0,
                      time_msc=time_msc, flags=6, volume_real=0.0)


def test_only_changed_symbols_are_quoted_with_spread_in_points_and_utc_time() -> None:
    watch = QuoteWatch()
    points = {"EURUSD": 0.00001, "USDJPY": 0.001}
    first = watch.changed({"EURUSD": _tick(1.10000, 1.10012), "USDJPY": _tick(150.0, 150.015)},
                          points, 7200, T)
    assert [(q.symbol, q.spread) for q in first] == [("EURUSD", 12.0), ("USDJPY", 15.0)]
    assert first[0].time == 1_767_607_200.123 - 7200  # server time (UTC+2) to UTC
    assert first[0].seq is None
    second = watch.changed({"EURUSD": _tick(1.10000, 1.10012), "USDJPY": _tick(150.001, 150.016)},
                           points, 7200, T)
    assert [(q.symbol, q.bid) for q in second] == [("USDJPY", 150.001)]


def test_a_tick_without_prices_is_not_a_quote_and_forget_quotes_everything_again() -> None:
    watch = QuoteWatch()
    assert watch.changed({"XAUUSD": _tick(0.0, 0.0)}, {}, 0, T) == []
    watch.changed({"EURUSD": _tick(1.1, 1.1001)}, {}, 0, T)
    watch.forget()
    assert [q.symbol for q in watch.changed({"EURUSD": _tick(1.1, 1.1001)}, {}, 0, T)] == [
        "EURUSD"]


def test_spread_without_a_point_is_zero() -> None:
    assert spread_points(1.1, 1.1002, 0.0) == 0.0
    assert spread_points(1.1, 1.1002, 0.00001) == 20.0
