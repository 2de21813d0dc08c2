"""The backtest's fills are the simulated terminal's, on replayed bars: the pessimistic rule
for SL and TP inside one bar, commission per lot, and the nightly swap, on known bars."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actors.broker.sim import constants as c
from actors.broker.sim.module import build_module
from actors.broker.sim.universe import DEFAULT_UNIVERSE
from actors.runtime.clock import ManualClock
from tests.unit.broker.conftest import TerminalFactory

SERVER_OFFSET_S = 2 * 3600  # January: the simulated server is at UTC+2
HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
WIDE_BAR = "2024.01.09 10:00"  # low 1.0950, high 1.1050 around a flat 1.1000


def _server(text: str) -> float:
    return datetime.strptime(text, "%Y.%m.%d %H:%M").replace(tzinfo=UTC).timestamp()


def _utc(text: str) -> float:
    return _server(text) - SERVER_OFFSET_S


def _history(tmp_path: Path) -> Path:
    """Monday 2024-01-08 to Thursday 2024-01-11, M5, flat at 1.1000, one wide bar."""
    lines = [HEADER]
    start = _server("2024.01.08 00:00")
    for i in range(4 * 288):
        stamp = datetime.fromtimestamp(start + 300 * i, tz=UTC).strftime("%Y.%m.%d\t%H:%M:%S")
        high, low = (1.1050, 1.0950) if stamp.replace("\t", " ")[:16] == WIDE_BAR else (
            1.1002, 1.0998)
        lines.append(f"{stamp}\t1.10000\t{high:.5f}\t{low:.5f}\t1.10000\t40\t0\t10")
    path = tmp_path / "EURUSD_M5_202401080000_202401112355.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _open(mt5: Any, volume: float, sl: float = 0.0, tp: float = 0.0) -> int:
    tick = mt5.symbol_info_tick("EURUSD")
    result = mt5.order_send({"action": c.TRADE_ACTION_DEAL, "symbol": "EURUSD",
                             "volume": volume, "type": c.ORDER_TYPE_BUY, "price": tick.ask,
                             "sl": sl, "tp": tp, "deviation": 20, "magic": 1,
                             "type_filling": c.ORDER_FILLING_FOK})
    assert result.retcode == c.TRADE_RETCODE_DONE, result
    return int(result.order)


def _exit_reason(mt5: Any, position: int) -> int:
    deals = [d for d in mt5.history_deals_get(position=position) if d.entry == c.DEAL_ENTRY_OUT]
    assert len(deals) == 1
    return int(deals[0].reason)


def _both_inside_one_bar(make_terminal: TerminalFactory, clock: ManualClock, tmp_path: Path,
                         bar_s: int) -> int:
    clock.set(_utc("2024.01.09 09:50"))
    terminal = make_terminal(data_dir=tmp_path / f"sim{bar_s}", replay_csv=str(_history(tmp_path)),
                             replay_warmup_days=0, pessimistic_bar_s=bar_s, stops_level_scale=0,
                             symbols=("EURUSD",))
    mt5 = build_module(terminal)
    assert mt5.initialize()
    ticket = _open(mt5, 0.1, sl=1.0970, tp=1.1030)
    clock.set(_utc("2024.01.09 10:10"))
    assert mt5.positions_get() == ()
    return _exit_reason(mt5, ticket)


def test_sl_and_tp_inside_one_bar_take_the_stop_first(make_terminal: TerminalFactory,
                                                       clock: ManualClock, tmp_path: Path) -> None:
    by_ticks = _both_inside_one_bar(make_terminal, clock, tmp_path, 0)
    pessimistic = _both_inside_one_bar(make_terminal, clock, tmp_path, 300)
    assert pessimistic == c.DEAL_REASON_SL
    # The terminal's own tick path through this bar reaches the target first: the rule is
    # what makes the difference.
    assert by_ticks == c.DEAL_REASON_TP


def test_commission_per_lot_and_the_nightly_swap(make_terminal: TerminalFactory,
                                                  clock: ManualClock, tmp_path: Path) -> None:
    clock.set(_utc("2024.01.09 22:00"))  # Tuesday evening
    terminal = make_terminal(replay_csv=str(_history(tmp_path)), replay_warmup_days=0,
                             commission_per_lot=3.5, symbols=("EURUSD",))
    mt5 = build_module(terminal)
    assert mt5.initialize()
    ticket = _open(mt5, 2.0)
    entry = [d for d in mt5.history_deals_get(position=ticket) if d.entry == c.DEAL_ENTRY_IN]
    assert entry[0].commission == -7.0  # 3.5 per lot and side, 2 lots
    clock.set(_utc("2024.01.10 01:00"))  # past Tuesday's rollover
    (position,) = mt5.positions_get(ticket=ticket)
    spec = DEFAULT_UNIVERSE["EURUSD"]
    nights = 3 if spec.swap_rollover3days == 1 else 1  # Tuesday is weekday 1
    expected = round(spec.swap_long * spec.point * spec.contract_size * 2.0 * nights, 2)
    assert expected != 0 and position.swap == expected


def test_a_configured_spread_replaces_the_bars_own(make_terminal: TerminalFactory,
                                                   clock: ManualClock, tmp_path: Path) -> None:
    clock.set(_utc("2024.01.09 12:00"))
    quotes = {}
    for name, spread in (("own", None), ("configured", 25)):
        terminal = make_terminal(data_dir=tmp_path / name, replay_csv=str(_history(tmp_path)),
                                 replay_warmup_days=0, spread_points=spread,
                                 symbols=("EURUSD",))
        mt5 = build_module(terminal)
        assert mt5.initialize()
        rates = mt5.copy_rates_from_pos("EURUSD", c.TIMEFRAME_M5, 1, 10)
        tick = mt5.symbol_info_tick("EURUSD")
        quotes[name] = ({int(s) for s in rates["spread"]}, round((tick.ask - tick.bid) / 1e-5))
    assert quotes["own"][0] == {10}  # the export's <SPREAD>
    assert quotes["configured"][0] == {25} and quotes["configured"][1] >= 25
