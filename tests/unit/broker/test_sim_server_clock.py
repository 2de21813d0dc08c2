"""The simulated server's clock: UTC+2/UTC+3 on the New York close, zones, fixed offsets."""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from actors.app.settings import ConfigError, load_settings
from actors.broker.sim import constants as c
from actors.broker.sim import server_utc_offset_at
from actors.broker.sim.config import SimConfig
from actors.broker.sim.module import build_module
from actors.runtime.clock import ManualClock
from tests.unit.broker.conftest import TerminalFactory, market_request

HOUR = 3600
NEW_YORK = ZoneInfo("America/New_York")
# US daylight-saving time in 2024: from 2024-03-10 07:00 UTC to 2024-11-03 06:00 UTC.
MARCH_SWITCH = calendar.timegm((2024, 3, 10, 7, 0, 0))
NOVEMBER_SWITCH = calendar.timegm((2024, 11, 3, 6, 0, 0))


def utc_of_server(config: SimConfig, server_s: float) -> float:
    """The UTC instant a New York close server time stands for (UTC+2 or UTC+3)."""
    (utc,) = [server_s - o for o in (2 * HOUR, 3 * HOUR)
              if server_utc_offset_at(config, server_s - o) == o]  # fmt: skip
    return utc


@pytest.mark.parametrize(
    ("utc", "offset"),
    [
        (MARCH_SWITCH - 1, 2 * HOUR),
        (MARCH_SWITCH, 3 * HOUR),
        (NOVEMBER_SWITCH - 1, 3 * HOUR),
        (NOVEMBER_SWITCH, 2 * HOUR),
        (calendar.timegm((2024, 7, 1, 12, 0, 0)), 3 * HOUR),
        (calendar.timegm((2024, 12, 24, 12, 0, 0)), 2 * HOUR),
        # Before 2007 the US switched on the first Sunday of April and the last of October.
        (calendar.timegm((2006, 4, 2, 6, 59, 59)), 2 * HOUR),
        (calendar.timegm((2006, 4, 2, 7, 0, 0)), 3 * HOUR),
        (calendar.timegm((2006, 10, 29, 6, 0, 0)), 2 * HOUR),
    ],
)
def test_the_default_server_clock_follows_the_new_york_close(utc: int, offset: int) -> None:
    assert SimConfig().server_time == "new-york-close"
    assert server_utc_offset_at(SimConfig(), utc) == offset
    # The server's midnight is 17:00 in New York, whatever the season.
    new_york = datetime.fromtimestamp(utc, UTC).astimezone(NEW_YORK)
    server = datetime.fromtimestamp(utc + offset, UTC)
    assert (server.hour - new_york.hour) % 24 == 7


def test_a_zone_name_or_a_fixed_offset_sets_the_server_clock() -> None:
    athens = SimConfig(server_time="Europe/Athens")
    # The EU switches on the last Sunday of March at 01:00 UTC, three weeks after the US.
    assert server_utc_offset_at(athens, MARCH_SWITCH + 3600) == 2 * HOUR
    assert server_utc_offset_at(athens, calendar.timegm((2024, 3, 31, 1, 0, 0))) == 3 * HOUR
    assert server_utc_offset_at(SimConfig(server_time="UTC"), MARCH_SWITCH) == 0
    assert server_utc_offset_at(SimConfig(server_time="+05:30"), MARCH_SWITCH) == 19_800
    assert server_utc_offset_at(SimConfig(server_time="-03:00"), NOVEMBER_SWITCH) == -3 * HOUR


@pytest.mark.parametrize("value", ["Mars/Olympus", "+15:00", "+02:75", "2", "", "UTC+2"])
def test_a_bad_server_clock_is_refused_by_key_value_and_what_is_allowed(value: str) -> None:
    with pytest.raises(ValueError, match=r"sim\.server_time must be 'new-york-close'") as error:
        SimConfig(server_time=value)
    assert str(error.value).endswith(f"got {value!r}") and "'+02:00'" in str(error.value)
    with pytest.raises(ConfigError, match=r"sim\.server_time"):
        load_settings(assignments=[f"sim.server_time={value}"], environ={})


def test_the_old_fixed_offset_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="server_utc_offset_hours: unknown key"):
        load_settings(assignments=["sim.server_utc_offset_hours=2"], environ={})


def _module(make_terminal: TerminalFactory, clock: ManualClock, utc: float) -> Any:
    clock.set(utc)
    mt5 = build_module(make_terminal())
    assert mt5.initialize()
    return mt5


@pytest.mark.parametrize(
    ("switch", "before", "after"),
    [(MARCH_SWITCH, 2 * HOUR, 3 * HOUR), (NOVEMBER_SWITCH, 3 * HOUR, 2 * HOUR)],
)
def test_every_reported_time_changes_offset_at_the_switch(
    make_terminal: TerminalFactory, clock: ManualClock, switch: int, before: int, after: int
) -> None:
    # Bitcoin trades on Sunday morning, when New York changes its clocks.
    mt5 = _module(make_terminal, clock, switch - 630)
    tick = mt5.symbol_info_tick("BTCUSD")
    assert switch - 630 + before - 60 < tick.time <= switch - 630 + before
    assert mt5.symbol_info("BTCUSD").time == tick.time
    opened = mt5.order_send(market_request(mt5, "BTCUSD", c.ORDER_TYPE_BUY, 0.01))
    assert opened.retcode == c.TRADE_RETCODE_DONE
    (position,) = mt5.positions_get(ticket=opened.order)
    assert position.time_msc == (switch - 630 + before) * 1000

    clock.set(switch + 630)
    tick = mt5.symbol_info_tick("BTCUSD")
    assert switch + 630 + after - 60 < tick.time <= switch + 630 + after
    m1 = mt5.copy_rates_from_pos("BTCUSD", c.TIMEFRAME_M1, 0, 1)
    assert m1[-1]["time"] == (switch + 630 + after) // 60 * 60
    request = market_request(mt5, "BTCUSD", c.ORDER_TYPE_SELL, 0.01, position=opened.order)
    closed = mt5.order_send(request)
    assert closed.retcode == c.TRADE_RETCODE_DONE
    (order,) = mt5.history_orders_get(ticket=closed.order)
    assert order.time_setup == switch + 630 + after
    deals = mt5.history_deals_get(position=opened.order)
    assert [d.time for d in deals] == [switch - 630 + before, switch + 630 + after]
    # History ranges are in the server's clock too (in November, the exit's server time is
    # earlier than the entry's: the clock was set back an hour in between).
    ranged = mt5.history_deals_get(min(d.time for d in deals), max(d.time for d in deals))
    assert [d.ticket for d in ranged if d.position_id == opened.order] == [
        d.ticket for d in deals
    ]


