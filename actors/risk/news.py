"""The news filter: no new entries around high-impact economic events for a symbol's currencies.

As the seed did, from an economic calendar in the ForexFactory weekly JSON format (a list of
``{"title", "country", "date", "impact", ...}``; ``country`` is the currency, ``date`` an ISO
time with its offset), read from a URL or a file, plus a fixed weekly schedule in the
configuration (``"Fri 13:30 USD"``, UTC). :func:`blackout` says which event, if any, puts a
symbol in its window now. Only :func:`read_calendar` does I/O (bounded by a timeout).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from actors.risk.rules import symbol_currencies

__all__ = ["CalendarError", "NewsEvent", "NewsParams", "blackout", "parse_calendar",
           "read_calendar", "scheduled_events"]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class NewsParams:
    """Off by default. ``calendar`` is a URL (http/https) or a file path of ForexFactory weekly
    JSON; ``schedule`` holds fixed weekly events, ``"Fri 13:30 USD"`` (UTC). With
    ``fail_closed``, a calendar that cannot be read blocks new entries (as an unknown news
    status must)."""

    enabled: bool = False
    calendar: str | None = None
    impacts: tuple[str, ...] = ("High",)
    minutes_before: float = 30.0
    minutes_after: float = 30.0
    schedule: tuple[str, ...] = ()
    fail_closed: bool = True
    refresh_minutes: float = 60.0
    timeout_s: float = 5.0


@dataclass(frozen=True, slots=True, order=True)
class NewsEvent:
    time: float
    """UTC epoch seconds."""
    currency: str
    title: str = field(compare=False)
    impact: str = field(default="High", compare=False)


class CalendarError(ValueError):
    """A calendar that cannot be used, with where and why."""


def parse_calendar(text: str, impacts: Sequence[str], source: str = "calendar") -> list[NewsEvent]:
    """The events of ``impacts`` in a ForexFactory weekly JSON text, oldest first."""
    try:
        rows = json.loads(text)
    except ValueError as error:
        raise CalendarError(f"{source}: not JSON ({error})") from None
    if not isinstance(rows, list):
        raise CalendarError(f"{source}: expected a list of events, got {type(rows).__name__}")
    wanted = {impact.lower() for impact in impacts}
    events = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise CalendarError(f"{source}: event {index} is not an object")
        if str(row.get("impact", "")).lower() not in wanted:
            continue
        try:
            when = datetime.fromisoformat(str(row["date"]))
        except (KeyError, ValueError) as error:
            raise CalendarError(f"{source}: event {index} ({row.get('title')!r}): date "
                                f"{row.get('date')!r} is not an ISO time ({error})") from None
        if when.tzinfo is None:
            raise CalendarError(f"{source}: event {index}: date {row['date']!r} has no offset")
        events.append(NewsEvent(when.timestamp(), str(row.get("country", "")).upper(),
                                str(row.get("title", "")), str(row.get("impact", ""))))
    return sorted(events)


def scheduled_events(schedule: Iterable[str], now: float) -> list[NewsEvent]:
    """This week's and next week's occurrences of the fixed schedule around ``now``."""
    events = []
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    for entry in schedule:
        parts = entry.split()
        if len(parts) != 3 or parts[0][:3].lower() not in _WEEKDAYS:
            raise CalendarError(f"risk.news.schedule: {entry!r}: expected 'Fri 13:30 USD'")
        hours, _, minutes = parts[1].partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise CalendarError(f"risk.news.schedule: {entry!r}: time must be HH:MM (UTC)")
        day = _WEEKDAYS.index(parts[0][:3].lower())
        for week in (-1, 0, 1):
            at = monday + timedelta(days=day + 7 * week, hours=int(hours), minutes=int(minutes))
            events.append(NewsEvent(at.timestamp(), parts[2].upper(), f"scheduled {entry}"))
    return sorted(events)


def blackout(events: Iterable[NewsEvent], symbol: str, now: float,
             params: NewsParams) -> NewsEvent | None:
    """The event whose window (``minutes_before`` … ``minutes_after``) holds ``now`` for one of
    ``symbol``'s currencies, or None."""
    currencies = symbol_currencies(symbol)
    if currencies is None:
        return None
    before, after = params.minutes_before * 60.0, params.minutes_after * 60.0
    for event in events:
        if event.currency in currencies and event.time - before <= now <= event.time + after:
            return event
    return None


def read_calendar(params: NewsParams) -> list[NewsEvent]:
    """Fetch (http/https, within ``timeout_s``) or read the configured calendar."""
    source = params.calendar or ""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=params.timeout_s) as response:
            text = response.read(5_000_000).decode("utf-8", errors="replace")
    else:
        with open(source, encoding="utf-8") as file:
            text = file.read(5_000_000)
    return parse_calendar(text, params.impacts, source)
