"""The Strategy's scan step without an actor: the broker's data becomes the strategy's market
(closed bars, UTC by the broker's clock), and its answer a scanner reason."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from actors.strategy.api import Market, NoSignal, Side, Signal, Strategy
from actors.strategy.cycle import scan_one
from messages.market import SymbolSpecRecord, TickRecord
from messages.trading import MarketData

BARS_DTYPE = [("time", "i8"), ("open", "f8"), ("high", "f8"), ("low", "f8"), ("close", "f8"),
              ("tick_volume", "i8"), ("spread", "i4"), ("real_volume", "i8")]
OFFSET = 7200.0
_ZERO = {"int": 0, "float": 0.0, "str": "", "bool": False}
EURUSD = SymbolSpecRecord(**{f.name: _ZERO[str(f.type)]
                             for f in dataclasses.fields(SymbolSpecRecord)})
NOW = 1_733_220_000.0  # UTC, on a 5-minute boundary


class Seen(Strategy):
    """Remembers what it was shown; answers what it is told to."""

    def __init__(self, answer: object) -> None:
        super().__init__()
        self.answer = answer
        self.market: Market | None = None

    def scan(self, market: Market):  # type: ignore[override]
        self.market = market
        return self.answer


def _data(symbol: str = "EURUSD", **extra: object) -> MarketData:
    # Three M5 bars on the server's clock (UTC+2), the last one still forming at NOW.
    opens = [NOW - 900 + OFFSET, NOW - 600 + OFFSET, NOW - 300 + OFFSET, NOW + OFFSET]
    rates = np.array([(int(t), 1.1, 1.2, 1.0, 1.15, 1, 1, 0) for t in opens], dtype=BARS_DTYPE)
    return MarketData("r", NOW, {}, {}, {symbol: {"M5": rates}},
                      server_utc_offset_s=OFFSET, **extra)


def test_the_strategy_sees_closed_bars_in_utc_by_the_brokers_clock() -> None:
    strategy = Seen(NoSignal("NO SETUP: flat"))
    result = scan_one(strategy, _data(), "EURUSD")
    bars = strategy.market.bars["M5"]
    assert list(bars.time) == [NOW - 900, NOW - 600, NOW - 300]  # the forming bar is dropped
    assert strategy.market.server_utc_offset_s == 7200
    assert (result.status.value, result.reason) == ("NO SETUP", "NO SETUP: flat")


def test_a_timeframe_is_converted_only_when_the_strategy_reads_it() -> None:
    data = _data()
    rates = data.bars["EURUSD"]["M5"]
    data.bars["EURUSD"]["M1"] = rates  # fetched for the RiskManager, never read here
    strategy = Seen(NoSignal("NO SETUP: flat"))
    scan_one(strategy, data, "EURUSD")
    bars = strategy.market.bars
    assert sorted(bars) == ["M1", "M5"] and len(bars) == 2 and "M1" in bars
    assert bars._converted == {}  # nothing read yet
    assert list(bars["M5"].time) == [NOW - 900, NOW - 600, NOW - 300]
    assert list(bars._converted) == ["M5"] and bars.get("H1") is None


def test_the_timeframes_a_strategy_asks_for_and_does_not_get_are_collected() -> None:
    class ReadsM1(Strategy):
        def scan(self, market: Market) -> NoSignal:
            assert market.bars.get("M1") is None and "M1" not in market.bars
            return NoSignal(f"NO SETUP: {len(market.bars['M5'])} bars")

    misses: set[str] = set()
    result = scan_one(ReadsM1(), _data(), "EURUSD", misses=misses)
    assert result.reason == "NO SETUP: 3 bars" and misses == {"M1"}


def test_a_signal_becomes_a_candidate_with_its_distances_and_confidence() -> None:
    signal = Signal(Side.SELL, 0.001, 0.002, "breakdown", score=2.0, confidence=75.0)
    result = scan_one(Seen(signal), _data(), "EURUSD")
    assert result.is_candidate and result.direction is Side.SELL
    assert result.reason == "CANDIDATE SELL: breakdown"
    assert (result.sl_distance, result.tp_distance, result.confidence) == (0.001, 0.002, 75.0)


def test_a_reason_outside_the_vocabulary_is_no_setup_and_a_fetch_error_is_error() -> None:
    assert scan_one(Seen(NoSignal("waiting")), _data(), "EURUSD").reason == "NO SETUP: waiting"
    failed = scan_one(Seen(NoSignal("x")), _data(errors={"EURUSD": "no quote"}), "EURUSD")
    assert failed.reason == "ERROR: no quote"


def test_a_wrong_answer_is_the_strategys_bug() -> None:
    with pytest.raises(TypeError, match="expected a Signal or a NoSignal"):
        scan_one(Seen("BUY"), _data(), "EURUSD")


def test_stops_are_never_nearer_than_the_stops_level_or_a_few_spreads() -> None:
    tick = TickRecord(time=int(NOW + OFFSET), bid=1.10000, ask=1.10010, last=0.0, volume=0,
                      time_msc=int((NOW + OFFSET) * 1000), flags=0, volume_real=0.0)
    spec = dataclasses.replace(EURUSD, trade_stops_level=30, point=0.00001)
    data = MarketData("r", NOW, {"EURUSD": tick}, {"EURUSD": spec},
                      _data().bars, server_utc_offset_s=OFFSET)
    tight = Signal(Side.BUY, sl_distance=0.00005, tp_distance=0.00020, reason="tight")
    result = scan_one(Seen(tight), data, "EURUSD", (), spread_multiple=3.0, level_multiple=1.5)
    floor = max(3 * 0.00010, 1.5 * 30 * 0.00001)  # three spreads; 1.5 × the stops level
    assert result.sl_distance == pytest.approx(floor) and result.tp_distance == pytest.approx(floor)
    wide = Signal(Side.BUY, sl_distance=0.002, tp_distance=0.004, reason="wide")
    kept = scan_one(Seen(wide), data, "EURUSD", (), spread_multiple=3.0, level_multiple=1.5)
    assert (kept.sl_distance, kept.tp_distance) == (0.002, 0.004)
