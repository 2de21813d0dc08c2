"""The journal's CSV button: it downloads ``/api/journal/trades.csv`` with the token (never in
a URL) and the dashboard's strategy filter, and the file has the CSV header and one row per
trade of the journal."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from tests.browser.conftest import open_dashboard
from tests.support.daemon import Daemon
from web.journal import TRADE_CSV_COLUMNS


def journal_tickets(daemon: Daemon) -> list[int]:
    return [trade["ticket"] for trade in daemon.get("/api/journal/trades?limit=10000")]


def wait_for_closed_trades(daemon: Daemon, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while len(journal_tickets(daemon)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} closed trades in {timeout} s"
        time.sleep(0.5)


def test_the_csv_button_downloads_every_journal_trade(watch: Any, daemon: Daemon,
                                                      tmp_path: Path) -> None:
    wait_for_closed_trades(daemon, 2)
    watched = watch()
    page = open_dashboard(watched, daemon)
    page.locator("#tab-closed").click()  # the button is above the closed trades
    button = page.locator("#journal-csv")
    assert button.is_visible()
    watched.screenshot("journal-csv")
    for _ in range(5):  # trades keep closing: compare with a journal that held still meanwhile
        before = journal_tickets(daemon)
        with page.expect_download() as info:
            button.click()
        download = info.value
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        if journal_tickets(daemon) == before:
            break
    else:
        raise AssertionError("the journal never held still across a download")
    assert download.suggested_filename == "ensemble-trades.csv"
    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(TRADE_CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(row["ticket"]) for row in rows] == before
    assert all(row["symbol"] and row["closed_at"].endswith("Z") for row in rows)
    fetched = [url for url in watched.api_requests() if "trades.csv" in url]
    assert fetched and all("token=" not in url and "limit=10000" in url for url in fetched)
    assert all("strategy=" not in url for url in fetched)  # "All strategies" keeps every trade
