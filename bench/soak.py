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
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

__all__ = ["main"]

FIELDS = ["minute", "wall_s", "processes", "rss_total_mb", "rss_max_mb", "fds",
          "state_db_kb", "events_db_kb", "sim_db_kb", "restarts", "requests", "2xx", "4xx",
          "5xx", "errors", "ws_events"]


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
    lines = ["| minute | state.db KB | events.db KB |", "|---:|---:|---:|"]
    lines += [f"| {row['minute']} | {row['state_db_kb']:,} | {row['events_db_kb']:,} |"
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
    args = parser.parse_args(argv)

    from tests.support.daemon import FAST_MARKET, Daemon

    args.out.mkdir(parents=True, exist_ok=True)
    counts = _Counts()
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="ensemble-soak-") as directory:
        daemon = Daemon(Path(directory) / "data", *FAST_MARKET,
                        f"state.retention_days={args.retention_days:g}",
                        f"state.prune_interval_s={args.prune_interval:g}",
                        f"broadcaster.journal_keep={args.journal_keep}")
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
                    with counts.lock:
                        row = {"minute": minute, "wall_s": round(time.monotonic() - started),
                               "processes": alive, "rss_total_mb": round(total, 1),
                               "rss_max_mb": round(largest, 1), "fds": fds,
                               "state_db_kb": round(_db_kb(daemon.data_dir, "state.db")),
                               "events_db_kb": round(_db_kb(daemon.data_dir, "events.db")),
                               "sim_db_kb": round(_db_kb(daemon.data_dir, "sim.db")),
                               "restarts": restarts, "requests": counts.requests,
                               **counts.by_class, "ws_events": counts.ws_events}
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
        summary = _summary(rows, counts, args.table_every)
        (args.out / "summary.txt").write_text(summary)
        print(summary, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
