"""What blocks trading, where a trader looks first: with a limit in force the dashboard's
header says "BLOCKED · <why>" instead of a MODE ACTIVE that trades nothing, and the scanner
cards say RISK BLOCK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import open_dashboard, wait_js
from tests.support.daemon import FAST_MARKET, Daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """No trade allowed today: the daily trade limit blocks from the first scan on."""
    started = Daemon(tmp_path_factory.mktemp("blocked") / "data", *FAST_MARKET,
                     "strategy.scan_interval_s=2", "risk.rules.max_daily_trades=0").start()
    yield started
    started.stop()


def test_the_header_says_what_blocks_trading(watch: Any, daemon: Daemon) -> None:
    page = open_dashboard(watch(), daemon)
    daemon.wait_until(lambda: "DAILY_TRADE_LIMIT" in daemon.get("/api/risk")["blocked_by"],
                      timeout=60, what="the daily trade limit in blocked_by")
    # Until the first scan shows it the account, the RiskManager may already say "waiting for
    # the account" (blocked too): wait for the header to name the limit itself.
    wait_js(page, "() => document.getElementById('mode').dataset.blocked === 'true' && "
                  "document.getElementById('mode').innerText.includes('daily trade limit')",
            timeout=60)
    text = page.evaluate("document.getElementById('mode').innerText")
    assert text.startswith("BLOCKED") and "daily trade limit" in text, text
    assert "MODE ACTIVE" not in text
    wait_js(page, "() => [...document.querySelectorAll('#scanner-cards *')].some("
                  "e => e.innerText && e.innerText.includes('RISK BLOCK'))", timeout=60)
