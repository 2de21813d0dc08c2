"""The dashboard through failures: a SIGKILL of the WebFront (the page's own server) is followed
by a reconnect and a resume with ?since=, with every event on screen exactly once; a SIGKILL of
another actor shows in the supervision panel live."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from tests.browser.conftest import Watched, open_dashboard, wait_js
from tests.support.daemon import Daemon

pytestmark = pytest.mark.browser

# Shown in their own panels, not in the event log (web/static/js/store.js, STATE_TYPES).
NOT_IN_LOG = {"ACCOUNT_UPDATE", "POSITION_UPDATE"}


def shown_seqs(page: Any) -> list[int]:
    return list(page.eval_on_selector_all("#events-list li[data-seq]",
                                          "rs => rs.map(r => Number(r.dataset.seq))"))


def test_a_killed_web_front_is_followed_by_reconnect_and_resume_without_duplicates(
        watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    # While its server is down, the browser logs the failed connection attempts.
    watched.allow(r"WebSocket connection to .* failed")
    # A fetch in flight when the process dies is reset (the chart's /api/bars, say).
    watched.allow(r"ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE"
                  r"|status of 50[234]")
    page = open_dashboard(watched, daemon)
    page.wait_for_selector("#sup-tree li[data-name='web_front']")
    daemon.produce(30, rate=500.0)
    wait_js(page, "() => [...document.querySelectorAll('#events-list li[data-type=BENCH_TICK]')]"
                  ".some(r => r.textContent.includes('tick #29'))")
    seq_before = int(page.evaluate("document.body.dataset.lastSeq"))
    old_pid = daemon.node("web_front")["pid"]

    os.kill(old_pid, signal.SIGKILL)
    wait_js(page, "() => document.body.dataset.connection !== 'live'")
    daemon.produce(30, rate=500.0)  # published while the page is cut off
    daemon.wait_until(lambda: daemon.node("web_front")["pid"] != old_pid, what="a new web front")
    wait_js(page, "() => Number(document.body.dataset.connections) >= 2"
                  " && document.body.dataset.connection === 'live'")
    wait_js(page, "n => Number(document.body.dataset.lastSeq) > n", seq_before + 30)
    watched.screenshot("06-after-web-front-restart")

    # Every event of the journal in the range on screen is shown, once, in order.
    seqs = shown_seqs(page)
    assert seqs == sorted(set(seqs), reverse=True)
    journal = daemon.get(f"/api/events?since={seqs[-1] - 1}&limit=1000")["events"]
    expected = [e["seq"] for e in journal if e["type"] not in NOT_IN_LOG and e["seq"] <= seqs[0]]
    assert sorted(seqs) == expected
    # The restart itself: in the log, and in the supervision panel with the new pid.
    page.wait_for_selector("#events-list li[data-type=ACTOR_RESTARTED]")
    node = daemon.node("web_front")
    page.wait_for_selector(f"#sup-tree li[data-name='web_front'][data-pid='{node['pid']}']"
                           f"[data-restarts='{node['restarts']}']")


def test_a_restart_elsewhere_shows_live_in_the_supervision_panel(watch: Any,
                                                                 daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    page.wait_for_selector("#sup-tree li[data-name='shared_state']")
    before = daemon.node("shared_state")
    connections = page.evaluate("document.body.dataset.connections")
    requests_before = len(watched.requests)

    os.kill(before["pid"], signal.SIGKILL)

    restarts = before["restarts"] + 1
    page.wait_for_selector(f"#sup-tree li[data-name='shared_state'][data-restarts='{restarts}']")
    row = page.locator("#sup-tree li[data-name='shared_state']")
    assert row.get_attribute("data-pid") != str(before["pid"])
    assert "process exited unexpectedly" in row.inner_text()
    # Live from the ACTOR_RESTARTED event: same connection, /api/supervisors not polled.
    assert page.evaluate("document.body.dataset.connections") == connections
    assert [u for u in watched.requests[requests_before:] if "/api/supervisors" in u] == []
    watched.screenshot("07-supervisor-restart", full_page=False)
