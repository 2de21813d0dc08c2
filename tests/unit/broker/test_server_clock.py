"""The broker's clock: the server's UTC offset measured from tick times, to the quarter hour,
following a DST switch within two fresh ticks and holding its value while the market is closed
or quiet (a stale tick measures nothing)."""

from __future__ import annotations

from actors.broker.server_clock import ServerClock, history_from_record
from messages.server_time import parse_server_time, server_time_to_utc

UTC_NOW = 1_700_000_000.0
HOUR = 3600


def test_the_first_fresh_tick_sets_the_offset_to_the_quarter_hour() -> None:
    clock = ServerClock()
    assert not clock.known and clock.to_utc(UTC_NOW) == UTC_NOW
    # The freshest of the ticks counts; it is 40 s old and the server is UTC+2.
    assert clock.observe({"EURUSD": UTC_NOW + 2 * HOUR - 40, "XAUUSD": UTC_NOW - 5000}, UTC_NOW)
    assert clock.offset_s == 2 * HOUR
    assert clock.to_utc(UTC_NOW + 2 * HOUR) == UTC_NOW
    india = ServerClock()
    assert india.observe({"EURUSD": UTC_NOW + 5.5 * HOUR - 3}, UTC_NOW)
    assert india.offset_s == 19_800


def test_a_dst_switch_is_followed_on_the_second_fresh_tick_that_sees_it() -> None:
    clock = ServerClock(2 * HOUR)
    later = UTC_NOW + 600
    # A symbol's first read proves nothing: its tick may be hours old.
    assert not clock.observe({"EURUSD": later + 3 * HOUR - 5}, later)
    # Newer than the read a second before: fresh, but one tick could be a stray.
    assert not clock.observe({"EURUSD": later + 3 * HOUR}, later + 1)
    assert clock.offset_s == 2 * HOUR
    assert clock.observe({"EURUSD": later + 3 * HOUR + 1}, later + 2)
    assert clock.offset_s == 3 * HOUR
    # A stray value between two agreeing ticks does not move it.
    assert not clock.observe({"EURUSD": later + 3 + 5 * HOUR}, later + 3)
    assert not clock.observe({"EURUSD": later + 4 + 3 * HOUR}, later + 4)
    assert not clock.observe({"EURUSD": later + 5 + 5 * HOUR}, later + 5)
    assert clock.offset_s == 3 * HOUR


def test_a_quiet_market_s_stale_tick_does_not_move_the_offset() -> None:
    """Gold's daily break: its last tick stays at 21:59 server time while the clock runs on.
    Fifteen, thirty, sixty minutes into the break that tick would measure UTC+1:45, +1:30,
    +1:00; read every second it never changes, so it measures nothing."""
    clock = ServerClock(2 * HOUR)
    last_tick = UTC_NOW + 2 * HOUR
    for minutes in range(1, 120):
        now = UTC_NOW + minutes * 60
        assert not clock.observe({"XAUUSD": last_tick}, now)
        assert not clock.observe({"XAUUSD": last_tick}, now + 1)
    assert clock.offset_s == 2 * HOUR and len(clock.history) <= 1
    # A symbol read minutes apart is not proven fresh either, even when its tick moved on.
    slow = ServerClock(2 * HOUR)
    assert not slow.observe({"EURUSD": UTC_NOW + 2 * HOUR - 900}, UTC_NOW)
    assert not slow.observe({"EURUSD": UTC_NOW + 2 * HOUR - 899}, UTC_NOW + 300)
    assert not slow.observe({"EURUSD": UTC_NOW + 2 * HOUR - 898}, UTC_NOW + 600)
    assert slow.offset_s == 2 * HOUR


def test_a_closed_market_keeps_the_offset_unless_the_backend_knows_it() -> None:
    clock = ServerClock(2 * HOUR)
    friday_tick = UTC_NOW - 2 * 86_400 + 2 * HOUR
    assert not clock.observe({"EURUSD": friday_tick}, UTC_NOW) and clock.offset_s == 2 * HOUR
    assert not clock.observe({}, UTC_NOW) and clock.offset_s == 2 * HOUR
    unknown = ServerClock()
    assert not unknown.observe({"EURUSD": friday_tick}, UTC_NOW) and not unknown.known
    assert unknown.observe({"EURUSD": friday_tick}, UTC_NOW, hint=3 * HOUR)
    assert unknown.offset_s == 3 * HOUR


