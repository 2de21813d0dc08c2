"""The simulated trade server's clock: which UTC offset is in force at each instant.

MT5 stamps every time it reports (ticks, bars, deals, orders, positions) with the broker
server's wall clock, encoded as if it were UTC (reference mt5_api.md §8.3). ``sim.server_time``
says what that clock is:

- ``"new-york-close"`` (the default): UTC+2, and UTC+3 while US daylight-saving time is in
  force, the convention of most FX brokers. The server's midnight is 17:00 in New York all year
  round, so the trading week is Monday 00:00 to Friday 24:00 server time, with five daily bars.
  The switch happens when New York's clocks change (02:00 local on the second Sunday of March
  and the first Sunday of November since 2007; the first Sunday of April and the last Sunday of
  October before), so the offset changes at the same instant as a real broker's.
- an IANA zone name, e.g. ``"Europe/Athens"`` or ``"UTC"``: that zone's offset at the instant
  (from the system's time-zone database).
- a fixed offset ``"+HH:MM"`` or ``"-HH:MM"``, e.g. ``"+02:00"``, within -14:00..+14:00.

When the offset falls back (November), the server's clock shows the same hour twice; a symbol
that trades then (crypto, on Sunday morning) sees that hour's server times (and, the market
being a function of server time, its prices) again, as on a real server whose clock is set
back; the terminal's triggers follow the clock back (``triggers.py``). In spring the server's
clock skips an hour.

:func:`server_utc_offset_at` is what other roles call to turn a simulated server time into UTC.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from actors.broker.sim.config import SimConfig

__all__ = [
    "NEW_YORK_CLOSE",
    "ServerTime",
    "parse_server_time",
    "server_utc_offset_at",
    "us_dst_interval",
]

NEW_YORK_CLOSE = "new-york-close"
_HOUR_S = 3600
_FIXED = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_ALLOWED = (
    f"'{NEW_YORK_CLOSE}' (UTC+2, UTC+3 while US daylight-saving time is in force), an IANA "
    "zone name such as 'Europe/Athens', or a fixed offset such as '+02:00' (-14:00..+14:00)"
)


def _nth_sunday(year: int, month: int, n: int) -> int:
    """Day of the month of the ``n``-th Sunday (``n`` = -1: the last one)."""
    weeks = calendar.monthcalendar(year, month)
    sundays = [week[calendar.SUNDAY] for week in weeks if week[calendar.SUNDAY]]
    return sundays[n if n < 0 else n - 1]


@lru_cache(maxsize=256)
def us_dst_interval(year: int) -> tuple[int, int]:
    """The UTC epoch seconds at which US daylight-saving time starts and ends in ``year``
    (02:00 local time: 07:00 UTC at the start, 06:00 UTC at the end)."""
    if year >= 2007:
        start_day, end_day = _nth_sunday(year, 3, 2), _nth_sunday(year, 11, 1)
        start_month, end_month = 3, 11
    else:
        start_day, end_day = _nth_sunday(year, 4, 1), _nth_sunday(year, 10, -1)
        start_month, end_month = 4, 10
    start = calendar.timegm((year, start_month, start_day, 7, 0, 0))
    end = calendar.timegm((year, end_month, end_day, 6, 0, 0))
    return start, end


class ServerTime:
    """One server clock rule; :meth:`offset_s` is the offset in force at a UTC instant."""

    def __init__(self, setting: str) -> None:
        self.setting = setting
        self._fixed: int | None = None
        self._zone: ZoneInfo | None = None
        match = _FIXED.match(setting)
        if setting == NEW_YORK_CLOSE:
            return
        if match is not None:
            sign, hours, minutes = match.groups()
            offset = (int(hours) * 60 + int(minutes)) * 60 * (-1 if sign == "-" else 1)
            if int(minutes) >= 60 or abs(offset) > 14 * _HOUR_S:
                raise ValueError(f"sim.server_time must be {_ALLOWED}, got {setting!r}")
            self._fixed = offset
            return
        try:
            self._zone = ZoneInfo(setting)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"sim.server_time must be {_ALLOWED}, got {setting!r}") from None

    def offset_s(self, utc_s: float) -> int:
        """Server time minus UTC, in seconds, at the UTC instant ``utc_s`` (epoch seconds)."""
        if self._fixed is not None:
            return self._fixed
        if self._zone is not None:
            moment = datetime.fromtimestamp(utc_s, UTC).astimezone(self._zone)
            offset = moment.utcoffset()
            return int(offset.total_seconds()) if offset is not None else 0
        start, end = us_dst_interval(datetime.fromtimestamp(utc_s, UTC).year)
        return 3 * _HOUR_S if start <= utc_s < end else 2 * _HOUR_S

    def __repr__(self) -> str:
        return f"ServerTime({self.setting!r})"


@lru_cache(maxsize=32)
def parse_server_time(setting: str) -> ServerTime:
    """The clock rule for a ``sim.server_time`` value, or a ValueError saying what is allowed."""
    if not isinstance(setting, str) or not setting.strip():
        raise ValueError(f"sim.server_time must be {_ALLOWED}, got {setting!r}")
    return ServerTime(setting.strip())


def server_utc_offset_at(config: SimConfig, epoch_s: float) -> int:
    """How far the simulated server's clock is ahead of UTC (seconds) at the UTC instant
    ``epoch_s``: subtract it from a server time of that instant to get UTC."""
    return parse_server_time(config.server_time).offset_s(epoch_s)
