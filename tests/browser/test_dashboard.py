"""The dashboard in headless Chromium against the real daemon trading the simulated market
running fast: every panel with live data following the market, sign-in, the event log under
load, the operator controls, trades on the chart and the session clocks."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from actors.strategy.sessions import session_states
from tests.browser.conftest import Watched, actor_names, open_dashboard, wait_js
from tests.support.daemon import Daemon

pytestmark = pytest.mark.browser

# The Strategy's reason prefixes (actors/strategy/signals.py) and the badge each must show.
BADGES = {
    "CANDIDATE BUY": "SIGNAL BUY", "CANDIDATE SELL": "SIGNAL SELL", "NO SETUP": "NO SETUP",
    "OFF-SESSION": "OFF-SESSION", "LOW VOLATILITY": "LOW VOL", "SPREAD": "SPREAD",
    "NEWS": "NEWS", "RISK BLOCK": "RISK BLOCK", "ERROR": "ERROR",
}
TRADING_TIMEOUT = 90.0  # the fast market opens and closes trades within seconds to a minute
# Snapshot endpoints a polling page would hit; live data must come from /ws instead.
SNAPSHOT_ENDPOINTS = re.compile(r"/api/(state|account|positions|trades|scan|events)\b")


def text(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.inner_text())


def wait_text(page: Any, selector: str, expected: str, timeout: float = 20.0) -> None:
    wait_js(page, "([s, t]) => document.querySelector(s)?.innerText.includes(t)",
            [selector, expected], timeout)


def count(page: Any, selector: str) -> int:
    return int(page.evaluate("s => document.querySelectorAll(s).length", selector))


def log_rows(page: Any) -> list[dict[str, Any]]:
    return list(page.eval_on_selector_all(
        "#events-list li[data-seq]",
        "rows => rows.map(r => ({seq: Number(r.dataset.seq), type: r.dataset.type, "
        "text: r.querySelector('.m').textContent}))"))


def badge_of(reason: str) -> str:
    prefix = reason.split(":", 1)[0].strip()
    return BADGES.get(prefix, "ERROR")


def test_every_panel_shows_live_data_and_follows_the_market(watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    # Header: the broker connection and the trading mode.
    wait_text(page, "#broker-text", "connected")
    assert text(page, "#broker-text").startswith("SIM")
    wait_js(page, "() => document.getElementById('mode').dataset.mode !== ''")
    # Account: realised today is day_pl minus floating (never floating labelled as the day's).
    wait_js(page, "() => /\\d/.test(document.querySelector('[data-field=balance]').innerText)")
    account = page.evaluate("""() => ({
        account: window.ensemble.store.account,
        realised: document.querySelector('[data-field=realised]').innerText })""")
    realised = account["account"]["day_pl"] - account["account"]["profit"]
    number = account["realised"].split()[0]
    shown = float(number.replace("−", "-").replace(",", "").replace("+", ""))
    assert shown == pytest.approx(realised, abs=0.006)
    # Positions: a trade opens, with its SL → TP bar, and its row moves with the market.
    # (a row is drawn before its cells are filled: wait for its side, not for the row)
    wait_js(page, "() => /\\b(BUY|SELL)\\b/.test("
            "document.querySelector('#positions-table tbody')?.innerText ?? '')",
            timeout=TRADING_TIMEOUT)
    first = text(page, "#positions-table tbody")
    assert re.search(r"\b(BUY|SELL)\b", first)
    watched.screenshot("02-live-market")
    wait_js(page, "t => document.querySelector('#positions-body').innerText !== t", first,
            TRADING_TIMEOUT)
    # Scanner: one card per symbol, the badge its reason's prefix calls for, signals first.
    cards = page.eval_on_selector_all(
        "#scanner-cards .scan-card",
        "cs => cs.map(c => [c.dataset.symbol, c.dataset.badge, c.title])")
    assert cards, "no scanner cards"
    for symbol, badge, reason in cards:
        assert badge == badge_of(reason), (symbol, reason)
    signals = [badge.startswith("SIGNAL") for _, badge, _ in cards]
    assert signals == sorted(signals, reverse=True)
    assert "SKIP" not in text(page, "#scanner-cards")
    scan_meta = text(page, "#scanner-meta")
    wait_js(page, "t => document.getElementById('scanner-meta').innerText !== t", scan_meta)
    # Research results in the log, with action, confidence and reason.
    research = [r["text"] for r in log_rows(page) if r["type"] == "RESEARCH_RESULT"]
    assert research and all(re.match(r"^\S+ (BUY|SELL|HOLD) \d+% — .+", r) for r in research)
    # Trades: an execution, then a closed trade with the Critic's review.
    page.wait_for_selector("#executions-table tbody tr", timeout=TRADING_TIMEOUT * 1000)
    page.click("#tab-closed")
    page.wait_for_selector("#closed-table .score", timeout=TRADING_TIMEOUT * 1000)
    assert text(page, "[data-field='balance']") != "10,000.00 USD"  # a closed trade moved it
    page.click("#tab-stats")
    page.wait_for_selector("#day-stats")
    watched.screenshot("03-journal-stats", full_page=False)
    page.click("#tab-executions")


def test_every_reason_prefix_has_its_badge(watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    labels = page.evaluate(
        """async (prefixes) => {
            const { badgeFor } = await import('/static/js/reasons.js');
            return prefixes.map((p) => [badgeFor(`${p}: x`).label, badgeFor(`${p}: x`).signal]);
        }""", list(BADGES))
    for (prefix, badge), (label, signal) in zip(BADGES.items(), labels, strict=True):
        assert label == badge and signal == prefix.startswith("CANDIDATE"), prefix


def test_without_a_token_the_page_asks_for_one_and_shows_nothing(watch: Any,
                                                                 daemon: Daemon) -> None:
    watched: Watched = watch()
    watched.allow(r"status of 401")  # the wrong token below is refused, as it should be
    page = watched.page
    page.goto(daemon.base_url + "/")
    page.wait_for_selector("#login-form", state="visible")
    assert page.locator("#app").is_hidden()
    assert watched.api_requests() == [] and watched.websockets == []
    watched.screenshot("01-sign-in")

    page.fill("#login-token", "not-the-token-at-all")
    page.press("#login-token", "Enter")
    wait_text(page, "#login-error", "refused")
    assert page.locator("#app").is_hidden()
    assert watched.websockets == []

    page.fill("#login-token", daemon.token)
    page.press("#login-token", "Enter")
    wait_js(page, "() => document.body.dataset.connection === 'live'")
    assert page.locator("#app").is_visible()


def test_the_printed_url_logs_in_keeps_the_token_for_the_tab_and_hides_it(
        watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    assert "token" not in page.url
    assert page.evaluate("sessionStorage.getItem('ensemble.token')") == daemon.token
    page.reload()
    wait_js(page, "() => document.body.dataset.connection === 'live'")
    assert page.locator("#login").is_hidden()
    assert text(page, "#conn").startswith("LIVE")
    # The live connection opens with a single-use ticket: the token is in no URL it opens.
    assert watched.websockets and all("ticket=" in url and daemon.token not in url
                                      for url in watched.websockets), watched.websockets
    for name in actor_names(daemon):  # the whole supervision tree, from /api/supervisors
        page.wait_for_selector(f"#sup-tree li[data-name='{name}'][data-state='running']")


def test_the_event_log_is_live_capped_filterable_and_never_polls(watch: Any,
                                                                 daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)  # live: its start-up reads are done
    requests_before = len(watched.requests)

    daemon.produce(1000, rate=200.0, batch=4)  # five seconds at 200 events per second
    wait_text(page, "#events-list li[data-type=BENCH_TICK]", "tick #999")
    rows = log_rows(page)
    seqs = [r["seq"] for r in rows]
    assert len(rows) == 200  # the latest 200, newest first, no duplicates
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
    polled = [url for url in watched.requests[requests_before:] if SNAPSHOT_ENDPOINTS.search(url)]
    assert polled == []  # live data came only from /ws

    page.keyboard.press("/")  # keyboard: "/" jumps to the search box
    assert page.evaluate("document.activeElement.id") == "events-search"
    page.keyboard.type("tick #998")
    wait_js(page, "() => document.querySelectorAll('#events-list li[data-seq]').length === 1")
    page.fill("#events-search", "")
    page.select_option("#events-type", "BENCH_TICK")
    # The filter applies on the next animation frame: wait for the filtered list itself.
    wait_js(page, """() => {
        const rows = [...document.querySelectorAll('#events-list li[data-seq]')];
        return rows.length > 0 && rows.every(row => row.dataset.type === 'BENCH_TICK');
    }""")
    assert {r["type"] for r in log_rows(page)} == {"BENCH_TICK"}


def test_a_trade_is_marked_on_the_chart(watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    page.click("#tab-closed")
    page.wait_for_selector("#closed-table tbody tr", timeout=TRADING_TIMEOUT * 1000)
    # The newest trade is the first row, and another may close between two steps here: click
    # the very row whose symbol was read.
    row = page.query_selector("#closed-table tbody tr.trade-main")
    key, symbol = row.get_attribute("data-key"), row.get_attribute("data-symbol")
    page.click(f'#closed-table tbody tr[data-key="{key}"]')
    chart = "document.getElementById('chart-candles').dataset"
    wait_js(page, f"() => {chart}.symbol === '{symbol}' && Number({chart}.bars) > 0")
    wait_js(page, f"() => Number({chart}.markers) >= 2")  # its entry and its exit
    # An open position has its entry, SL and TP drawn as lines (positions close fast here:
    # try the next one if it closed before the check).
    deadline = time.monotonic() + TRADING_TIMEOUT
    while True:
        page.wait_for_selector("#positions-table tbody tr", timeout=TRADING_TIMEOUT * 1000)
        try:
            page.click("#positions-table tbody tr", timeout=2000)
            wait_js(page, f"() => Number({chart}.lines) >= 3", timeout=3)
            break
        except (AssertionError, PlaywrightTimeout):  # the row went away: it closed meanwhile
            if time.monotonic() > deadline:
                raise
    watched.screenshot("05-chart-trade", full_page=False)


def test_a_symbol_without_bars_says_why_and_the_chart_asks_again(watch: Any,
                                                                   daemon: Daemon) -> None:
    watched: Watched = watch()
    watched.allow(r"status of 404")  # the browser logs the refused /api/bars itself
    page = watched.page
    # The chart remembers its symbol per browser: one the broker does not know.
    page.add_init_script("localStorage.setItem('ensemble.chart', "
                         "JSON.stringify({symbol: 'NOSUCH', timeframe: 'M5'}))")
    open_dashboard(watched, daemon)
    wait_text(page, "#chart-candles-note", "Candles for NOSUCH:")
    note = text(page, "#chart-candles-note")
    assert "Not found" in note, f"the terminal's reason is shown, got {note!r}"  # (-4) from MT5

    def asked() -> int:
        return sum("/api/bars?symbol=NOSUCH" in url for url in watched.api_requests())

    # A 404 means "no bars for it now", not "no such endpoint": the next market event asks again.
    deadline = time.monotonic() + 30
    while asked() < 2:
        assert time.monotonic() < deadline, "the chart never asked for NOSUCH's bars again"
        page.wait_for_timeout(100)
    page.select_option("#chart-symbol", "EURUSD")
    chart = "document.getElementById('chart-candles').dataset"
    wait_js(page, f"() => {chart}.symbol === 'EURUSD' && Number({chart}.bars) > 0")


def test_controls_need_the_token_confirm_and_show_their_result(watch: Any,
                                                               daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    refused = page.request.post(f"{daemon.base_url}/api/control/pause")
    assert refused.status == 401  # no token, no command

    # Cancelling sends no command (the page's own refreshes may go on meanwhile).
    page.click("button[data-command='kill-switch']")
    page.wait_for_selector("#confirm[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#confirm:not([open])", state="attached")
    assert watched.control_requests() == []

    watched.allow(r"status of 409")  # a command that does not apply in the current mode
    for command in ("reset-kill-switch", "pause", "resume", "kill-switch", "close-all",
                    "reset-kill-switch"):
        page.click(f"button[data-command='{command}']")
        page.wait_for_selector("#confirm[open]")
        page.click("#confirm-ok")
        wait_js(page, "c => { const r = document.getElementById('control-result');"
                " return r.dataset.command === c && /^[0-9]+$/.test(r.dataset.status); }",
                command)
        status = page.get_attribute("#control-result", "data-status")
        assert status in ("200", "409"), text(page, "#control-result")
        if status == "200":
            mode = page.evaluate("window.ensemble.store.risk.mode")
            wait_text(page, "#mode", f"MODE {mode}")
        if command == "pause" and status == "200":
            assert mode == "PAUSED"
        if command == "kill-switch":
            assert status == "200"
            page.wait_for_selector("#kill-flag:not([hidden])")
            watched.screenshot("04-kill-switch", full_page=False)
        if command == "reset-kill-switch" and status == "200":
            page.wait_for_selector("#kill-flag[hidden]", state="attached")


def test_session_clocks_match_the_strategy_in_every_season(watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    # A year of instants, and some around the DST changes of London, New York and Sydney.
    start = datetime(2025, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(hours=7 * i + 0.25) for i in range(0, 1260, 9)]
    instants += [datetime(2025, *when, tzinfo=UTC) for when in (
        (3, 10, 12, 40), (3, 31, 7, 45), (4, 7, 20, 35), (10, 6, 20, 40), (10, 27, 7, 50),
        (11, 3, 12, 45))]
    page_states = page.evaluate(
        """async (times) => {
            const { sessionStates } = await import('/static/js/sessions.js');
            return times.map((t) => sessionStates(t)
                .map((s) => [s.name, s.status, s.secondsToChange]));
        }""", [int(t.timestamp() * 1000) for t in instants])
    for instant, states in zip(instants, page_states, strict=True):
        expected = [[s.name, s.status.value, s.seconds_to_change] for s in session_states(instant)]
        assert states == expected, instant
    # The header shows the four clocks, each with its state and countdown.
    shown = page.eval_on_selector_all(".session",
                                      "cs => cs.map(c => [c.dataset.status, c.innerText])")
    assert [status for status, _ in shown] == [s.status.value for s in session_states(time.time())]
    assert all(("closes" in label) == (status == "open") for status, label in shown)