@pytest.mark.parametrize("switch", [MARCH_SWITCH, NOVEMBER_SWITCH])
def test_daily_bars_start_at_the_new_york_close_on_both_sides_of_the_switch(
    make_terminal: TerminalFactory, clock: ManualClock, switch: int
) -> None:
    # Wednesday after the switch: the D1 bars span the weeks before and after it.
    mt5 = _module(make_terminal, clock, switch + 3 * 86_400)
    config = SimConfig()
    daily = mt5.copy_rates_from_pos("EURUSD", c.TIMEFRAME_D1, 0, 10)
    offsets = set()
    for bar in daily:
        assert bar["time"] % 86_400 == 0  # aligned to the server's day
        assert datetime.fromtimestamp(bar["time"], UTC).weekday() < 5  # Monday to Friday
        utc = utc_of_server(config, bar["time"])
        assert datetime.fromtimestamp(utc, UTC).astimezone(NEW_YORK).hour == 17
        offsets.add(bar["time"] - utc)
    assert offsets == {2 * HOUR, 3 * HOUR}
    # The week's first hourly bar opens at server midnight on Monday on both sides.
    hourly = mt5.copy_rates_from_pos("EURUSD", c.TIMEFRAME_H1, 0, 24 * 5)
    opens = [int(t) for t in hourly["time"] if t % 86_400 == 0]
    assert opens and all(datetime.fromtimestamp(t, UTC).weekday() < 5 for t in opens)


def test_in_the_repeated_november_hour_a_new_position_still_meets_its_take_profit(
    make_terminal: TerminalFactory, clock: ManualClock
) -> None:
    clock.set(NOVEMBER_SWITCH - 1800)  # 08:30 server time (UTC+3), Bitcoin trading
    mt5 = build_module(make_terminal(stops_level_scale=0.0))
    assert mt5.initialize()
    clock.set(NOVEMBER_SWITCH + 600)  # 08:10 server time again (UTC+2)
    assert mt5.account_info() is not None  # the books have caught up to 08:30 before this
    tick = mt5.symbol_info_tick("BTCUSD")
    point = mt5.symbol_info("BTCUSD").point
    request = market_request(mt5, "BTCUSD", c.ORDER_TYPE_BUY, 0.01, tp=round(tick.bid + point, 2),
                             sl=round(tick.bid - 50_000 * point, 2))  # fmt: skip
    opened = mt5.order_send(request)
    assert opened.retcode == c.TRADE_RETCODE_DONE
    clock.advance(600)  # still inside the repeated hour
    assert mt5.positions_get(ticket=opened.order) == ()
    exit_ = mt5.history_deals_get(position=opened.order)[-1]
    assert exit_.reason == c.DEAL_REASON_TP
    assert NOVEMBER_SWITCH + 600 + 2 * HOUR <= exit_.time <= NOVEMBER_SWITCH + 1200 + 2 * HOUR


def test_the_hour_the_spring_switch_skips_has_no_bars_and_the_rest_are_dense(
    make_terminal: TerminalFactory, clock: ManualClock
) -> None:
    """A real server's history has nothing stamped in the hour its clock jumps over: Bitcoin's
    M5 bars on the switch Sunday go from 08:55 straight to 10:00 server time, and seen in UTC
    (with the offset of each bar's own time) they are evenly spaced, with no phantom hour."""
    mt5 = _module(make_terminal, clock, MARCH_SWITCH + 2 * HOUR)
    bars = mt5.copy_rates_from_pos("BTCUSD", c.TIMEFRAME_M5, 0, 60)
    times = [int(t) for t in bars["time"]]
    skipped_lo, skipped_hi = MARCH_SWITCH + 2 * HOUR, MARCH_SWITCH + 3 * HOUR
    assert not [t for t in times if skipped_lo <= t < skipped_hi]
    assert skipped_lo - 300 in times and skipped_hi in times
    config = SimConfig()
    utc = [utc_of_server(config, t) for t in times]
    assert {b - a for a, b in itertools.pairwise(utc)} == {300}
    hourly = mt5.copy_rates_from_pos("BTCUSD", c.TIMEFRAME_H1, 0, 6)
    assert skipped_lo not in [int(t) for t in hourly["time"]]
    # The autumn switch skips nothing: its hour shows twice on the server's clock.
    autumn = _module(make_terminal, clock, NOVEMBER_SWITCH + 2 * HOUR)
    hours = [int(t) for t in autumn.copy_rates_from_pos("BTCUSD", c.TIMEFRAME_H1, 0, 8)["time"]]
    assert hours == list(range(hours[0], hours[0] + 8 * HOUR, HOUR))
