"""Fan-out: events from a producer to N WebSocket clients, Ensemble against the seed's broadcast.

For each N (1, 10, 100 by default) and each system, N WebSocket clients connect from this one
asyncio process, then a producer emits ``rate`` BENCH_TICK events per second for ``duration``
seconds. Each event carries ``sent_at``, the wall time it was emitted.

- **ensemble**: a real daemon (:class:`tests.support.daemon.Daemon`, temporary data directory,
  free ports, default settings). The producer is the bench-only actor of :mod:`bench.producer`,
  started by :meth:`Daemon.produce`; it publishes ``batch`` events per message through the real
  Broadcaster (journal, seq) → WebFront (hub, per-client queues, batched frames) path.
  Clients connect to ``/ws?token=…``; frames are ``{"v": 1, "events": [...]}``.
- **baseline**: :mod:`bench.naive_server` in a subprocess, which generates the same stream at
  the same rate on its own loop and, for each event, awaits ``ws.send_json(event)`` for each
  client in turn, as the seed's ``ConnectionManager`` did. One event per frame.

Per client: delivered BENCH_TICK events per second (events received ÷ time from the first
event's emission to the last event's arrival), and whether every event arrived in order with no
gap (``seq`` consecutive from the snapshot's ``last_seq``, ``n`` consecutive from 0, all
``count`` of them). Latency is ``time.time()`` once a frame is decoded minus the event's
``sent_at``; p50 and p99 are over every event of every client. A frame is decoded once
(``json.loads``) whatever the number of events in it.

The baseline stamps an event when it creates it: when its sequential broadcast falls behind,
later events are created late rather than queued, so its lag shows as fewer events/s, not as
latency. Ensemble's producer is never held back, so any backlog in its pipeline is latency.
Both systems get a short warm-up (one client, ``WARM_UP_S`` of events) that is not reported.

The clients share the machine with the server; on 2 cores they compete for CPU with the daemon
(or the baseline server). The line printed under each row gives the cores each process used
while the events streamed, what the rest of the machine used ("other work"), and how late the
clients' own loop woke from a 5 ms sleep (the share of latency that is the clients').

``python -m bench.fanout [--clients 1,10,100] [--rate 1000] [--duration 10] [--batch 10]
[--systems ensemble,baseline] [--set web.flush_interval_ms=5]``. The default run takes 70 to
100 s and stops by itself; the baseline's producer gives up after three times ``duration``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import percentile
from tests.support.daemon import REPO, Daemon, free_port

__all__ = ["ClientStats", "RunResult", "main", "run_benchmark"]

WARM_UP_S = 2.0  # seconds of events sent to one client before the measured runs
GRACE_S = 10.0  # how long to wait for the last events once the producer is done
START_TIMEOUT_S = 30.0  # how long the daemon may take to report "running"
CONNECT_TIMEOUT_S = 30.0
TARGET_CLIENTS = 100
TARGET_P99_S = 0.050
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- clients -------------------------------------------------------------------------------


@dataclass
class ClientStats:
    """What one client saw during one run."""

    next_seq: int
    next_n: int = 0
    ticks: int = 0
    in_order: bool = True
    first_sent_at: float | None = None
    last_received: float = 0.0
    frames: int = 0
    latencies: list[float] = field(default_factory=list)
    close_code: int | None = None

    def take(self, events: list[dict[str, Any]] | tuple[dict[str, Any], ...],
             now: float) -> None:
        """Account for the events of one decoded frame, received at ``now``."""
        self.frames += 1
        latencies = self.latencies
        for event in events:
            seq = event["seq"]
            if seq != self.next_seq:
                self.in_order = False
            self.next_seq = seq + 1
            if event["type"] != "BENCH_TICK":
                continue
            if event["n"] != self.next_n:
                self.in_order = False
            self.next_n = event["n"] + 1
            if self.first_sent_at is None:
                self.first_sent_at = event["sent_at"]
            latencies.append(now - event["sent_at"])
        self.ticks = len(latencies)
        self.last_received = now

    def events_per_s(self) -> float:
        if not self.ticks or self.first_sent_at is None:
            return 0.0
        return self.ticks / max(self.last_received - self.first_sent_at, 1e-9)


async def _open(session: aiohttp.ClientSession, url: str) -> tuple[aiohttp.ClientWebSocketResponse,
                                                                     ClientStats]:
    """Connect, read the first frame (snapshot or hello) and learn the next seq."""
    ws = await session.ws_connect(url, heartbeat=None, max_msg_size=64 * 1024 * 1024)
    first = await ws.receive(timeout=CONNECT_TIMEOUT_S)
    if first.type != aiohttp.WSMsgType.TEXT:
        raise RuntimeError(f"{url}: expected a first text frame, got {first.type!r}")
    payload = json.loads(first.data)
    if "events" in payload:  # Ensemble: {"v":1,"events":[STATE_SNAPSHOT]}
        last_seq = int(payload["events"][0]["data"]["last_seq"])
    else:  # baseline: {"type":"HELLO","last_seq":N}
        last_seq = int(payload["last_seq"])
    return ws, ClientStats(next_seq=last_seq + 1)


async def _read(ws: aiohttp.ClientWebSocketResponse, stats: ClientStats) -> None:
    loads = json.loads
    now = time.time
    text = aiohttp.WSMsgType.TEXT
    async for message in ws:
        if message.type != text:
            break
        payload = loads(message.data)
        events = payload["events"] if "v" in payload else (payload,)
        stats.take(events, now())
    stats.close_code = ws.close_code


# --- one run -------------------------------------------------------------------------------


@dataclass
class RunResult:
    system: str
    clients: int
    count: int
    emitted: int
    stats: list[ClientStats]
    seconds: float
    cpu: dict[str, float]  # seconds of CPU per second of streaming, by process
    client_lag: list[float]  # how late the clients' loop woke from a 5 ms sleep

    def complete(self) -> bool:
        return self.emitted == self.count and all(
            s.in_order and s.ticks == self.count for s in self.stats
        )

    def latencies(self) -> list[float]:
        return [value for s in self.stats for value in s.latencies]

    def events_per_s(self) -> float:
        return percentile([s.events_per_s() for s in self.stats], 0.5)

    def p(self, fraction: float) -> float:
        values = self.latencies()
        return percentile(values, fraction) if values else float("nan")


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from ``/proc/stat``."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


class CpuMeter:
    """Cores used by each process while the events stream, sampled every half second.

    ``processes`` lists the processes to account for by pid, with a name for each (this
    process, the clients, is added). Measuring starts when the first event arrives, so the
    producer's start-up is left out; a process that appears later is counted from zero, one
    that exits up to its last sample. The whole machine's busy time is read too: what no listed
    process used is someone else's (other work on the machine).
    """

    def __init__(self, processes: Callable[[], dict[int, str]]) -> None:
        self.processes = processes
        self.names: dict[int, str] = {}
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self.machine: list[float] = []
        self._lock = threading.Lock()

    def sample(self) -> None:
        with self._lock:
            listed = {**self.processes(), os.getpid(): "clients (this process)"}
            initial = self.started_at is None
            for pid, name in listed.items():
                value = _cpu_seconds(pid)
                if value is None:
                    continue
                self.names.setdefault(pid, name)
                self.first.setdefault(pid, value if initial else 0.0)
                self.last[pid] = value
            self.machine.append(_machine_busy_seconds())
            if initial:
                self.started_at = time.monotonic()
            else:
                self.stopped_at = time.monotonic()

    async def run(self, streaming: Callable[[], bool], period: float = 0.5) -> None:
        while not streaming():
            await asyncio.sleep(0.01)
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(period)

    def usage(self) -> dict[str, float]:
        """Cores used, by process name, between the first and the last sample."""
        if self.started_at is None or self.stopped_at is None:
            return {}
        seconds = self.stopped_at - self.started_at
        usage: dict[str, float] = {}
        for pid, last in self.last.items():
            name = self.names[pid]
            usage[name] = usage.get(name, 0.0) + (last - self.first[pid]) / seconds
        machine = (self.machine[-1] - self.machine[0]) / seconds
        usage["other work on the machine"] = max(0.0, machine - sum(usage.values()))
        return usage


async def _watch_lag(samples: list[float], period: float = 0.005) -> None:
    """How late this process's loop wakes up: the share of latency that is the clients' own."""
    loop = asyncio.get_running_loop()
    while True:
        expected = loop.time() + period
        await asyncio.sleep(period)
        samples.append(loop.time() - expected)


async def run_once(system: str, url: str, clients: int, count: int,
                   produce: Callable[[], Awaitable[int]],
                   processes: Callable[[], dict[int, str]]) -> RunResult:
    """Connect ``clients`` clients to ``url``, run ``produce`` and collect what they saw."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        opened = await asyncio.wait_for(
            asyncio.gather(*(_open(session, url) for _ in range(clients))), CONNECT_TIMEOUT_S
        )
        stats = [client_stats for _, client_stats in opened]
        readers = [asyncio.create_task(_read(ws, s)) for ws, s in opened]
        lag: list[float] = []
        watcher = asyncio.create_task(_watch_lag(lag))
        meter = CpuMeter(processes)
        sampler = asyncio.create_task(
            meter.run(lambda: any(s.first_sent_at is not None for s in stats))
        )
        started = time.monotonic()
        try:
            emitted = await produce()
            deadline = time.monotonic() + GRACE_S
            while (any(s.ticks < emitted for s in stats) and time.monotonic() < deadline
                   and not all(r.done() for r in readers)):
                await asyncio.sleep(0.02)
            wall = time.monotonic() - started
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            if meter.started_at is not None:
                await asyncio.to_thread(meter.sample)
            cpu = meter.usage()
        finally:
            watcher.cancel()
            sampler.cancel()
            await asyncio.gather(*(asyncio.wait_for(ws.close(), 2.0) for ws, _ in opened),
                                 return_exceptions=True)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, watcher, sampler, return_exceptions=True)
    return RunResult(system, clients, count, emitted, stats, wall, cpu, lag)


