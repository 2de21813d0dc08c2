"""The news filter: a ForexFactory-format calendar served by a local HTTP server (the outside
service), high-impact events only, a window before and after for the symbol's currencies, a
fixed weekly schedule, and a calendar that cannot be read failing closed."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from actors.risk.news import (
    CalendarError,
    NewsParams,
    blackout,
    parse_calendar,
    read_calendar,
    scheduled_events,
)

NFP = datetime(2024, 12, 6, 13, 30, tzinfo=UTC).timestamp()  # a Friday
CALENDAR = [
    {"title": "Non-Farm Employment Change", "country": "USD", "date": "2024-12-06T08:30:00-05:00",
     "impact": "High", "forecast": "200K", "previous": "12K"},
    {"title": "German Factory Orders", "country": "EUR", "date": "2024-12-06T02:00:00-05:00",
     "impact": "Low", "forecast": "", "previous": ""},
]


@pytest.fixture
def calendar_url() -> Iterator[str]:
    body = json.dumps(CALENDAR).encode()

    class Calendar(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Calendar)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ff_calendar_thisweek.json"
    finally:
        server.shutdown()
        server.server_close()


def test_a_high_impact_event_blocks_its_currencies_inside_its_window(calendar_url: str) -> None:
    params = NewsParams(enabled=True, calendar=calendar_url)
    events = read_calendar(params)
    assert [(e.currency, e.time) for e in events] == [("USD", NFP)]  # low impact left out
    assert blackout(events, "EURUSD", NFP - 29 * 60, params).title.startswith("Non-Farm")
    assert blackout(events, "XAUUSD", NFP + 29 * 60, params) is not None
    assert blackout(events, "EURUSD", NFP - 31 * 60, params) is None
    assert blackout(events, "EURGBP", NFP, params) is None  # neither currency is USD


def test_a_fixed_weekly_schedule_is_in_utc() -> None:
    params = NewsParams(enabled=True, schedule=("Fri 13:30 USD",))
    events = scheduled_events(params.schedule, NFP - 3 * 86_400)
    assert blackout(events, "USDJPY", NFP + 60, params) is not None
    with pytest.raises(CalendarError, match="expected 'Fri 13:30 USD'"):
        scheduled_events(("Someday 13:30 USD",), NFP)
    with pytest.raises(CalendarError, match="time must be HH:MM"):
        scheduled_events(("Fri noon USD",), NFP)


def test_a_calendar_that_cannot_be_used_says_where_and_why() -> None:
    with pytest.raises(CalendarError, match="not JSON"):
        parse_calendar("<html>", ("High",), "feed")
    with pytest.raises(CalendarError, match=r"event 0 \('x'\): date 'tomorrow'"):
        parse_calendar(json.dumps([{"title": "x", "impact": "High", "date": "tomorrow"}]),
                       ("High",), "feed")
    with pytest.raises(OSError):
        read_calendar(NewsParams(enabled=True, calendar="http://127.0.0.1:9/none.json",
                                 timeout_s=1.0))
