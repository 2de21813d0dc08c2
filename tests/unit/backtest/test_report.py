"""The figures and files of a backtest from known trades and a known equity curve."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from actors.backtest.report_files import render_report, write_summary, write_trades
from actors.backtest.results import TRADE_COLUMNS, EquityPoint, TradeRow, refusals, summarise

JAN = 1_704_067_200.0  # 2024-01-01 00:00 UTC
DAY = 86_400.0


def _trade(symbol: str, net: float, day: int, strategy: str = "SmaCross",
           confidence: float | None = 70.0) -> TradeRow:
    return TradeRow(strategy=strategy, symbol=symbol, side="BUY", volume=0.1,
                    entry_time=JAN + day * DAY, entry_price=1.1, exit_time=JAN + day * DAY + 600,
                    exit_price=1.101, sl=1.09, tp=1.12, profit=net + 0.7, commission=-0.7,
                    swap=0.0, decision_id=f"d{day}", ticket=day + 1, confidence=confidence)


TRADES = [_trade("EURUSD", 30.0, 0), _trade("GBPUSD", -10.0, 1), _trade("EURUSD", -5.0, 40,
                                                                         "Confluence", 85.0)]
EQUITY = [EquityPoint(JAN, 10_000, 10_000), EquityPoint(JAN + DAY, 10_030, 10_030),
          EquityPoint(JAN + 2 * DAY, 10_020, 10_020), EquityPoint(JAN + 41 * DAY, 10_015, 10_015)]


def test_summary_figures() -> None:
    summary = summarise(TRADES, EQUITY, bars=100, symbols=2, seconds=2.0, balance=10_000)
    assert summary["trades"] == 3 and summary["net_profit"] == 15.0
    assert summary["win_rate"] == round(1 / 3, 4)
    assert summary["profit_factor"] == 2.0  # 30 won against 15 lost
    assert summary["max_drawdown"] == 15.0  # from 10,030 down to 10,015
    assert summary["bars_per_second"] == 100.0 and summary["symbol_bars"] == 200
    assert summary["per_symbol"]["EURUSD"]["trades"] == 2
    assert summary["per_strategy"]["Confluence"]["net_profit"] == -5.0
    assert summary["monthly_returns_pct"] == {"2024-01": 0.2, "2024-02": -0.0499}
    assert summary["sharpe"] is not None
    bands = {row["band"]: row for row in summary["calibration"]}
    assert bands["70-80"]["trades"] == 2 and bands["70-80"]["wins"] == 1
    assert bands["80-100"]["win_rate"] == 0.0


def test_files_are_byte_identical_for_the_same_inputs(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        write_trades(folder / "trades.csv", TRADES)
        write_summary(folder / "summary.json",
                      summarise(TRADES, EQUITY, bars=10, symbols=1, seconds=1, balance=10_000))
        outputs.append(((folder / "trades.csv").read_bytes(),
                        (folder / "summary.json").read_bytes()))
    assert outputs[0] == outputs[1]
    rows = list(csv.DictReader((tmp_path / "a" / "trades.csv").open()))
    assert tuple(rows[0]) == TRADE_COLUMNS
    assert rows[0]["entry_time"] == "2024-01-01T00:00:00.000Z" and rows[0]["profit"] == "30.7"
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    for key in ("trades", "net_profit", "max_drawdown", "win_rate", "profit_factor", "sharpe",
                "bars", "seconds", "bars_per_second"):
        assert key in summary


def test_the_report_is_one_offline_page_with_chains_and_reviews() -> None:
    summary = summarise(TRADES, EQUITY, bars=10, symbols=1, seconds=1, balance=10_000)
    chains = {"d0": [{"kind": "decision", "record": {"step": "research", "confidence": 70,
                                                     "reason": "<b>cross</b>"}}]}
    reviews = {1: {"score": 8, "analysis": "clean win", "lesson": "keep"}}
    page = render_report(summary, TRADES, EQUITY, chains, reviews, "Backtest")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page and "src=" not in page
    assert "research: confidence=70, reason=&lt;b&gt;cross&lt;/b&gt;" in page
    assert "score 8: clean win" in page and "2024-02" in page


def test_why_candidates_did_not_trade_is_counted_by_step_and_code() -> None:
    decisions = [
        {"step": "candidate", "symbol": "EURUSD"},
        {"step": "pre_scan", "symbol": "EURUSD", "allowed": True, "code": ""},
        {"step": "pre_scan", "symbol": "GBPAUD", "allowed": False, "code": "SPREAD_TOO_WIDE",
         "message": "spread 36 points > 30 (forex)"},
        {"step": "approval", "symbol": "AUDUSD", "approved": False, "code": "NO_EDGE",
         "message": "Kelly fraction -0.100 over 21 trades: no edge"},
        {"step": "approval", "symbol": "EURUSD", "approved": False, "code": "NO_EDGE",
         "message": "Kelly fraction -0.2 over 22 trades: no edge"},
        {"step": "approval", "symbol": "EURUSD", "approved": True, "code": ""},
        {"step": "abandoned", "symbol": "USDJPY", "reason": "max orders per cycle reached"},
        {"step": "order_done", "symbol": "EURUSD", "status": "done", "reason": "done"},
        {"step": "order_done", "symbol": "XAUUSD", "status": "rejected",
         "reason": "10018 market closed"},
    ]
    assert refusals(decisions) == [
        {"step": "approval", "code": "NO_EDGE", "count": 2,
         "first": "AUDUSD: Kelly fraction -0.100 over 21 trades: no edge"},
        {"step": "abandoned", "code": "ABANDONED", "count": 1,
         "first": "USDJPY: max orders per cycle reached"},
        {"step": "order_done", "code": "ORDER_REJECTED", "count": 1,
         "first": "XAUUSD: 10018 market closed"},
        {"step": "pre_scan", "code": "SPREAD_TOO_WIDE", "count": 1,
         "first": "GBPAUD: spread 36 points > 30 (forex)"},
    ]
    gated = [("DAY_STOPPED", "new entries blocked (day stopped (loss beyond a stop))", 2),
             ("DAY_STOPPED", "new entries blocked (day stopped (loss beyond a stop))", 1),
             ("MODE_PAUSED", "trading paused", 0)]
    assert refusals([], gated) == [
        {"step": "gate", "code": "DAY_STOPPED", "count": 3,
         "first": "new entries blocked (day stopped (loss beyond a stop))"}]
    summary = summarise(TRADES, EQUITY, bars=10, symbols=1, seconds=1, balance=10_000,
                        refused=refusals(decisions))
    page = render_report(summary, TRADES, EQUITY, {}, {}, "Backtest")
    assert "Why candidates did not trade" in page and "SPREAD_TOO_WIDE" in page
    assert "GBPAUD: spread 36 points &gt; 30 (forex)" in page
