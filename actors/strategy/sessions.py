"""The four forex sessions (Sydney, Tokyo, London, New York) in their own time zones.

Each session opens and closes at fixed *local* hours on local weekdays, so daylight saving time
moves it in UTC exactly as it moves the real market. (The seed fixed the hours in UTC, which is
an hour wrong for half the year in London and New York and in the opposite half in Sydney.)
:func:`session_states` tells, for one instant, whether each session is open, about to open
(pre-open, within 30 minutes) or closed, and how many seconds remain until that changes; the
dashboard's session clocks show the same result, and :func:`is_trading_session` is the
Strategy's off-session gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_SESSIONS",
    "PRE_OPEN_SECONDS",
    "SessionSpec",
    "SessionState",
    "SessionStatus",
    "is_trading_session",
    "next_session_change",
    "session_state",
    "session_states",
]

PRE_OPEN_SECONDS = 30 * 60
_WEEKDAYS = frozenset({0, 1, 2, 3, 4})


class SessionStatus(StrEnum):
    OPEN = "open"
    PRE_OPEN = "pre-open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """A session: its IANA zone, local opening hours, and the local weekdays it trades
    (Monday = 0). The defaults are the seed's hours read as local time in the northern summer
    (Sydney 21–06, Tokyo 00–09, London 07–16, New York 12–21 UTC)."""

    name: str
    timezone: str
    opens: time
    closes: time
    weekdays: frozenset[int] = _WEEKDAYS

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # an unknown zone fails here, at configuration time
        if self.opens == self.closes:
            raise ValueError(f"session {self.name}: opening and closing times are equal")


DEFAULT_SESSIONS: tuple[SessionSpec, ...] = (
    SessionSpec("Sydney", "Australia/Sydney", time(7, 0), time(16, 0)),
    SessionSpec("Tokyo", "Asia/Tokyo", time(9, 0), time(18, 0)),
    SessionSpec("London", "Europe/London", time(8, 0), time(17, 0)),
    SessionSpec("New York", "America/New_York", time(8, 0), time(17, 0)),
)


@dataclass(frozen=True, slots=True)
class SessionState:
    """One session at one instant. ``seconds_to_change`` counts to the next open (when closed
    or pre-open) or to the close (when open); ``changes_at`` is that instant (epoch s, UTC)."""

    name: str
    timezone: str
    status: SessionStatus
    seconds_to_change: int
    changes_at: float
    local_time: str

    @property
    def is_open(self) -> bool:
        return self.status is SessionStatus.OPEN


def _as_utc(now: float | datetime) -> datetime:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("a naive datetime is ambiguous: pass an aware UTC datetime")
        return now.astimezone(UTC)
    return datetime.fromtimestamp(float(now), tz=UTC)


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time; a time skipped by DST resolves forward."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _intervals(spec: SessionSpec, around: datetime) -> list[tuple[datetime, datetime]]:
    """The session's (open, close) UTC intervals for local days around ``around``."""
    zone = ZoneInfo(spec.timezone)
    local_today = around.astimezone(zone).date()
    intervals = []
    # Back two days for a session that spans midnight, forward far enough to skip a weekend.
    for offset in range(-2, 9):
        day = local_today + timedelta(days=offset)
        if day.weekday() not in spec.weekdays:
            continue
        opens = _local_instant(day, spec.opens, zone)
        close_day = day if spec.closes > spec.opens else day + timedelta(days=1)
        intervals.append((opens, _local_instant(close_day, spec.closes, zone)))
    return intervals


def next_session_change(spec: SessionSpec, now: float | datetime) -> tuple[bool, datetime]:
    """Whether the session is open at ``now``, and the instant that changes."""
    instant = _as_utc(now)
    intervals = _intervals(spec, instant)
    for opens, closes in intervals:
        if opens <= instant < closes:
            # Adjacent intervals (a session open round the clock) merge into one.
            end = closes
            for next_opens, next_closes in intervals:
                if next_opens == end:
                    end = next_closes
            return True, end
    upcoming = [opens for opens, _ in intervals if opens > instant]
    if not upcoming:
        raise ValueError(f"session {spec.name} has no opening within a week of {instant}")
    return False, min(upcoming)


def session_state(
    spec: SessionSpec, now: float | datetime, pre_open_seconds: int = PRE_OPEN_SECONDS
) -> SessionState:
    instant = _as_utc(now)
    is_open, changes_at = next_session_change(spec, instant)
    seconds = int((changes_at - instant).total_seconds())
    if is_open:
        status = SessionStatus.OPEN
    elif seconds <= pre_open_seconds:
        status = SessionStatus.PRE_OPEN
    else:
        status = SessionStatus.CLOSED
    local = instant.astimezone(ZoneInfo(spec.timezone))
    return SessionState(
        name=spec.name,
        timezone=spec.timezone,
        status=status,
        seconds_to_change=seconds,
        changes_at=changes_at.timestamp(),
        local_time=local.strftime("%H:%M"),
    )


def session_states(
    now: float | datetime,
    sessions: tuple[SessionSpec, ...] = DEFAULT_SESSIONS,
    pre_open_seconds: int = PRE_OPEN_SECONDS,
) -> tuple[SessionState, ...]:
    """Every session's state at ``now`` (epoch seconds or an aware datetime)."""
    return tuple(session_state(spec, now, pre_open_seconds) for spec in sessions)


def is_trading_session(
    now: float | datetime,
    allowed: tuple[str, ...] | None = None,
    sessions: tuple[SessionSpec, ...] = DEFAULT_SESSIONS,
) -> bool:
    """True when at least one allowed session (all of them when ``allowed`` is None) is open."""
    if allowed is not None:
        unknown = set(allowed) - {spec.name for spec in sessions}
        if unknown:
            raise ValueError(f"unknown session names: {sorted(unknown)}")
    return any(
        next_session_change(spec, now)[0]
        for spec in sessions
        if allowed is None or spec.name in allowed
    )
