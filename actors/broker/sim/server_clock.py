"""The simulated trade server's clock: which UTC offset is in force at each instant.

MT5 stamps every time it reports (ticks, bars, deals, orders, positions) with the broker
server's wall clock, encoded as if it were UTC (reference mt5_api.md §8.3). ``sim.server_time``
says what that clock is, as a rule of :mod:`messages.server_time` (``"new-york-close"``, the
default: UTC+2, UTC+3 while US daylight-saving time is in force; an IANA zone; a fixed offset).

When the offset falls back (November), the server's clock shows the same hour twice; a symbol
that trades then (crypto, on Sunday morning) sees that hour's server times (and, the market
being a function of server time, its prices) again, as on a real server whose clock is set
back; the terminal's triggers follow the clock back (``triggers.py``). In spring the server's
clock skips an hour, and that hour of server time has no bars and no ticks (the market leaves
it out, as a real server's history has nothing stamped then; its price move shows as a gap).

:func:`server_utc_offset_at` is what other roles call to turn a simulated server time into UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messages.server_time import parse_server_time

if TYPE_CHECKING:
    from actors.broker.sim.config import SimConfig

__all__ = ["server_utc_offset_at"]


def server_utc_offset_at(config: SimConfig, epoch_s: float) -> int:
    """How far the simulated server's clock is ahead of UTC (seconds) at the UTC instant
    ``epoch_s``: subtract it from a server time of that instant to get UTC."""
    return parse_server_time(config.server_time).offset_s(epoch_s)
