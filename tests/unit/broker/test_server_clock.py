"""The broker's clock: the server's UTC offset measured from tick times, to the quarter hour,
following a DST switch within two polls and holding its value while the market is closed."""

from __future__ import annotations

from actors.broker.server_clock import ServerClock

UTC_NOW = 1_700_000_000.0
HOUR = 3600


def test_the_first_fresh_tick_sets_the_offset_to_the_quarter_hour() -> None:
    clock = ServerClock()
    assert not clock.known and clock.to_utc(UTC_NOW) == UTC_NOW
    # The freshest of the ticks counts; it is 40 s old and the server is UTC+2.
    assert clock.observe([UTC_NOW + 2 * HOUR - 40, UTC_NOW - 5000], UTC_NOW)
    assert clock.offset_s == 2 * HOUR
    assert clock.to_utc(UTC_NOW + 2 * HOUR) == UTC_NOW
    india = ServerClock()
    assert india.observe([UTC_NOW + 5.5 * HOUR - 3], UTC_NOW) and india.offset_s == 19_800


def test_a_dst_switch_is_followed_on_the_second_poll_that_sees_it() -> None:
    clock = ServerClock(2 * HOUR)
    later = UTC_NOW + 600
    assert not clock.observe([later + 3 * HOUR - 1], later)  # one poll could be a stray tick
    assert clock.offset_s == 2 * HOUR
    assert clock.observe([later + 3 * HOUR + 1], later + 1)
    assert clock.offset_s == 3 * HOUR
    # A stray value between two agreeing polls does not move it.
    assert not clock.observe([later + 5 * HOUR], later)
    assert not clock.observe([later + 3 * HOUR], later)
    assert not clock.observe([later + 5 * HOUR], later)
    assert clock.offset_s == 3 * HOUR


def test_a_closed_market_keeps_the_offset_unless_the_backend_knows_it() -> None:
    clock = ServerClock(2 * HOUR)
    friday_tick = UTC_NOW - 2 * 86_400 + 2 * HOUR
    assert not clock.observe([friday_tick], UTC_NOW) and clock.offset_s == 2 * HOUR
    assert not clock.observe([], UTC_NOW) and clock.offset_s == 2 * HOUR
    unknown = ServerClock()
    assert not unknown.observe([friday_tick], UTC_NOW) and not unknown.known
    assert unknown.observe([friday_tick], UTC_NOW, hint=3 * HOUR)
    assert unknown.offset_s == 3 * HOUR
