"""The simulated market: determinism, bars and ticks, sessions, spreads, replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from actors.broker.sim import constants as c
from actors.broker.sim.market import SimulatedMarket
from actors.broker.sim.module import build_module
from actors.broker.sim.universe import DEFAULT_UNIVERSE
from actors.runtime.clock import ManualClock
from tests.unit.broker.conftest import (
    DAY_S,
    SATURDAY_UTC,
    SERVER_OFFSET_S,
    WEDNESDAY_UTC,
    TerminalFactory,
)

TIMEFRAMES = {1: c.TIMEFRAME_M1, 5: c.TIMEFRAME_M5, 60: c.TIMEFRAME_H1}

NOW_MS = int((WEDNESDAY_UTC + SERVER_OFFSET_S) * 1000)


def test_same_seed_same_times_same_prices_in_any_order() -> None:
    first = SimulatedMarket(seed=7, universe=DEFAULT_UNIVERSE)
    second = SimulatedMarket(seed=7, universe=DEFAULT_UNIVERSE)
    other = SimulatedMarket(seed=8, universe=DEFAULT_UNIVERSE)
    later = NOW_MS + 3 * 3_600_000
    a = [first.visible_bars("GBPUSD", c.TIMEFRAME_M5, t, 50) for t in (NOW_MS, later)]
    # Ask the second market in another order, and for other symbols first.
    second.quote("XAUUSD", later)
    b = [second.visible_bars("GBPUSD", c.TIMEFRAME_M5, t, 50) for t in (later, NOW_MS)][::-1]
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    assert first.quote("EURJPY", later) == second.quote("EURJPY", later)
    assert not np.array_equal(a[0], other.visible_bars("GBPUSD", c.TIMEFRAME_M5, NOW_MS, 50))


def test_crosses_stay_consistent_with_their_legs() -> None:
    market = SimulatedMarket(seed=3, universe=DEFAULT_UNIVERSE)
    eurusd = market.visible_bars("EURUSD", c.TIMEFRAME_H1, NOW_MS, 100)["close"]
    gbpusd = market.visible_bars("GBPUSD", c.TIMEFRAME_H1, NOW_MS, 100)["close"]
    eurgbp = market.visible_bars("EURGBP", c.TIMEFRAME_H1, NOW_MS, 100)["close"]
    # Closed bars end on a minute's close, which all three share; the unfinished bar's last
    # ticks are each symbol's own.
    assert np.allclose(eurusd[:-1] / gbpusd[:-1], eurgbp[:-1], rtol=5e-5)


@pytest.mark.parametrize(
    "timeframe", [c.TIMEFRAME_M1, c.TIMEFRAME_M5, c.TIMEFRAME_H1, c.TIMEFRAME_H4, c.TIMEFRAME_D1]
)
def test_history_at_start_and_the_unfinished_last_bar(
    mt5: Any, clock: ManualClock, timeframe: int
) -> None:
    seconds = c.TIMEFRAME_SECONDS[timeframe]
    wanted = 260 if timeframe != c.TIMEFRAME_D1 else 100
    closed = mt5.copy_rates_from_pos("EURUSD", timeframe, 1, wanted)
    assert len(closed) == wanted
    rates = mt5.copy_rates_from_pos("EURUSD", timeframe, 0, wanted + 1)
    assert np.array_equal(rates[:-1], closed)
    assert np.all(np.diff(rates["time"]) > 0) and np.all(rates["time"] % 60 == 0)
    now_server = clock.now() + SERVER_OFFSET_S
    last = rates[-1]
    assert last["time"] <= now_server < last["time"] + seconds
    clock.advance(20)
    moved = mt5.copy_rates_from_pos("EURUSD", timeframe, 0, 2)
    assert moved[-1]["time"] == last["time"]
    assert moved[-1]["tick_volume"] > last["tick_volume"]
    assert moved[-1]["close"] == mt5.symbol_info_tick("EURUSD").bid
    assert np.array_equal(moved[:1], closed[-1:])


def test_weekly_and_monthly_bars(mt5: Any) -> None:
    weekly = mt5.copy_rates_from_pos("EURUSD", c.TIMEFRAME_W1, 0, 10)
    assert len(weekly) == 10
    days = weekly["time"] // DAY_S
    assert np.all((days + 4) % 7 == c.DAY_OF_WEEK_SUNDAY)
    monthly = mt5.copy_rates_from_pos("EURUSD", c.TIMEFRAME_MN1, 0, 3)
    assert [str(np.datetime64(int(t), "s"))[8:10] for t in monthly["time"]] == ["01"] * 3


def test_bars_agree_with_ticks(mt5: Any) -> None:
    from datetime import UTC, datetime

    bars = mt5.copy_rates_from_pos("USDJPY", c.TIMEFRAME_M1, 1, 30)
    for bar in bars[-5:]:
        start = datetime.fromtimestamp(int(bar["time"]), UTC)
        end = datetime.fromtimestamp(int(bar["time"]) + 59, UTC)
        ticks = mt5.copy_ticks_range("USDJPY", start, end, c.COPY_TICKS_ALL)
        assert len(ticks) == bar["tick_volume"]
        assert ticks["bid"][0] == bar["open"] and ticks["bid"][-1] == bar["close"]
        assert ticks["bid"].max() == bar["high"] and ticks["bid"].min() == bar["low"]
        spreads = np.rint((ticks["ask"] - ticks["bid"]) / 0.001)
        assert spreads.min() == bar["spread"]


def test_spreads_widen_at_rollover_and_sessions_close(mt5: Any) -> None:
    bars = mt5.copy_rates_from_pos("EURUSD", c.TIMEFRAME_M1, 1, 5000)
    minute = (bars["time"] % DAY_S) // 60
    rollover = bars["spread"][(minute >= 23 * 60 + 50) | (minute < 10)]
    liquid = bars["spread"][(minute >= 15 * 60) & (minute < 19 * 60)]
    assert rollover.mean() > 2.5 * liquid.mean()
    weekday = (bars["time"] // DAY_S + 4) % 7
    assert not np.any(np.isin(weekday, [c.DAY_OF_WEEK_SATURDAY, c.DAY_OF_WEEK_SUNDAY]))
    gold = mt5.copy_rates_from_pos("XAUUSD", c.TIMEFRAME_M1, 1, 3000)
    assert not np.any((gold["time"] % DAY_S) // 60 < 60)  # daily break before 01:00


def test_volatility_regimes_vary() -> None:
    market = SimulatedMarket(seed=11, universe=DEFAULT_UNIVERSE)
    daily = market.visible_bars("EURUSD", c.TIMEFRAME_D1, NOW_MS, 300)
    ranges = (daily["high"] - daily["low"]) / daily["close"]
    monthly = [ranges[i : i + 20].mean() for i in range(0, len(ranges) - 20, 20)]
    assert max(monthly) > 1.4 * min(monthly)


def test_replay_of_an_mt5_csv_export(make_terminal: TerminalFactory, tmp_path: Path) -> None:
    lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    price = 1.10000
    rng = np.random.default_rng(0)
    # Two weeks of M5 bars starting Monday 2024-01-08 00:00 server time.
    start = np.datetime64("2024-01-08T00:00:00")
    for i in range(14 * 288):
        stamp = start + np.timedelta64(5 * i, "m")
        day = (stamp.astype("datetime64[D]").astype(int) + 4) % 7
        if day in (0, 6):
            continue
        o = price
        c_ = round(o + rng.normal(0, 0.0003), 5)
        h, lo = round(max(o, c_) + 0.0001, 5), round(min(o, c_) - 0.0001, 5)
        text = str(stamp).replace("-", ".").replace("T", "\t")
        lines.append(f"{text}\t{o:.5f}\t{h:.5f}\t{lo:.5f}\t{c_:.5f}\t40\t0\t7")
        price = c_
    path = tmp_path / "EURUSD_M5_202401080000_202401192355.csv"
    path.write_text("\n".join(lines) + "\n")
    terminal = make_terminal(replay_csv=str(path), replay_warmup_days=3)
    mt5 = build_module(terminal)
    mt5.initialize()
    rates = mt5.copy_rates_from_pos("EURUSD", c.TIMEFRAME_M5, 1, 100)
    assert len(rates) == 100
    assert np.all(np.diff(rates["time"]) == 300) or np.all(np.diff(rates["time"]) >= 300)
    shift = terminal.account.replay_shift_s
    assert shift % (7 * DAY_S) == 0
    original = {
        int((np.datetime64(row.split("\t")[0].replace(".", "-") + "T" + row.split("\t")[1]))
            .astype("datetime64[s]").astype(int)) + shift: row.split("\t")
        for row in lines[1:]
    }  # fmt: skip
    for bar in rates[-20:]:
        row = original[int(bar["time"])]
        assert (bar["open"], bar["high"], bar["low"], bar["close"]) == tuple(
            float(x) for x in row[2:6]
        )
        assert bar["spread"] == 7
    assert (
        mt5.order_send(
            {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "type_filling": 0}
        ).retcode
        == c.TRADE_RETCODE_DONE
    )


def test_the_quote_at_a_minute_boundary_is_the_last_tick_of_the_drawn_block() -> None:
    """A bar-by-bar clock asks for quotes at minute boundaries, where the last tick of the
    minute before is current: the quote is computed without drawing that minute's whole tick
    block, and is exactly the block's last tick (time, bid, ask and flags), whichever is
    asked first."""
    start_ms = int((WEDNESDAY_UTC + SERVER_OFFSET_S) * 1000) // 60_000 * 60_000
    quick = SimulatedMarket(seed=5, universe=DEFAULT_UNIVERSE)
    drawn = SimulatedMarket(seed=5, universe=DEFAULT_UNIVERSE)  # tick caches of its own
    checked = 0
    for symbol in ("EURUSD", "USDJPY", "XAUUSD", "BTCUSD", "US500"):
        for minute in range(0, 600, 7):
            at = start_ms + minute * 60_000
            ticks = drawn.ticks_between(symbol, at - 60_000, at, at)
            quote = quick.quote(symbol, at)
            if not len(ticks):
                continue
            last = ticks[-1]
            assert quote is not None
            assert (quote.time_msc, quote.bid, quote.ask, quote.flags) == (
                int(last["time_msc"]), round(float(last["bid"]) / quick.spec(symbol).point),
                round(float(last["ask"]) / quick.spec(symbol).point), int(last["flags"]))
            # The block drawn after the quote is the same block.
            assert quick.ticks_between(symbol, at - 60_000, at, at).tobytes() == \
                ticks.tobytes()
            checked += 1
    assert checked > 200


def test_has_partial_bar_says_whether_visible_bars_shows_the_forming_bar() -> None:
    market = SimulatedMarket(seed=9, universe=DEFAULT_UNIVERSE)
    start_ms = int((SATURDAY_UTC - DAY_S / 2 + SERVER_OFFSET_S) * 1000) // 60_000 * 60_000
    answers = set()
    for symbol in ("EURUSD", "BTCUSD", "US500"):
        for step in range(0, 48 * 60, 13):
            at = start_ms + step * 60_000 + (step % 3) * 100  # on and off minute boundaries
            for minutes in (1, 5, 60):
                opened = at // 60_000 // minutes * minutes
                rows = market.visible_bars(symbol, TIMEFRAMES[minutes], at, 2)
                shown = bool(len(rows)) and int(rows["time"][-1]) == opened * 60
                assert market.has_partial_bar(symbol, opened, at) == shown, (symbol, at)
                answers.add(shown)
    assert answers == {True, False}


def test_day_rows_are_found_as_searchsorted_finds_them() -> None:
    """DayBars looks rows up by bisecting a plain copy of its minutes: the same answers as
    np.searchsorted on the array, on full days, a weekend's and an empty one."""
    market = SimulatedMarket(seed=3, universe=DEFAULT_UNIVERSE)
    day = int(WEDNESDAY_UTC // DAY_S)
    for symbol, offset in (("EURUSD", 0), ("EURUSD", 3), ("US500", 0), ("BTCUSD", 4)):
        bars = market.day_bars(symbol, day + offset)
        for minute in (-1, *range(0, 1441, 7), 1439, 1440, 2000):
            assert bars.rows_before(minute) == int(np.searchsorted(bars.minute, minute))
            hit = bars.minute == minute
            assert bars.row_of(minute) == (int(np.flatnonzero(hit)[0]) if hit.any() else -1)
    empty = market.day_bars("EURUSD", 0)  # before the first simulated day
    assert (empty.rows_before(5), empty.row_of(5)) == (0, -1)