# --- the two systems -----------------------------------------------------------------------


def _daemon_processes(daemon: Daemon) -> Callable[[], dict[int, str]]:
    """Lists the daemon's processes, named after their node in the supervision tree.

    Processes that are not in the tree are Thespian's admin and logger, and, once the run has
    started, the producer: its command line process and the producer actor.
    """
    names: dict[int, str] = {}

    def walk(node: dict[str, Any]) -> None:
        if node.get("pid"):
            names[int(node["pid"])] = str(node["name"])
        for child in node.get("children", []):
            walk(child)

    walk(daemon.tree())
    known = set(daemon.processes())

    def name(pid: int) -> str:
        if pid in names:
            return names[pid]
        if pid in known:
            return "admin+logger"
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return "producer"
        return "producer command" if b"produce_events" in command else "producer actor"

    return lambda: {pid: name(pid) for pid in daemon.processes()}


class BaselineServer:
    """:mod:`bench.naive_server` in a subprocess, stopped by :meth:`stop`."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> BaselineServer:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.naive_server", "--port", str(self.port)],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the baseline server exited: {self.log_path.read_text()}")
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(self.url + "/health", timeout=1):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"the baseline server did not answer in {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


async def _ensemble_run(daemon: Daemon, clients: int, count: int, rate: float,
                        batch: int) -> RunResult:
    async def produce() -> int:
        await asyncio.to_thread(daemon.produce, count, rate, batch)
        return count

    url = f"{daemon.ws_url}?token={daemon.token}"
    result = await run_once("ensemble", url, clients, count, produce, _daemon_processes(daemon))
    if not result.complete():
        # Say what the daemon logged meanwhile: the run's temporary directory goes away.
        notable = [line for line in daemon.log().splitlines()
                   if "warning" in line or "error" in line][-10:]
        for line in notable:
            print(f"         daemon log: {line[:200]}", flush=True)
    return result


async def _baseline_run(server: BaselineServer, clients: int, count: int, rate: float,
                        max_seconds: float) -> RunResult:
    async def produce() -> int:
        timeout = aiohttp.ClientTimeout(total=max_seconds + 30)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
            server.url + "/run", json={"count": count, "rate": rate, "max_seconds": max_seconds}
        ) as response:
            return int((await response.json())["emitted"])

    assert server.process is not None
    url = server.url.replace("http", "ws", 1) + "/ws"
    pid = server.process.pid
    return await run_once("baseline", url, clients, count, produce,
                          lambda: {pid: "baseline server"})


# --- report --------------------------------------------------------------------------------


def _row(result: RunResult) -> str:
    complete = "yes" if result.complete() else "no"
    if not result.complete():
        short = sum(1 for s in result.stats if s.ticks < result.count)
        disorder = sum(1 for s in result.stats if not s.in_order)
        complete += (f" (emitted {result.emitted}/{result.count}; {short} clients short, "
                     f"{disorder} out of order)")
    return (f"{result.system:<8} N={result.clients:<3} {result.events_per_s():7.0f} events/s "
            f"per client (median)  in-order-complete: {complete}  "
            f"latency p50 {result.p(0.5) * 1000:6.1f} ms  p99 {result.p(0.99) * 1000:7.1f} ms  "
            f"max {result.p(1.0) * 1000:7.1f} ms")


def _cpu_line(result: RunResult) -> str:
    parts = sorted(result.cpu.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{name} {value:.2f}" for name, value in parts if value >= 0.01)
    lag = result.client_lag or [0.0]
    return (f"         cpu (cores): {shown}; total {sum(result.cpu.values()):.2f} of "
            f"{os.cpu_count()}; client loop lag p50 {percentile(lag, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(lag, 0.99) * 1000:.1f} ms")


def _ratio_line(ours: RunResult, base: RunResult) -> str:
    p99 = ours.p(0.99) / base.p(0.99)
    throughput = ours.events_per_s() / base.events_per_s()
    return (f"ratio    N={ours.clients:<3} ensemble/baseline: p99 latency {p99:.3g} "
            f"(below 1: Ensemble is faster), throughput {throughput:.2f}")


def _target_line(results: list[RunResult]) -> str | None:
    at_target = [r for r in results if r.system == "ensemble" and r.clients == TARGET_CLIENTS]
    if not at_target:
        return None
    result = at_target[0]
    met = result.complete() and result.p(0.99) < TARGET_P99_S
    return (f"target   N={TARGET_CLIENTS}: every event in order and p99 < "
            f"{TARGET_P99_S * 1000:.0f} ms: "
            f"{'met' if met else 'NOT met'} (p99 {result.p(0.99) * 1000:.1f} ms, "
            f"complete {'yes' if result.complete() else 'no'})")


def _start_daemon(daemon: Daemon, scratch: Path, settings: tuple[str, ...]) -> Daemon:
    """Start the daemon; if it is not ready in time, say what it answered and try a fresh one
    once (the second failure is raised)."""
    daemon.start(wait=False)
    try:
        daemon.wait_ready(START_TIMEOUT_S)
        return daemon
    except AssertionError:
        try:
            status, body = daemon.request("GET", "/api/supervisors")
            answer = f"{status} {str(body)[:300]}"
        except OSError as error:
            answer = repr(error)
        print(f"warning: the daemon was not ready in {START_TIMEOUT_S:.0f} s (last answer of "
              f"/api/supervisors: {answer}); starting a fresh one", flush=True)
        daemon.stop()
    retry = Daemon(scratch / "data-retry", *settings)
    try:
        retry.start(wait=False)
        retry.wait_ready(START_TIMEOUT_S)
    except BaseException:
        retry.stop()
        raise
    return retry


async def run_benchmark(client_counts: list[int], rate: float, duration: float, batch: int,
                        systems: list[str], scratch: Path,
                        settings: tuple[str, ...] = ()) -> list[RunResult]:
    count = int(rate * duration)
    results: list[RunResult] = []
    daemon = Daemon(scratch / "data", *settings) if "ensemble" in systems else None
    baseline = BaselineServer(scratch / "baseline.log") if "baseline" in systems else None
    try:
        if daemon is not None:
            daemon = await asyncio.to_thread(_start_daemon, daemon, scratch, settings)
        if baseline is not None:
            await asyncio.to_thread(baseline.start)
        # Warm-up, not reported: the first events after start-up pay for imports, caches and
        # the daemon's own start-up work.
        warm_up = max(1, int(rate * WARM_UP_S))
        if daemon is not None:
            await _ensemble_run(daemon, 1, warm_up, rate, batch)
        if baseline is not None:
            await _baseline_run(baseline, 1, warm_up, rate, max_seconds=WARM_UP_S * 3)
        for clients in client_counts:
            pair: dict[str, RunResult] = {}
            if daemon is not None:
                pair["ensemble"] = await _ensemble_run(daemon, clients, count, rate, batch)
            if baseline is not None:
                pair["baseline"] = await _baseline_run(baseline, clients, count, rate,
                                                       max_seconds=duration * 3)
            for result in pair.values():
                print(_row(result), flush=True)
                print(_cpu_line(result), flush=True)
            if len(pair) == 2:
                print(_ratio_line(pair["ensemble"], pair["baseline"]), flush=True)
            results.extend(pair.values())
    finally:
        if daemon is not None:
            await asyncio.to_thread(daemon.stop)
        if baseline is not None:
            baseline.stop()
    return results


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,10,100",
                        help="comma-separated client counts (default 1,10,100)")
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of events")
    parser.add_argument("--batch", type=int, default=10,
                        help="events per producer message (Ensemble only)")
    parser.add_argument("--systems", default="ensemble,baseline")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a daemon setting, e.g. web.flush_interval_ms=5 (repeatable)")
    args = parser.parse_args(argv)
    client_counts = [int(part) for part in args.clients.split(",") if part.strip()]
    systems = [part.strip() for part in args.systems.split(",") if part.strip()]
    print(f"fan-out: {args.rate:.0f} events/s for {args.duration:g} s, clients {client_counts}, "
          f"producer batch {args.batch}, daemon settings {args.set or 'default'}; "
          f"{os.cpu_count()} cores shared by clients and server", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the daemon and the server on SIGTERM too
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="ensemble-fanout-") as scratch:
            results = asyncio.run(run_benchmark(client_counts, args.rate, args.duration,
                                                args.batch, systems, Path(scratch),
                                                tuple(args.set)))
    except KeyboardInterrupt:
        print("fan-out benchmark interrupted; its daemon and server are stopped", flush=True)
        return 130
    target = _target_line(results)
    if target is not None:
        print(target)
    print(f"fan-out benchmark took {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
