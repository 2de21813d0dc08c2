"""A server time's UTC instant comes from the offset in force when it happened, and a deal's
broker day from its server's own date: deals from both sides of a DST switch, read in one batch
after it, land at their real times and on their server's days, and a bar window that straddles
the switch has neither a hole nor an overlap."""

from __future__ import annotations

import calendar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.risk.state import CounterParams, RiskState, apply_deal
from messages.server_time import (
    parse_server_time,
    past_switches,
    server_day,
    server_times_to_utc,
    us_dst_interval,
)
from messages.server_time import server_time_to_utc as deal_utc
from tests.unit.risk.builders import deal

HOUR = 3600
NEW_YORK_CLOSE = parse_server_time("new-york-close")
SPRING, FALL = us_dst_interval(2026)  # 8 March 07:00 UTC, 1 November 06:00 UTC


def _utc(*fields: int) -> int:
    return calendar.timegm((*fields, 0)[:6])


def _server(utc_s: float) -> float:
    """What a New-York-close server stamps at the UTC instant ``utc_s``."""
    return utc_s + NEW_YORK_CLOSE.offset_s(utc_s)


# As the broker measured it: UTC+2 since a week before, UTC+3 from between its polls at
# 06:59:30 and 07:00:30 UTC on the switch day.
SPRING_HISTORY = ((SPRING - 7 * 86_400, SPRING - 7 * 86_400, 2 * HOUR),
                  (SPRING - 30, SPRING + 30, 3 * HOUR))
FALL_HISTORY = ((FALL - 90 * 86_400, FALL - 90 * 86_400, 3 * HOUR),
                (FALL - 30, FALL + 30, 2 * HOUR))


def test_the_switch_dates_are_new_yorks() -> None:
    assert (_utc(2026, 3, 8, 7, 0, 0), _utc(2026, 11, 1, 6, 0, 0)) == (SPRING, FALL)


def test_deals_from_both_sides_of_the_spring_switch_get_their_own_offsets() -> None:
    friday_late = _utc(2026, 3, 6, 21, 30, 0)  # 23:30 on the server (UTC+2), Friday
    monday = _utc(2026, 3, 9, 7, 0, 0)  # 10:00 on the server (UTC+3)
    crypto_before, crypto_after = SPRING - 10, SPRING + 10  # Sunday, around the switch
    for utc in (friday_late, monday, crypto_before, crypto_after):
        assert deal_utc(_server(utc), SPRING_HISTORY, 3 * HOUR) == utc
    # Today's offset alone puts the Friday deal an hour early...
    assert _server(friday_late) - 3 * HOUR == friday_late - HOUR
    # ...and its broker day is the server's date, Friday 6 March, not the UTC+3 one.
    assert server_day(_server(friday_late)) == _utc(2026, 3, 6, 0, 0, 0) // 86_400
    assert (friday_late + 3 * HOUR) // 86_400 == _utc(2026, 3, 7, 0, 0, 0) // 86_400


def test_the_hour_a_clock_set_back_shows_twice_is_read_as_its_later_instant() -> None:
    before, after = FALL - 30 * 60, FALL + 30 * 60  # both stamped 08:30 on the server
    assert _server(before) == _server(after)
    # Either is possible: the later one keeps a cooldown running longer (fail closed).
    assert deal_utc(_server(before), FALL_HISTORY, 2 * HOUR) == after
    # Outside that hour each is exact.
    for utc in (FALL - 2 * HOUR, FALL + 2 * HOUR, _utc(2026, 10, 30, 20, 0, 0)):
        assert deal_utc(_server(utc), FALL_HISTORY, 2 * HOUR) == utc


def test_without_a_history_the_current_offset_and_before_it_the_first_one_measured() -> None:
    assert deal_utc(10_000.0, (), 7200) == 10_000.0 - 7200
    early = SPRING - 30 * 86_400
    assert deal_utc(_server(early), SPRING_HISTORY, 3 * HOUR) == early


def test_a_loss_before_the_switch_counts_on_its_server_day_when_read_after_it() -> None:
    params = CounterParams(broker_utc_offset_seconds=3 * HOUR)  # the offset now: Monday
    friday_late = _utc(2026, 3, 6, 21, 30, 0)
    monday = _utc(2026, 3, 9, 7, 0, 0)
    friday = server_day(_server(friday_late))
    loss = deal(1, "EURUSD", _server(friday_late), -40.0)  # stamped by the server
    state = apply_deal(RiskState(broker_day=friday), loss,
                       deal_utc(_server(friday_late), SPRING_HISTORY, 3 * HOUR), params)
    assert state.broker_day == friday and state.day_realised_pnl == -40.0
    assert state.last_loss_time["EURUSD"] == friday_late
    win = deal(2, "EURUSD", _server(monday), 25.0)
    state = apply_deal(state, win, deal_utc(_server(monday), SPRING_HISTORY, 3 * HOUR), params)
    assert state.broker_day == server_day(_server(monday)) and state.day_realised_pnl == 25.0


