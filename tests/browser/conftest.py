"""Browser tests: the dashboard in real headless Chromium (Debian's package, driven through
Playwright's Python API), against the real daemon on the simulated market running fast.

Every page is watched for the whole test: console errors and uncaught exceptions fail the test
(network errors the test expects, such as a 404 from an endpoint that is not built yet, are
allowed by name), and every request must go to the daemon's own host. Screenshots are saved
under ``tests/browser/artifacts/`` for a person to look at.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import FAST_MARKET, REPO, Daemon

CHROMIUM = Path(os.environ.get("ENSEMBLE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
VENDOR = REPO / "web" / "static" / "vendor" / "lightweight-charts.mjs"
VIEWPORT = {"width": 1280, "height": 800}
# The simulated market running fast, from a weekday morning. The automatic loss limits are
# lifted so that the paper account keeps trading for the whole run (a losing streak would
# otherwise halt it).
TRADING_MARKET = (
    *FAST_MARKET, "strategy.scan_interval_s=2", "risk.kill_switch.max_loss_pct=0",
    "risk.rules.day_stop_beyond_stop_r=1e6",
    "risk.rules.max_daily_loss=1000000", "risk.rules.max_daily_loss_pct=0",
    "risk.rules.consecutive_loss_limit=1000",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def playwright_api() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install "
                    "chromium) or set ENSEMBLE_CHROMIUM to a Chromium binary")
    if not VENDOR.exists():
        pytest.fail(f"{VENDOR.relative_to(REPO)} is missing: it is committed; restore it with "
                    "git checkout, or rebuild it with `make vendor`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    started = Daemon(tmp_path_factory.mktemp("browser") / "data", *TRADING_MARKET).start()
    yield started
    started.stop()


@dataclass
class Watched:
    """A page and everything it did: console errors, exceptions, requests, WebSockets."""

    page: Any
    base_url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Accept console errors matching ``pattern`` (an expected network failure)."""
        self.allowed.append(re.compile(pattern))

    def api_requests(self) -> list[str]:
        return [url for url in self.requests if "/api/" in url]

    def control_requests(self) -> list[str]:
        return [url for url in self.requests if "/api/control/" in url]

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def foreign_requests(self) -> list[str]:
        own = (self.base_url, self.base_url.replace("http://", "ws://"))
        return [url for url in self.requests + self.websockets
                if not url.startswith(own) and not url.startswith(("data:", "blob:"))]


@pytest.fixture
def browser_context(playwright_api: Any, tmp_path: Path) -> Iterator[Any]:
    context = playwright_api.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
        args=CHROMIUM_FLAGS, viewport=VIEWPORT,
    )
    yield context
    context.close()


@pytest.fixture
def watch(browser_context: Any, daemon: Daemon) -> Iterator[Any]:
    """``watch()`` opens a watched page; at teardown each must have no unexpected console
    error and no request to another host."""
    pages: list[Watched] = []

    def open_page() -> Watched:
        page = browser_context.new_page()
        watched = Watched(page, daemon.base_url)

        def on_console(message: Any) -> None:
            if message.type != "error":
                return
            url = (message.location or {}).get("url", "")
            watched.errors.append(f"{message.text} [{url}]")

        page.on("console", on_console)
        page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))
        page.on("request", lambda request: watched.requests.append(request.url))
        page.on("websocket", lambda ws: watched.websockets.append(ws.url))
        page.set_default_timeout(20_000)
        pages.append(watched)
        return watched

    yield open_page
    for watched in pages:
        assert watched.unexpected_errors() == [], "console errors on the page"
        assert watched.foreign_requests() == [], "requests to another host"


def wait_js(page: Any, expression: str, arg: Any = None, timeout: float = 20.0) -> Any:
    """Poll a JavaScript function of ``arg`` until it returns something truthy.

    (Playwright's wait_for_function evaluates its predicate with ``eval``, which the page's
    Content-Security-Policy rightly forbids; ``page.evaluate`` is not affected, and the tests
    keep the policy in force.)
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = page.evaluate(expression, arg)
        if last:
            return last
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out after {timeout} s waiting for {expression} (last: {last!r})")


def open_dashboard(watched: Watched, daemon: Daemon) -> Any:
    """Open /?token=… and wait until the live connection has delivered its snapshot."""
    page = watched.page
    page.goto(f"{daemon.base_url}/?token={daemon.token}")
    wait_js(page, "() => document.body.dataset.connection === 'live'")
    return page


def actor_names(daemon: Daemon) -> list[str]:
    names: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        names.append(node["name"])
        for child in node["children"]:
            walk(child)

    walk(daemon.tree())
    return names
