"""A dashboard whose chart library cannot load: only the charts say so, and every other panel
still shows live data (headless Chromium against the real daemon; the browser is refused the
one file, as a damaged installation would refuse it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Watched, open_dashboard, wait_js
from tests.support.daemon import Daemon

pytestmark = pytest.mark.browser

LIBRARY = "**/static/vendor/lightweight-charts.mjs"


def test_without_the_chart_library_only_the_chart_panel_says_so(watch: Any,
                                                                daemon: Daemon) -> None:
    watched: Watched = watch()
    watched.allow(r"status of 404 .*lightweight-charts\.mjs")
    page = watched.page
    page.route(LIBRARY, lambda route: route.fulfill(status=404, body="not found"))
    open_dashboard(watched, daemon)
    note = page.locator("#chart-candles-note")
    assert "chart library did not load" in note.inner_text()
    assert page.get_attribute("#chart-candles", "data-chart") == "unavailable"
    assert "chart library did not load" in page.locator("#chart-equity-note").inner_text()
    assert page.locator("#boot-error").is_hidden()
    # The rest of the page is live: the scanner fills from the stream, the account shows
    # figures, the supervision tree is drawn, and the event log grows.
    wait_js(page, "() => document.querySelectorAll('#scanner-cards .scan-card').length > 0")
    wait_js(page, "() => document.querySelectorAll('#sup-tree li').length > 3")
    wait_js(page, "() => /\\d/.test(document.getElementById('panel-account').innerText)")
    wait_js(page, "() => document.querySelectorAll('#events-list li[data-seq]').length > 0")
    watched.screenshot("chart-library-missing", full_page=False)


def test_with_the_chart_library_the_charts_are_drawn(watch: Any, daemon: Daemon) -> None:
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    assert page.get_attribute("#chart-candles", "data-chart") == "ready"
    wait_js(page, "() => document.querySelectorAll('#chart-candles canvas').length > 0")
    wait_js(page, "() => Number(document.getElementById('chart-candles').dataset.bars) > 0")
