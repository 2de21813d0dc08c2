"""A backtest request is checked before any actor starts: its steps (every bar's close, or
the scan instants it is given) and the pessimistic SL/TP rule, which ``--set`` can turn off."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from actors.backtest.driver import (
    BacktestError,
    BacktestRequest,
    _bar_closes,
    _settings,
    check_request,
    parse_day,
)

START = parse_day("2024-01-08T06:00", "--from")


def _request(tmp_path: Path, **changes: object) -> BacktestRequest:
    request = BacktestRequest(strategies=(), symbols=("EURUSD",), timeframe="M5", start=START,
                              end=START + 3600, out=tmp_path)
    return replace(request, **changes)  # type: ignore[arg-type]


def test_steps_are_the_bar_closes_or_the_given_scan_instants(tmp_path: Path) -> None:
    closes = _bar_closes(_request(tmp_path))
    assert closes[0] == START + 300 and closes[-1] == START + 3600 and len(closes) == 12
    instants = (START + 61.25, START + 181.5)
    assert _bar_closes(_request(tmp_path, scan_times=instants)) == list(instants)


@pytest.mark.parametrize("times", [(START + 200, START + 100), (START - 1,),
                                   (START + 3601,), (START + 5, START + 5)])
def test_scan_instants_out_of_order_or_outside_the_period_are_refused(
        tmp_path: Path, times: tuple[float, ...]) -> None:
    with pytest.raises(BacktestError, match="scan_times: ascending market times"):
        check_request(_request(tmp_path, scan_times=times))


def test_the_stop_first_rule_is_the_default_and_set_can_turn_it_off(tmp_path: Path) -> None:
    assert _settings(_request(tmp_path), tmp_path / "data").sim.pessimistic_bar_s == 300
    off = _request(tmp_path, assignments=("sim.pessimistic_bar_s=0",))
    assert _settings(off, tmp_path / "data").sim.pessimistic_bar_s == 0