def test_a_bar_window_across_the_spring_switch_is_evenly_spaced_in_utc() -> None:
    """300 M5 bars read on Monday, the oldest from before Sunday's switch: with the measured
    history every bar is 300 s after the previous one; with today's offset alone the bars
    from before the switch would sit an hour early (a one-hour hole in the window)."""
    utc_opens = SPRING - 150 * 300 + 300 * np.arange(300, dtype=float)
    server = np.array([_server(t) for t in utc_opens])
    converted = server_times_to_utc(server, SPRING_HISTORY, 3 * HOUR)
    assert np.array_equal(converted, utc_opens)
    naive = server - 3 * HOUR
    assert np.count_nonzero(naive != utc_opens) == 150  # what the single offset got wrong


@given(st.lists(st.floats(FALL - 3 * 86_400, FALL + 3 * 86_400, allow_nan=False),
                min_size=1, max_size=40))
def test_many_times_at_once_are_converted_as_each_one_alone(times: list[float]) -> None:
    for history in (FALL_HISTORY, SPRING_HISTORY, FALL_HISTORY[:1], ()):
        many = server_times_to_utc(np.array(times), history, 2 * HOUR)
        for time, utc in zip(times, many, strict=True):
            assert utc == _one_by_one(time, history, 2 * HOUR)


def _one_by_one(server_s: float, history: tuple, current: int) -> float:
    """The rule, written out for one time: the later fitting instant, else the latest."""
    if not history:
        return server_s - current
    fits = []
    for index, (after, _by, offset) in enumerate(history):
        starts = -np.inf if index == 0 else after
        ends = history[index + 1][1] if index + 1 < len(history) else np.inf
        if starts < server_s - offset < ends:
            fits.append(server_s - offset)
    return max(fits) if fits else max(server_s - offset for _a, _b, offset in history)


def test_each_rule_names_its_switches_to_the_second() -> None:
    year = (SPRING - 86_400 * 60, FALL + 86_400 * 60)
    assert NEW_YORK_CLOSE.switches(*year) == [(SPRING, 2 * HOUR, 3 * HOUR),
                                              (FALL, 3 * HOUR, 2 * HOUR)]
    athens = parse_server_time("Europe/Athens")  # EU dates: last Sundays, 01:00 UTC
    assert athens.switches(*year) == [(_utc(2026, 3, 29, 1, 0, 0), 2 * HOUR, 3 * HOUR),
                                      (_utc(2026, 10, 25, 1, 0, 0), 3 * HOUR, 2 * HOUR)]
    assert parse_server_time("+02:00").switches(*year) == []
    # The spring switch skips an hour of server time; the autumn one skips none.
    assert NEW_YORK_CLOSE.skipped(SPRING - 86_400, SPRING + 86_400) == [
        (SPRING + 2 * HOUR, SPRING + 3 * HOUR)]
    assert NEW_YORK_CLOSE.skipped(FALL - 86_400, FALL + 86_400) == []


def test_a_bad_rule_is_named_by_its_key() -> None:
    with pytest.raises(ValueError, match=r"broker\.server_time must be 'new-york-close'.*'Mars'"):
        parse_server_time("Mars", "broker.server_time")


def test_before_the_first_measurement_the_rules_switches_shifted_to_what_was_measured() -> None:
    """A broker first measured on Monday after the spring switch: bars and deals from before
    it are read with the rule's winter offset, not the summer one measured; a broker at
    UTC+3/+4 on New York's dates (the rule plus an hour) gets the rule's switches plus an hour."""
    monday = _utc(2026, 3, 9, 7, 0, 0)
    for measured in (3 * HOUR, 4 * HOUR):
        first = (monday, monday, measured)
        history = (*past_switches(NEW_YORK_CLOSE, first), first)
        shift = measured - 3 * HOUR
        friday_late = _utc(2026, 3, 6, 21, 30, 0)
        for utc in (friday_late, SPRING - 10, SPRING + 10, _utc(2025, 11, 2, 3, 0, 0),
                    _utc(2025, 7, 1, 12, 0, 0), monday - 60):
            stamped = utc + NEW_YORK_CLOSE.offset_s(utc) + shift
            assert deal_utc(stamped, history, measured) == utc
        # Without the rule, everything before the measurement took the summer offset.
        naive = friday_late + 2 * HOUR + shift
        assert deal_utc(naive, (first,), measured) == friday_late - HOUR
    assert past_switches(parse_server_time("+02:00"), (monday, monday, 2 * HOUR)) == ()
