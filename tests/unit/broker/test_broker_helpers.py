"""The broker's small helpers: fault switch changes, the resumable market clock, SharedState
requests awaiting replies, and market data from a real (simulated) gateway."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from actors.app.settings import load_settings
from actors.broker.backends import make_backend
from actors.broker.fault_switches import FaultChangeError, checked_fault_changes, fault_switches
from actors.broker.gateway import TIMEFRAMES, Gateway, GatewayError
from actors.broker.market_data import SpecCache, collect_market_data
from actors.broker.sim.config import SimConfig
from actors.broker.sim.faults import FaultConfig
from actors.broker.sim.module import build_module
from actors.broker.sim.terminal import SimTerminal
from actors.broker.sim_clock import SAVE_EVERY_S, MarketTimeFile, resume_sim_clock
from actors.runtime.clock import ManualClock
from tests.unit.broker.conftest import WEDNESDAY_UTC

# --- fault switches ----------------------------------------------------------------------------


def test_fault_changes_are_checked_by_name_type_and_range() -> None:
    assert checked_fault_changes({"disconnect": True, "requote_rate": 1}) == {
        "disconnect": True, "requote_rate": 1.0}
    with pytest.raises(FaultChangeError, match="'nope'"):
        checked_fault_changes({"nope": True})
    with pytest.raises(FaultChangeError, match="disconnect must be true or false"):
        checked_fault_changes({"disconnect": 1})
    with pytest.raises(FaultChangeError, match="call_delay_s must be a number"):
        checked_fault_changes({"call_delay_s": True})
    with pytest.raises(FaultChangeError, match=r"within 0\.\.1"):
        checked_fault_changes({"price_off_rate": 1.5})
    assert fault_switches(FaultConfig(no_money=True))["no_money"] is True
    assert checked_fault_changes({"position_history_timeouts": 2}) == {
        "position_history_timeouts": 2}
    for bad in (2.5, True, "2"):
        with pytest.raises(FaultChangeError, match="position_history_timeouts must be a whole"):
            checked_fault_changes({"position_history_timeouts": bad})
    with pytest.raises(FaultChangeError, match=r"within 0\.\.1000 calls"):
        checked_fault_changes({"position_history_timeouts": 1001})


def test_a_count_down_switch_fails_that_many_reads_of_one_position_only(
        tmp_path: Path) -> None:
    """``position_history_timeouts``: the next reads by position fail with an IPC timeout and
    count the switch down; a read of the history by dates goes on working."""
    terminal = SimTerminal(SimConfig(), tmp_path, ManualClock(WEDNESDAY_UTC + 30.0))
    module = build_module(terminal)
    module.initialize()
    gateway = Gateway(module, kind="sim", on_close=terminal.close)
    terminal.set_faults(position_history_timeouts=2)
    for _ in range(2):
        with pytest.raises(GatewayError, match="IPC timeout"):
            gateway.history_orders_of_position(1)
        assert gateway.history_deals(0.0, WEDNESDAY_UTC) == ()  # by dates: neither failed
    assert terminal.faults.config.position_history_timeouts == 0  # nor counted
    assert gateway.deals_of_position(1) == ()
    gateway.close()


# --- the market clock across restarts --------------------------------------------------------


def test_the_market_clock_resumes_where_it_was_never_before(tmp_path: Path) -> None:
    saved = MarketTimeFile(tmp_path / "t.json", wall=lambda: 0.0)
    assert saved.load() is None
    fast = SimConfig(speed=60.0, start=1_000_000.0)
    saved.save(5_000_000.0)
    clock = resume_sim_clock(fast, saved, wall_now=lambda: 2_000_000.0)
    assert clock.now() >= 5_000_000.0 + SAVE_EVERY_S * 60.0 and clock.speed == 60.0
    later_start = SimConfig(speed=60.0, start=9_000_000.0)  # a start after it still wins
    assert resume_sim_clock(later_start, saved).now() >= 9_000_000.0
    (tmp_path / "t.json").write_text("{not json")
    assert saved.load() is None


@pytest.mark.parametrize("kind", ["sim", "sim-driven", "mt5"])
def test_the_profile_tells_every_role_the_markets_time(tmp_path: Path, kind: str) -> None:
    """What another role computes from the broker's profile is the broker's own market clock:
    a simulated market in the past at 120x, a backtest's driven clock (each role's own clock
    is set by the driver), a real terminal's wall clock."""
    assignments = [f"runtime.data_dir='{tmp_path}'", "sim.start=1704693600",
                   "sim.speed=120"]
    assignments += {"mt5": ["broker.kind='mt5'"], "sim-driven": ["sim.driven=true"]}.get(kind, [])
    settings = load_settings(assignments=assignments, environ={})
    backend = make_backend(settings)
    profile = backend.profile(connected=True, account=None, server_utc_offset_s=7200)
    role_clock = time.time()
    if kind == "sim":
        market = backend.market_clock.now()
        assert market < role_clock - 365 * 86_400  # in the past, years before the wall clock
        assert profile.market_time(role_clock) == pytest.approx(market, abs=1.0)
        later = profile.market_time(role_clock + 10)
        assert later - profile.market_time(role_clock) == pytest.approx(1200)  # 120x
    else:
        assert profile.market_epoch is None
        assert profile.market_time(role_clock) == role_clock


