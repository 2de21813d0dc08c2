"""A Thespian timer that is almost due still bounds the transport's wait
(``actors/runtime/thespian_timers.py``)."""

from __future__ import annotations

from datetime import timedelta

from thespian.system.timing import ExpirationTimerView

from actors.runtime import thespian_timers


def _view(seconds_left: float | None) -> ExpirationTimerView:
    now = 1000.0
    return ExpirationTimerView(None, None if seconds_left is None else now + seconds_left, now)


def test_thespian_rounds_a_timer_due_within_half_a_microsecond_to_a_falsy_zero() -> None:
    # Why the patch exists: the transport drops falsy delays before it picks select's timeout.
    assert not timedelta(seconds=3e-7)
    assert list(filter(None, [timedelta(seconds=3e-7)])) == []


def test_a_timer_not_yet_expired_reports_at_least_a_microsecond() -> None:
    thespian_timers.install()
    left = _view(3e-7).remaining()
    assert left and left >= timedelta(microseconds=1)
    assert not _view(3e-7).expired()
    assert list(filter(None, [_view(3e-7).remaining()])) == [timedelta(microseconds=1)]


def test_other_timers_report_what_they_did() -> None:
    thespian_timers.install()
    assert _view(2.5).remaining() == timedelta(seconds=2.5)
    assert _view(-1.0).remaining() == timedelta(0)
    assert _view(0.0).remaining() == timedelta(0)
    assert _view(None).remaining() is None
    assert _view(None).remaining(forever="forever") == "forever"
    assert _view(2.5).remainingSeconds() == 2.5
