"""Whose trade it is, on the dashboard: with two strategies running, the scanner shows each
one's cards with its name, and one filter narrows the scanner and the trades to a strategy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import TRADING_MARKET, Watched, open_dashboard, wait_js
from tests.support.daemon import REPO, Daemon

pytestmark = pytest.mark.browser

SMA = REPO / "examples" / "strategies" / "sma_cross.py"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    started = Daemon(
        tmp_path_factory.mktemp("strategies") / "data", *TRADING_MARKET,
        f"strategy.plugins=['actors.strategy.confluence:Confluence', '{SMA}:SmaCross']",
        "strategy.params.SmaCross.fast=3", "strategy.params.SmaCross.slow=8",
        "strategy.params.SmaCross.symbols=['EURUSD', 'GBPUSD', 'USDCAD']",
        "risk.rules.min_trade_interval_seconds=0").start()
    yield started
    started.stop()


def _cards(page: Any) -> list[tuple[str, str]]:
    return [tuple(card) for card in page.eval_on_selector_all(
        "#scanner-cards .scan-card", "cs => cs.map(c => [c.dataset.strategy, c.dataset.symbol])")]


def test_each_strategy_has_its_cards_and_one_filter_narrows_scanner_and_trades(
        watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    wait_js(page, """() => {
        const names = new Set([...document.querySelectorAll('#scanner-cards .scan-card')]
            .map(c => c.dataset.strategy));
        return names.has('SmaCross') && names.has('Confluence');
    }""", timeout=60)
    page.wait_for_selector("#strategy-filter:not([hidden])")
    assert {s for s, symbol in _cards(page) if s == "SmaCross"} == {"SmaCross"}
    assert {symbol for s, symbol in _cards(page) if s == "SmaCross"} <= {"EURUSD", "GBPUSD",
                                                                         "USDCAD"}
    page.select_option("#strategy-filter", "SmaCross")
    wait_js(page, """() => [...document.querySelectorAll('#scanner-cards .scan-card')]
        .every(c => c.dataset.strategy === 'SmaCross')""")
    # A SmaCross fill is listed as SmaCross's, and the filter keeps only those.
    page.wait_for_selector("#executions-table tbody tr[data-strategy='SmaCross']",
                           timeout=120_000)
    assert set(page.eval_on_selector_all(
        "#executions-table tbody tr", "rs => rs.map(r => r.dataset.strategy)")) == {"SmaCross"}
    assert set(page.eval_on_selector_all(  # open positions too, by the broker's own rows
        "#positions-table tbody tr", "rs => rs.map(r => r.dataset.strategy)")) <= {"SmaCross"}
    page.select_option("#strategy-filter", "")
    wait_js(page, """() => new Set([...document.querySelectorAll('#scanner-cards .scan-card')]
        .map(c => c.dataset.strategy)).size === 2""")
    watched.screenshot("08-two-strategies", full_page=False)