def test_the_clock_remembers_when_each_offset_took_effect_and_keeps_it_across_a_restart() -> None:
    clock = ServerClock()
    assert clock.observe({"EURUSD": UTC_NOW + 2 * HOUR}, UTC_NOW)
    assert not clock.observe({"EURUSD": UTC_NOW + 60 + 2 * HOUR}, UTC_NOW + 60)  # the last at +2
    assert not clock.observe({"EURUSD": UTC_NOW + 120 + 3 * HOUR}, UTC_NOW + 120)  # first at +3
    assert clock.observe({"EURUSD": UTC_NOW + 180 + 3 * HOUR}, UTC_NOW + 180)
    assert clock.history == ((UTC_NOW, UTC_NOW, 2 * HOUR),
                             (UTC_NOW + 60, UTC_NOW + 120, 3 * HOUR))
    restarted = ServerClock()
    restarted.restore(3 * HOUR, history_from_record(clock.record()))
    assert restarted.history == clock.history and restarted.offset_s == 3 * HOUR
    assert history_from_record({"offset_s": 7200}) == ()  # a record from before histories
    assert history_from_record({"history": [[1, 2, "x"]]}) == ()


def test_an_offset_given_without_history_is_kept_as_the_one_before_a_switch() -> None:
    clock = ServerClock(2 * HOUR)
    assert not clock.observe({"EURUSD": UTC_NOW - 1 + 3 * HOUR}, UTC_NOW - 1)  # its first read
    assert not clock.observe({"EURUSD": UTC_NOW + 3 * HOUR}, UTC_NOW)
    assert clock.observe({"EURUSD": UTC_NOW + 1 + 3 * HOUR}, UTC_NOW + 1)
    assert [offset for _after, _by, offset in clock.history] == [2 * HOUR, 3 * HOUR]


def test_a_declared_rule_gives_the_switches_before_the_first_measurement() -> None:
    """First measured in July at UTC+3 on a New York close server: a deal stamped in February
    is read at UTC+2, as the server stamped it, not at the July offset; a rule that is off
    by an hour (the server is at UTC+4) is shifted to what was measured, and reported."""
    july = 1_783_000_000.0  # 2026-07-02
    february = 1_771_000_000.0  # 2026-02-13, winter
    clock = ServerClock(rule=parse_server_time("new-york-close"))
    assert clock.observe({"EURUSD": july + 3 * HOUR - 10}, july) and clock.rule_shift_s == 0
    assert server_time_to_utc(february + 2 * HOUR, clock.history, 3 * HOUR) == february
    assert history_from_record(clock.record()) == clock.history  # saved as it is
    off = ServerClock(rule=parse_server_time("new-york-close"))
    # The first tick disagrees with the rule and could be a stale one: a fresh one decides.
    assert not off.observe({"EURUSD": july + 4 * HOUR - 10}, july) and not off.known
    assert off.observe({"EURUSD": july + 1 + 4 * HOUR - 5}, july + 1)
    assert off.rule_shift_s == HOUR
    assert server_time_to_utc(february + 3 * HOUR, off.history, 4 * HOUR) == february
    without = ServerClock()
    assert without.observe({"EURUSD": july + 3 * HOUR - 10}, july)
    assert server_time_to_utc(february + 2 * HOUR, without.history, 3 * HOUR) == february - HOUR


def test_a_stale_first_tick_that_contradicts_the_rule_waits_for_a_fresh_one() -> None:
    """Started on a Friday at 22:14 UTC, a quarter hour after the close: EURUSD's last tick
    would measure UTC+1:45 against the declared UTC+2. Without a rule it is the best guess;
    with one it waits, and a tick after the reopening measures UTC+2."""
    friday = 1_704_492_840.0  # 2024-01-05 22:14 UTC
    close = friday - 14 * 60 - 2 + 2 * HOUR  # the last tick, 21:59:58 UTC in server time
    ruled = ServerClock(rule=parse_server_time("new-york-close"))
    assert not ruled.observe({"EURUSD": close}, friday) and not ruled.known
    assert not ruled.observe({"EURUSD": close}, friday + 1) and not ruled.known
    sunday = friday + 48 * HOUR - 14 * 60 + 30  # 22:00:30 UTC, two days later
    assert ruled.observe({"EURUSD": sunday - 20 + 2 * HOUR}, sunday)  # agrees with the rule
    assert ruled.offset_s == 2 * HOUR and ruled.rule_shift_s == 0
    unruled = ServerClock()
    assert unruled.observe({"EURUSD": close}, friday) and unruled.offset_s == 2 * HOUR - 900
