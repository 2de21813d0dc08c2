"""Traders' own strategies on the real daemon: written only against the public API, loaded from
a folder outside the repository, several at once with their own symbols and one shared risk
budget; one that keeps crashing is stopped without stopping the others."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.support.daemon import FAST_MARKET, REPO, Daemon
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration

LIMITS_LIFTED = ("risk.kill_switch.max_loss_pct=0", "risk.rules.day_stop_beyond_stop_r=1e6",
                 "risk.rules.consecutive_loss_limit=1000",
                 "risk.rules.max_daily_loss_pct=0", "risk.rules.max_daily_loss=1000000",
                 "risk.rules.min_trade_interval_seconds=0")


def _write_strategies(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    sma = folder / "sma_cross.py"
    shutil.copy(REPO / "examples" / "strategies" / "sma_cross.py", sma)
    crashy = folder / "crashy.py"
    crashy.write_text(textwrap.dedent('''
        from actors.strategy.api import Market, NoSignal, Strategy

        class Crashy(Strategy):
            symbols = ("USDJPY",)

            def scan(self, market: Market) -> NoSignal:
                raise RuntimeError("a bug in the trader's own code")
    '''))
    return sma, crashy


async def test_own_strategies_trade_side_by_side_and_a_crashing_one_stops_alone(
        make_daemon, session, tmp_path: Path) -> None:
    sma, crashy = _write_strategies(tmp_path / "my-strategies")
    daemon = make_daemon(
        *FAST_MARKET, *LIMITS_LIFTED, "strategy.scan_interval_s=2",
        f"strategy.plugins=['{sma}:SmaCross', '{crashy}:Crashy']",
        "strategy.params.SmaCross.fast=3", "strategy.params.SmaCross.slow=8",
        "strategy.params.SmaCross.symbols=['EURUSD', 'GBPUSD', 'AUDUSD', 'USDCAD']",
        "supervision.max_restarts=2", "supervision.period_s=60")
    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()

    def executions() -> list[dict]:
        return [e for e in client.of_type("TRADE_EXECUTION") if e["strategy"] == "SmaCross"]

    await client.wait_for(executions, timeout=240)
    # The SmaCross scans only its own symbols, and says so under its own name.
    summaries = [e for e in client.of_type("SCAN_SUMMARY") if e["strategy"] == "SmaCross"]
    assert summaries and all(set(e["symbols"]) <= {"EURUSD", "GBPUSD", "AUDUSD", "USDCAD"}
                             for e in summaries)
    execution = executions()[0]
    chain = daemon.get(f"/api/journal/decisions/{execution['decision_id']}")["steps"]
    steps = [entry["record"].get("step") for entry in chain]
    assert steps[:2] == ["candidate", "pre_scan"] and "approval" in steps
    assert chain[0]["record"]["strategy"] == "SmaCross"

    # The crashing strategy was restarted, then given up on; the others run on.
    crashed = daemon.wait_until(
        lambda: (node := daemon.node("strategy.Crashy")) and "given up" in str(
            node.get("last_failure")) and node, timeout=120, what="Crashy given up")
    assert crashed["restarts"] >= 2
    assert daemon.node("strategy.SmaCross")["state"] == "running"
    assert daemon.node("trading")["state"] != "failed"
    scanned = len(client.of_type("SCAN_SUMMARY"))
    await client.wait_for(lambda: len(client.of_type("SCAN_SUMMARY")) > scanned + 2)
    await client.close()


def test_a_strategy_that_cannot_load_stops_the_start_with_one_clear_line(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data", f"strategy.plugins=['{tmp_path}/missing.py:Nope']")
    result = subprocess.run(daemon.command("run"), cwd=REPO, capture_output=True, text=True,
                            timeout=30, env=daemon.environment())
    assert result.returncode == 2
    assert "missing.py" in result.stderr and "no such file" in result.stderr
    assert not (tmp_path / "data" / "state.db").exists()


async def test_a_strategy_manages_its_own_position(make_daemon, session, tmp_path: Path) -> None:
    """``Strategy.manage``: a strategy that buys, then exits on its own the next cycle; the
    close goes through the broker like any other, and the closed trade says why."""
    folder = tmp_path / "own"
    folder.mkdir()
    path = folder / "in_and_out.py"
    path.write_text(textwrap.dedent('''
        from actors.strategy.api import Exit, Market, NoSignal, Side, Signal, Strategy

        class InAndOut(Strategy):
            symbols = ("EURUSD",)
            trade_management = False  # only its own

            def scan(self, market: Market):
                if market.positions or market.bid is None:
                    return NoSignal("NO SETUP: holding")
                return Signal(Side.BUY, market.bid * 0.004, market.bid * 0.008, "in",
                              confidence=90.0)

            def manage(self, position, market: Market):
                assert market.symbol == position.symbol and market.positions == (position,)
                return Exit("out on my own terms")
    '''))
    daemon = make_daemon(*FAST_MARKET, *LIMITS_LIFTED, "strategy.scan_interval_s=2",
                         f"strategy.plugins=['{path}:InAndOut']")
    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()

    def executed() -> list[dict]:
        return [e for e in client.of_type("TRADE_EXECUTION") if e["strategy"] == "InAndOut"]

    def closed(ticket: int) -> list[dict]:
        return [t for t in daemon.get("/api/journal/trades?limit=50") if t["ticket"] == ticket]

    await client.wait_for(executed, timeout=120)
    ticket = executed()[0]["ticket"]
    (trade,) = daemon.wait_until(lambda: closed(ticket), timeout=60, what="the closed trade")
    # Closed by its own Exit on the next cycle, not by its stop or target (0.4 % away).
    assert trade["exit_reason"] == "out on my own terms", trade
    assert trade["strategy"] == "InAndOut" and trade["decision_id"]
    await client.close()
