"""The quotes panel in headless Chromium against the real daemon on the fast simulated market:
every watched symbol's bid, ask and spread, moving live from QUOTE events (no polling), and the
chart's last candle following the selected symbol's bid."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Watched, open_dashboard, wait_js
from tests.support.daemon import Daemon

pytestmark = pytest.mark.browser

ROWS = "#quotes-rows tr[data-symbol]"


def quote_rows(page: Any) -> dict[str, dict[str, str]]:
    return dict(page.eval_on_selector_all(
        ROWS, "rows => rows.map(r => [r.dataset.symbol, {bid: r.querySelector('[data-field=bid]')"
        ".textContent, ask: r.querySelector('[data-field=ask]').textContent, spread: "
        "r.querySelector('[data-field=spread]').textContent, time: r.querySelector("
        "'[data-field=time]').textContent, move: r.dataset.move, updates: r.dataset.updates}])"))


def test_quotes_move_live_and_move_the_last_candle(watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    symbols = set(daemon.get("/api/state")["quotes"]) | {"EURUSD"}
    wait_js(page, "n => document.querySelectorAll('#quotes-rows tr[data-symbol]').length >= n",
            min(len(symbols), 5))
    first = quote_rows(page)
    for symbol, row in first.items():
        bid, ask = (float(row[side].replace(",", "")) for side in ("bid", "ask"))
        assert 0 < bid < ask, (symbol, row)
        assert float(row["spread"].replace(",", "")) > 0, (symbol, row)
        assert re.fullmatch(r"\d\d:\d\d:\d\d", row["time"]), (symbol, row)
    # The quotes change in place as the market moves: prices, a direction, the tick's time.
    wait_js(page, "() => [...document.querySelectorAll('#quotes-rows tr[data-symbol]')]"
            ".filter(r => Number(r.dataset.updates) >= 3 && r.dataset.move).length >= 3")
    later = quote_rows(page)
    changed = [s for s in first if s in later and (later[s]["bid"], later[s]["time"])
               != (first[s]["bid"], first[s]["time"])]
    assert len(changed) >= 3, (first, later)
    assert {later[s]["move"] for s in changed} <= {"up", "down"}

    # Clicking a quote shows its symbol on the chart; its bid then moves the last candle.
    symbol = sorted(later)[0]
    page.locator(f"#quotes-rows tr[data-symbol='{symbol}']").click()
    wait_js(page, "s => document.querySelector('#chart-candles').dataset.symbol === s", symbol)
    wait_js(page, "() => Number(document.querySelector('#chart-candles').dataset.bars) > 0")
    moves = int(page.evaluate(
        "() => Number(document.querySelector('#chart-candles').dataset.quoteMoves || 0)"))
    wait_js(page, "n => Number(document.querySelector('#chart-candles').dataset.quoteMoves) "
            ">= n + 3", moves)
    # The last candle closes at the symbol's latest bid (between two candle fetches).
    wait_js(page, "s => { const box = document.querySelector('#chart-candles'); "
            "const q = window.ensemble.store.quotes.get(s); "
            "return q && Number(box.dataset.lastClose) === q.bid; }", symbol)
    assert not [url for url in watched.requests if "/api/quotes" in url]
    watched.screenshot("quotes")
