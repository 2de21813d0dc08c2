"""Soak: a real daemon at ``sim.speed=120`` under fuzzed HTTP and WebSocket clients for an hour,
sampled once a minute, to show that memory, file descriptors and both databases level off.

Every minute it records, over all the daemon's processes (found by their environment marker,
``tests/support/daemon.py``): the summed RSS, the largest RSS of one process, the open file
descriptors, the process count, the size of ``state.db`` and ``events.db`` (with their WAL files)
and of ``sim.db``, the restarts in ``/api/supervisors``, and how many requests got each class
of status. It writes them to ``<out>/soak.csv`` and, at the end, ``<out>/summary.txt``, which
compares the growth of each figure in the second half of the run with the first half.

The load is kept light (about 3 requests a second, one WebSocket held open and reopened every
30 s, a burst of hostile bodies now and then) because the point is time, not pressure. An hour
at 120x is five market days, so the retention is set to 1 market day and the journal to 20,000
events: pruning and incremental vacuum then run several times within the hour, by the same
code as with the defaults (30 days, 500,000 events), which only take longer to reach. A
shorter run can shrink both (``--retention-days``, ``--journal-keep``) to reach them sooner.
The summary ends with both databases' sizes every ``--table-every`` samples.

Trading must go on throughout, or the records whose growth and pruning the soak watches stop
being written. The simulated market at 120x loses fast, and with the seed's automatic stops a
30-minute soak placed its last order in its first minutes: two losses in a row on a symbol
deny it for the rest of the broker day, and the count is kept, so the next loss denies it again
(``CONSECUTIVE_LOSSES`` was the denial of every later cycle), and the daily loss limit, the day
stop and the kill switch follow. With those lifted, a pilot still stopped at minute 2: after 20
closed trades the Kelly fraction of a losing record is at or below zero, and sizing denies
every entry ``NO_EDGE`` for as long as those trades lie in its 30-day lookback (the whole
hour). So the soak lifts all of them (the settings of the trading test that needs trading to
go on, plus the payoff mandate and Kelly sizing), unless ``--keep-limits``; each minute it
records the orders filled, the open positions, the mode, what blocks new entries and the most
frequent denial codes, and keeps the daemon's log in ``<out>/daemon.log``. The market starts
on a Monday at 00:00 UTC, so the hour's five market days end as the week does (a Tuesday start
ran into the weekend's closed market for its last half hour).

    python -m bench.soak --minutes 60 --out /tmp/soak
    nice -n 10 python -m bench.soak --minutes 30 --retention-days 0.25 --journal-keep 5000

It is not a pytest test; a 5xx or an actor restart is counted and reported, not raised.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

__all__ = ["main"]

FIELDS = ["minute", "wall_s", "processes", "rss_total_mb", "rss_max_mb", "fds",
          "state_db_kb", "events_db_kb", "sim_db_kb", "restarts", "requests", "2xx", "4xx",
          "5xx", "errors", "ws_events", "filled", "positions", "mode", "blocked_by", "denials"]


def _trading(daemon: Any) -> dict[str, Any]:
    """Whether trading goes on: orders filled so far and the open positions (``/metrics``),
    the mode and what blocks new entries (``/api/risk``), and the three most frequent denial
    codes so far. A soak whose orders stop must say why, not only that they did."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    facts: dict[str, Any] = {"filled": -1, "positions": -1, "mode": "?", "blocked_by": "?",
                             "denials": ""}
    with contextlib.suppress(OSError, ValueError):
        request = urllib.request.Request(f"{daemon.base_url}/metrics",
                                         headers={"Authorization": f"Bearer {daemon.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        denials: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "ensemble_orders_total" and \
                        sample.labels.get("result") == "filled":
                    facts["filled"] = int(sample.value)
                elif sample.name == "ensemble_open_positions":
                    facts["positions"] = int(sample.value)
                elif sample.name == "ensemble_risk_denials_total":
                    denials[sample.labels.get("code", "?")] = sample.value
        top = sorted(denials.items(), key=lambda item: -item[1])[:3]
        facts["denials"] = " ".join(f"{code}={int(count)}" for code, count in top)
    with contextlib.suppress(OSError, ValueError, AssertionError, KeyError):
        risk = daemon.get("/api/risk")
        facts["mode"] = risk["mode"]
        facts["blocked_by"] = " ".join(risk["blocked_by"]) or "-"
    return facts


MONDAY = 1733097600.0  # 2024-12-02 00:00 UTC, the Monday before the tests' usual start


def _proc_facts(pids: list[int]) -> tuple[int, float, float, int]:
    total = largest = 0.0
    fds = alive = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        rss_kb = next((int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS:")), 0)
        total += rss_kb / 1024
        largest = max(largest, rss_kb / 1024)
        alive += 1
    return alive, total, largest, fds


def _db_kb(data_dir: Path, name: str) -> float:
    size = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            size += (data_dir / f"{name}{suffix}").stat().st_size
    return size / 1024


def _restarts(daemon: Any) -> int:
    total = 0

    def walk(node: dict[str, Any]) -> None:
        nonlocal total
        total += int(node.get("restarts") or 0)
        for child in node["children"]:
            walk(child)

    walk(daemon.tree())
    return total


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_class = {"2xx": 0, "4xx": 0, "5xx": 0, "errors": 0}
        self.requests = 0
        self.ws_events = 0
        self.five_hundreds: list[str] = []

    def add(self, status: int | None, what: str) -> None:
        with self.lock:
            self.requests += 1
            if status is None:
                self.by_class["errors"] += 1
            elif status >= 500:
                self.by_class["5xx"] += 1
                if len(self.five_hundreds) < 20:
                    self.five_hundreds.append(f"{status} {what}")
            elif status >= 400:
                self.by_class["4xx"] += 1
            else:
                self.by_class["2xx"] += 1


def _http_load(daemon: Any, counts: _Counts, stop: threading.Event, pause_s: float) -> None:
    """Fuzzed requests over every route (tests/support/http_fuzz.py), a fresh seed per batch.
    The fault switches, the reconnect route and the controls are left out: a soak measures
    steady state, and a fuzzed kill switch or pause would stop the trading whose records it
    is there to watch grow and be pruned."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import NonInteractiveExampleWarning

    from tests.integration.test_web_api import send_fuzzed
    from tests.support.http_fuzz import FuzzRequest, requests

    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    token = daemon.token

    @settings(max_examples=50, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests(token, exclude=frozenset({"/api/broker/reconnect", "/api/sim/faults",
                                              "/api/control/{command}"})))
    def batch(request: FuzzRequest) -> None:
        if stop.is_set():
            return
        try:
            status, _ = send_fuzzed(daemon, request)
        except (OSError, ValueError, IndexError):
            status = None
        counts.add(status, f"{request.method} {request.path[:80]}")
        stop.wait(pause_s)

    while not stop.is_set():
        batch()


async def _ws_load(daemon: Any, counts: _Counts, stop: threading.Event) -> None:
    import aiohttp

    from tests.support.ws import EventClient

    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            client = EventClient(session, f"{daemon.ws_url}?token={daemon.token}")
            try:
                await client.connect()
                for _ in range(30):
                    if stop.is_set():
                        break
                    await asyncio.sleep(1)
            except (aiohttp.ClientError, OSError):
                counts.add(None, "ws connect")
                await asyncio.sleep(5)
            finally:
                with contextlib.suppress(Exception):
                    await client.close()
            with counts.lock:
                counts.ws_events += len(client.events)


def _size_table(rows: list[dict[str, Any]], every: int) -> list[str]:
    """state.db and events.db (with their WAL files) every ``every`` samples, and the last."""
    picked = [row for row in rows if int(row["minute"]) % every == 0]
    if rows and picked[-1] is not rows[-1]:
        picked.append(rows[-1])
    lines = ["| minute | state.db KB | events.db KB | RSS MB | orders filled | blocked by |",
             "|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {row['minute']} | {row['state_db_kb']:,} | {row['events_db_kb']:,} | "
              f"{row['rss_total_mb']} | {row['filled']} | {row['blocked_by']} |"
              for row in picked]
    return lines


def _summary(rows: list[dict[str, Any]], counts: _Counts, every: int = 5) -> str:
    lines = [f"{len(rows)} samples; requests {counts.requests} "
             f"({counts.by_class}), WebSocket events received {counts.ws_events}"]
    if counts.five_hundreds:
        lines.append("5xx: " + "; ".join(counts.five_hundreds))
    if len(rows) >= 5:
        half = len(rows) // 2
        first, middle, last = rows[1], rows[half], rows[-1]  # row 0 is before any load
        for field in ("rss_total_mb", "rss_max_mb", "fds", "processes", "state_db_kb",
                      "events_db_kb", "sim_db_kb"):
            early = float(middle[field]) - float(first[field])
            late = float(last[field]) - float(middle[field])
            peak = max(float(row[field]) for row in rows[half:])
            lines.append(f"{field}: minute {first['minute']} {first[field]}, minute "
                         f"{middle['minute']} {middle[field]}, minute {last['minute']} "
                         f"{last[field]} (peak in the second half {peak:.1f}); growth first "
                         f"half {early:+.1f}, second half {late:+.1f}")
        lines.append(f"actor restarts: {rows[0]['restarts']} at start, {last['restarts']} at "
                     "the end")
    if rows:
        active = [row["minute"] for row, before in zip(rows[1:], rows, strict=False)
                  if int(row["filled"]) > int(before["filled"])]
        lines.append(f"orders filled: {rows[-1]['filled']}; minutes with a fill: {len(active)} "
                     f"of {len(rows) - 1}, the last at minute {active[-1] if active else '-'}; "
                     f"at the end mode {rows[-1]['mode']}, blocked by {rows[-1]['blocked_by']}, "
                     f"denials {rows[-1]['denials'] or '-'}")
    lines += _size_table(rows, every)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("soak-out"))
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between requests")
    parser.add_argument("--retention-days", type=float, default=1.0,
                        help="state.retention_days (market days; 120x: 12 wall minutes a day)")
    parser.add_argument("--journal-keep", type=int, default=20_000,
                        help="broadcaster.journal_keep (events kept in events.db)")
    parser.add_argument("--prune-interval", type=float, default=60.0,
                        help="state.prune_interval_s")
    parser.add_argument("--table-every", type=int, default=5,
                        help="samples between two rows of the size table")
    parser.add_argument("--keep-limits", action="store_true",
                        help="keep the seed's automatic stops (loss streak, day loss, kill "
                             "switch, payoff mandate): trading then stops within minutes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="one more daemon setting (repeatable)")
    args = parser.parse_args(argv)

    from tests.integration.test_trading_e2e import LIMITS_LIFTED
    from tests.support.daemon import Daemon

    args.out.mkdir(parents=True, exist_ok=True)
    counts = _Counts()
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="ensemble-soak-") as directory:
        limits = () if args.keep_limits else (*LIMITS_LIFTED,
                                              "risk.rules.payoff_min_trades=1000000",
                                              "risk.sizing.kelly_min_trades=1000000")
        daemon = Daemon(Path(directory) / "data", "sim.speed=120", f"sim.start={MONDAY:.1f}",
                        *limits,
                        f"state.retention_days={args.retention_days:g}",
                        f"state.prune_interval_s={args.prune_interval:g}",
                        f"broadcaster.journal_keep={args.journal_keep}", *args.set)
        daemon.start()
        workers = [threading.Thread(target=_http_load, args=(daemon, counts, stop, args.pause),
                                    daemon=True),
                   threading.Thread(target=lambda: asyncio.run(_ws_load(daemon, counts, stop)),
                                    daemon=True)]
        rows: list[dict[str, Any]] = []
        started = time.monotonic()
        try:
            with open(args.out / "soak.csv", "w", newline="") as handle:
                writer = csv.DictWriter(handle, FIELDS)
                writer.writeheader()
                minute = 0
                while True:
                    alive, total, largest, fds = _proc_facts(daemon.processes())
                    try:
                        restarts = _restarts(daemon)
                    except (OSError, AssertionError, ValueError, KeyError):
                        restarts = -1
                    trading = _trading(daemon)
                    with counts.lock:
                        row = {"minute": minute, "wall_s": round(time.monotonic() - started),
                               "processes": alive, "rss_total_mb": round(total, 1),
                               "rss_max_mb": round(largest, 1), "fds": fds,
                               "state_db_kb": round(_db_kb(daemon.data_dir, "state.db")),
                               "events_db_kb": round(_db_kb(daemon.data_dir, "events.db")),
                               "sim_db_kb": round(_db_kb(daemon.data_dir, "sim.db")),
                               "restarts": restarts, "requests": counts.requests,
                               **counts.by_class, "ws_events": counts.ws_events,
                               **trading}
                    rows.append(row)
                    writer.writerow(row)
                    handle.flush()
                    if minute == 0:
                        for worker in workers:
                            worker.start()
                    if time.monotonic() - started >= args.minutes * 60:
                        break
                    minute += 1
                    time.sleep(max(0.0, started + minute * args.interval - time.monotonic()))
        finally:
            stop.set()
            for worker in workers:
                if worker.is_alive():
                    worker.join(40)
            daemon.stop()
            # The daemon's log outlives the temporary directory: why trading stopped, if it did.
            with contextlib.suppress(OSError):
                shutil.copyfile(daemon.log_path, args.out / "daemon.log")
        summary = _summary(rows, counts, args.table_every)
        (args.out / "summary.txt").write_text(summary)
        print(summary, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
