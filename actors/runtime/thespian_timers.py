"""Make a Thespian timer that is almost due still bound the transport's wait.

Thespian's TCP transport waits in ``select`` for the smallest of its pending delays, after
dropping every delay that is falsy (``filter(None, delays)``). Those delays are
``ExpirationTimerView.remaining()``, a ``timedelta``, which rounds to the microsecond: a
``wakeupAfter`` due in less than half a microsecond, not yet expired (so the loop does not
stop for it), becomes ``timedelta(0)``, is dropped, and the transport then waits with no
timeout at all. An actor that only its timers drive (the benchmarks' event producer, any poll
loop between messages) sleeps until some message happens to arrive: the bench producer's
300 s hang (issue 12), with its next tick still pending and ``select`` called with no timeout.

:func:`install` makes ``remaining()`` of a timer that has not expired at least one
microsecond; an expired timer still reports zero and a timer without end still reports its
``forever``. Like the other patches it runs before the ActorSystem starts, so that the admin,
the logger and every actor (all forked from there) keep it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from thespian.system import timing

__all__ = ["install", "remaining"]

_ONE_MICROSECOND = timedelta(microseconds=1)


def remaining(view: Any, forever: Any = None) -> Any:
    """``ExpirationTimerView.remaining``, never zero before the timer expires."""
    if view._time_to_quit is None:
        return forever
    seconds = view._time_to_quit - view._current_time
    if seconds <= 0:
        return timedelta(0)
    return max(timedelta(seconds=seconds), _ONE_MICROSECOND)


def install() -> None:
    """Patch Thespian's timer views in this process (and every process forked from it)."""
    timing.ExpirationTimerView.remaining = remaining  # type: ignore[method-assign]