def test_market_time_is_saved_at_most_every_quarter_second_unless_forced(tmp_path: Path) -> None:
    wall = [0.0]
    saved = MarketTimeFile(tmp_path / "t.json", wall=lambda: wall[0])
    saved.save(1.0)
    saved.save(2.0)  # too soon
    assert saved.load() == 1.0
    saved.save(3.0, force=True)
    assert json.loads((tmp_path / "t.json").read_text()) == {"market_time": 3.0}
    wall[0] = SAVE_EVERY_S
    saved.save(4.0)
    assert saved.load() == 4.0


# --- market data --------------------------------------------------------------------------------


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    terminal = SimTerminal(SimConfig(), tmp_path, ManualClock(WEDNESDAY_UTC + 30.0))
    module = build_module(terminal)
    module.initialize()
    gateway = Gateway(module, kind="sim", on_close=terminal.close)
    yield gateway
    gateway.close()


def test_market_data_has_closed_bars_of_every_timeframe_for_many_symbols(gateway: Gateway) -> None:
    symbols = ("EURUSD", "GBPUSD", "XAUUSD")
    data = collect_market_data(gateway, symbols, ("M1", "M5", "H1"), 50, SpecCache())
    assert data.errors == {}
    assert set(data.ticks) == set(data.specs) == set(data.bars) == set(symbols)
    server_now = WEDNESDAY_UTC + 30.0 + 2 * 3600
    for symbol in symbols:
        for timeframe, seconds in (("M1", 60), ("M5", 300), ("H1", 3600)):
            bars = data.bars[symbol][timeframe]
            assert len(bars) == 50 and np.all(np.diff(bars["time"]) > 0)
            forming = server_now // seconds * seconds
            assert bars["time"][-1] == forming - seconds  # the last closed bar, not the forming one
    with_forming = gateway.rates_from_pos("EURUSD", TIMEFRAMES["M1"], 0, 2)
    assert with_forming["time"][1] == server_now // 60 * 60  # what was left out


def test_a_symbol_the_terminal_lacks_is_named_and_the_rest_served(gateway: Gateway) -> None:
    data = collect_market_data(gateway, ("EURUSD", "NOPE"), ("M5",), 10, SpecCache())
    assert set(data.bars) == {"EURUSD"} and "NOPE" in data.errors
    assert data.error_codes["NOPE"] not in (-10004, -10005)


def test_an_unknown_timeframe_fails_the_request(gateway: Gateway) -> None:
    data = collect_market_data(gateway, ("EURUSD",), ("M7",), 10, SpecCache())
    assert data.bars == {} and "unknown timeframe" in data.errors["EURUSD"]


def test_specs_are_cached_for_their_lifetime(gateway: Gateway) -> None:
    now = [0.0]
    cache = SpecCache(ttl_s=60.0, now=lambda: now[0])
    first = cache.get(gateway, "EURUSD")
    assert cache.get(gateway, "EURUSD") is first
    now[0] = 61.0
    assert cache.get(gateway, "EURUSD") is not first
