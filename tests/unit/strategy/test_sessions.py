"""Forex sessions in their own time zones: DST edges, weekends, pre-open and countdowns."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.strategy.sessions import (
    DEFAULT_SESSIONS,
    SessionSpec,
    SessionStatus,
    is_trading_session,
    next_session_change,
    session_state,
    session_states,
)

SPECS = {spec.name: spec for spec in DEFAULT_SESSIONS}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def state(name: str, when: str):
    return session_state(SPECS[name], utc(when))


def test_london_opens_at_0700_utc_in_summer_and_0800_in_winter():
    assert state("London", "2024-07-10T07:00:00").status is SessionStatus.OPEN
    assert state("London", "2024-07-10T06:59:00").status is SessionStatus.PRE_OPEN
    assert state("London", "2024-07-10T06:59:00").seconds_to_change == 60
    winter = state("London", "2024-01-10T07:30:00")
    assert winter.status is SessionStatus.PRE_OPEN and winter.seconds_to_change == 1800
    assert state("London", "2024-01-10T08:00:00").status is SessionStatus.OPEN
    assert state("London", "2024-01-10T16:59:59").status is SessionStatus.OPEN
    assert state("London", "2024-01-10T17:00:00").status is SessionStatus.CLOSED
    assert state("London", "2024-07-10T16:00:00").status is SessionStatus.CLOSED


def test_new_york_in_the_weeks_when_only_america_has_switched():
    # The US moved to EDT on 10 March 2024, the UK only on 31 March.
    before = state("New York", "2024-03-08T12:30:00")  # Friday, EST: opens 13:00 UTC
    assert before.status is SessionStatus.PRE_OPEN and before.seconds_to_change == 1800
    during = state("New York", "2024-03-12T12:00:00")  # Tuesday, EDT: opens 12:00 UTC
    assert during.status is SessionStatus.OPEN
    assert state("London", "2024-03-12T08:00:00").status is SessionStatus.OPEN  # still GMT
    # In autumn the UK switches back first (27 Oct), the US a week later (3 Nov).
    assert state("London", "2024-10-29T07:30:00").status is SessionStatus.PRE_OPEN
    assert state("New York", "2024-10-29T12:00:00").status is SessionStatus.OPEN
    assert state("New York", "2024-11-05T12:00:00").status is SessionStatus.CLOSED
    assert state("New York", "2024-11-05T13:00:00").status is SessionStatus.OPEN


def test_the_countdown_crosses_a_dst_switch_in_real_seconds():
    # Friday 8 March 2024 22:00 UTC (17:00 EST) to Monday 11 March 12:00 UTC (08:00 EDT):
    # 62 hours, one fewer than the wall clocks in New York show.
    friday_close = state("New York", "2024-03-08T22:00:00")
    assert friday_close.status is SessionStatus.CLOSED
    assert friday_close.seconds_to_change == 62 * 3600
    assert friday_close.changes_at == utc("2024-03-11T12:00:00").timestamp()


def test_sydney_is_on_daylight_time_in_the_northern_winter():
    # AEDT (UTC+11) in January: Monday 07:00 local is Sunday 20:00 UTC.
    assert state("Sydney", "2024-01-14T20:00:00").status is SessionStatus.OPEN
    assert state("Sydney", "2024-01-14T19:45:00").status is SessionStatus.PRE_OPEN
    # AEST (UTC+10) in July: Monday 07:00 local is Sunday 21:00 UTC.
    assert state("Sydney", "2024-07-14T20:45:00").status is SessionStatus.PRE_OPEN
    assert state("Sydney", "2024-07-14T21:00:00").status is SessionStatus.OPEN


def test_weekends_are_closed_everywhere():
    saturday = session_states(utc("2024-07-13T12:00:00"))
    assert all(item.status is SessionStatus.CLOSED for item in saturday)
    assert not is_trading_session(utc("2024-07-13T12:00:00"))
    assert is_trading_session(utc("2024-07-10T12:00:00"))


def test_allowed_sessions_restrict_the_gate():
    tokyo_only = ("Tokyo",)
    assert is_trading_session(utc("2024-07-10T03:00:00"), tokyo_only)
    assert not is_trading_session(utc("2024-07-10T14:00:00"), tokyo_only)
    with pytest.raises(ValueError):
        is_trading_session(utc("2024-07-10T14:00:00"), ("Frankfurt",))


def test_states_report_local_time_and_accept_epoch_seconds():
    when = utc("2024-07-10T12:00:00")
    by_epoch = session_states(when.timestamp())
    assert by_epoch == session_states(when)
    assert {item.name: item.local_time for item in by_epoch} == {
        "Sydney": "22:00",
        "Tokyo": "21:00",
        "London": "13:00",
        "New York": "08:00",
    }


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        session_states(datetime(2024, 7, 10, 12))  # naive
    with pytest.raises(ValueError):
        SessionSpec("X", "Europe/London", time(8), time(8))
    with pytest.raises(KeyError):
        SessionSpec("X", "Mars/Olympus", time(8), time(9))


def test_a_session_over_midnight():
    night = SessionSpec("Night", "Europe/London", time(22), time(2))
    assert session_state(night, utc("2024-01-10T23:00:00")).status is SessionStatus.OPEN
    assert session_state(night, utc("2024-01-11T01:59:00")).status is SessionStatus.OPEN
    assert session_state(night, utc("2024-01-11T02:00:00")).status is SessionStatus.CLOSED


@settings(max_examples=150, deadline=None)
@given(
    instant=st.integers(
        int(utc("2020-01-01T00:00:00").timestamp()), int(utc("2030-12-31T00:00:00").timestamp())
    ),
    spec=st.sampled_from(DEFAULT_SESSIONS),
)
def test_property_the_state_holds_until_the_announced_change(instant, spec):
    is_open, changes_at = next_session_change(spec, instant)
    seconds = changes_at.timestamp() - instant
    assert 0 < seconds <= 4 * 86_400  # a weekend at most, plus a day
    assert next_session_change(spec, changes_at.timestamp() - 1)[0] == is_open
    assert next_session_change(spec, changes_at.timestamp())[0] != is_open
    if is_open:
        assert seconds <= 9 * 3600  # sessions are nine hours long, DST or not
