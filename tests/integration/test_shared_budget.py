"""Several orders in one scan cycle never spend more than the day's loss budget together: each
approval reserves its loss at the stop before it is answered, so the next one, judged on the
same snapshot of the books, sees it (issue 8's "risk that races")."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.daemon import FAST_MARKET
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration

DAILY_LIMIT = 100.0  # two trades at the default 0.5 % of 10,000 (50 each) use it all
SYMBOLS = ("EURUSD", "USDJPY", "XAUUSD", "US500")  # uncorrelated enough to all be candidates


def _eager_strategy(folder: Path) -> Path:
    """Buys every symbol on every scan, with its stop 0.4 % and its target 0.8 % away."""
    folder.mkdir()
    path = folder / "eager.py"
    path.write_text(textwrap.dedent(f'''
        from actors.strategy.api import Market, NoSignal, Side, Signal, Strategy

        class Eager(Strategy):
            symbols = {SYMBOLS!r}

            def scan(self, market: Market) -> Signal | NoSignal:
                if market.bid is None:
                    return NoSignal("NO SETUP: no price")
                return Signal(Side.BUY, market.bid * 0.004, market.bid * 0.008, "eager",
                              confidence=90.0)
    '''))
    return path


async def test_four_candidates_in_one_cycle_never_exceed_the_daily_budget(
        make_daemon, session, tmp_path: Path) -> None:
    eager = _eager_strategy(tmp_path / "strategies")
    daemon = make_daemon(
        *FAST_MARKET, "strategy.scan_interval_s=2", f"strategy.plugins=['{eager}:Eager']",
        "strategy.max_orders_per_cycle=4", f"risk.rules.max_daily_loss={DAILY_LIMIT}",
        "risk.rules.max_daily_loss_pct=0", "risk.rules.min_trade_interval_seconds=0")
    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()

    def budget_denied() -> bool:
        return any(code in ("DAILY_LOSS_BUDGET", "VOLUME_BELOW_MIN")
                   for e in client.of_type("RISK_DENIALS") for code in e["counts"])

    # Two fill the budget; every later candidate is denied by it.
    await client.wait_for(lambda: len(client.of_type("TRADE_EXECUTION")) >= 2
                          and budget_denied(), timeout=180)
    executions = client.of_type("TRADE_EXECUTION")
    risked = 0.0
    for execution in executions:
        chain = daemon.get(f"/api/journal/decisions/{execution['decision_id']}")["steps"]
        (approval,) = [s["record"] for s in chain if s["record"].get("step") == "approval"]
        assert approval["approved"] and approval["risk_money"] > 0
        risked += approval["risk_money"]
    assert risked <= DAILY_LIMIT + 0.01, (risked, len(executions))
    day = daemon.get("/api/risk")["day"]
    assert day["open_risk"] + day["reserved"] - min(0.0, day["realised"]) <= DAILY_LIMIT + 0.01
    await client.close()
