"""Fan-out: events from a producer to N WebSocket clients, Ensemble against two baselines.

For each N (1, 10, 100 by default) and each system, N WebSocket clients connect from this one
asyncio process, then a producer emits ``rate`` BENCH_TICK events per second for ``duration``
seconds. Each event carries ``sent_at``, the wall time it was emitted. The three systems are
measured in the same run, one after the other, so their ratios mean something on a busy machine.

- **ensemble**: a real daemon (:class:`tests.support.daemon.Daemon`, temporary data directory,
  free ports, default settings). The producer is the bench-only actor of :mod:`bench.producer`,
  started by ``bench.produce_events``; it publishes ``batch`` events per message through the
  real Broadcaster (journal, seq) → WebFront (hub, per-client queues, batched frames) path.
  Clients connect to ``/ws?token=…``; frames are ``{"v": 1, "events": [...]}``.
- **wellbuilt**: :mod:`bench.wellbuilt_server` in a subprocess: a single-process aiohttp server
  that encodes each event once, queues it for each client (bounded queue, one writer task per
  client) and sends what queued as one frame per client every 10 ms.
- **seed**: :mod:`bench.naive_server` in a subprocess: for each event, awaits
  ``ws.send_json(event)`` for each client in turn, as the seed's ``ConnectionManager`` did.
  One event per frame. (``--systems baseline`` still names it.)

Per client: delivered BENCH_TICK events per second (events received ÷ time from the first
event's emission to the last event's arrival), and whether every event arrived in order with no
gap (``seq`` consecutive from the snapshot's ``last_seq``, ``n`` consecutive from 0, all
``count`` of them). Latency is ``time.time()`` once a frame is decoded minus the event's
``sent_at``; p50 and p99 are over every event of every client. A frame is decoded once
(``json.loads``) whatever the number of events in it. CPU per delivered event is the CPU time
of the server's processes (for Ensemble: every process of the daemon and the producer) while
the events streamed, divided by the events delivered to all clients.

The baselines stamp an event when they create it: when a broadcast falls behind, later events
are created late rather than queued, so their lag shows as fewer events/s, not as latency.
Ensemble's producer is never held back, so any backlog in its pipeline is latency. Every system
gets a short warm-up (one client, ``WARM_UP_S`` of events) that is not reported.

``--saturate [RATES]`` adds the saturation search at 100 clients: for each rate of the ladder
(default 500 to 4,000/s), ``SATURATION_RUNS`` runs of ``--saturation-duration`` seconds per
system, the systems taking turns run by run; a rate holds when the median run (by p99) has
every client get every event in order at >= 98 % of the rate with p99 < 100 ms, and most runs
are complete. A system climbs until its
first failing rate; its saturation is the last rate that held.

The clients' own garbage collector is off while the events stream (a full collection of their
process, 45-160 ms on this machine, otherwise showed as latency of the system measured).

The clients share the machine with the server; on 2 cores they compete for CPU with the daemon
(or the baseline server). The line printed under each row gives the cores each process used
while the events streamed, what the rest of the machine used ("other work"), and how late the
clients' own loop woke from a 5 ms sleep (the share of latency that is the clients'). The
next line places the run's p99 tail, on client 0: how many of the run's 100 ms spells its
events above p99 fall in (a few: stalls; many: the steady path), the worst spells, and how much
of their latency the clients' own loop lag while they were in flight could account for.

``--quotes N`` has live quotes of N symbols flow beside the stream (issue 12: 40): Ensemble's
simulated terminal then serves N symbols (``sim.symbols``) of a weekday's market running 60x
fast, so that nearly every symbol's tick changes every interval, with no strategy scan during
the run (``strategy.scan_interval_s`` of a market day); the changed ticks the broker
publishes as QUOTE events every ``--quote-interval-ms`` (250; the real broker → Broadcaster →
WebFront path, not numbered, the latest per symbol for each client); each baseline broadcasts N
QUOTE events every interval the same way it broadcasts the stream. Quotes delivered per client
per second are reported, their latency (from their ``timestamp``) on one client, and CPU per
delivered event then counts quotes and ticks. Without it, the daemon sends no quotes
(``broker.quote_interval_ms=0``), as before quotes existed.

``python -m bench.fanout [--clients 1,10,100] [--rate 1000] [--duration 10] [--batch 10]
[--systems ensemble,wellbuilt,seed] [--set web.flush_interval_ms=5] [--saturate]
[--quotes 40]``. The
default run takes about two minutes and stops by itself; a baseline's producer gives up after
three times ``duration``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
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
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from actors.broker.sim.universe import DEFAULT_UNIVERSE
from bench.stats import percentile
from tests.support.daemon import REPO, WEEKDAY_MARKET_START, Daemon, free_port

__all__ = ["ClientStats", "RunResult", "main", "run_benchmark"]

WARM_UP_S = 2.0  # seconds of events sent to one client before the measured runs
GRACE_S = 10.0  # how long to wait for the last events once the producer is done
START_TIMEOUT_S = 30.0  # how long the daemon may take to report "running"
CONNECT_TIMEOUT_S = 30.0
PRODUCER_TIMEOUT_S = 300.0
TARGET_CLIENTS = 100
TARGET_P99_S = 0.050
SATURATION_P99_S = 0.100
SATURATION_RATES = (500.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0)
SATURATION_RUNS = 3
CLIENT_PROCESS = "clients (this process)"
OTHER_WORK = "other work on the machine"
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
    quotes: int = 0
    quote_latencies: list[float] | None = None  # measured on one client only (parsing costs)
    sent: list[float] | None = None  # each tick's sent_at, beside latencies (one client only)
    quote_span: tuple[float, float] | None = None  # first and last frame with quotes

    def take(self, events: list[dict[str, Any]] | tuple[dict[str, Any], ...],
             now: float) -> None:
        """Account for the events of one decoded frame, received at ``now``."""
        self.frames += 1
        latencies = self.latencies
        for event in events:
            if event["type"] == "QUOTE":
                self.quotes += 1  # live quotes are not numbered
                self.quote_span = (self.quote_span or (now, now))[0], now
                if self.quote_latencies is not None:
                    sent = datetime.fromisoformat(event["timestamp"]).timestamp()
                    self.quote_latencies.append(now - sent)
                continue
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
            if self.sent is not None:
                self.sent.append(event["sent_at"])
        self.ticks = len(latencies)
        self.last_received = now

    def events_per_s(self) -> float:
        if not self.ticks or self.first_sent_at is None:
            return 0.0
        return self.ticks / max(self.last_received - self.first_sent_at, 1e-9)

    def quotes_per_s(self) -> float:
        """Quotes received per second, over the span from the first quote to the last."""
        if self.quote_span is None or self.quote_span[1] <= self.quote_span[0]:
            return 0.0
        return self.quotes / (self.quote_span[1] - self.quote_span[0])


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
    server_cpu_s: float = 0.0  # CPU seconds of the server's processes while events streamed
    client_lag_at: list[float] = field(default_factory=list)  # wall time of each lag sample

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

    def delivered(self) -> int:
        """Events delivered to all clients: the stream's, and quotes."""
        return sum(s.ticks + s.quotes for s in self.stats)

    def quotes_per_s(self) -> float:
        return percentile([s.quotes_per_s() for s in self.stats], 0.5)

    def quote_p(self, fraction: float) -> float:
        values = [v for s in self.stats for v in (s.quote_latencies or ())]
        return percentile(values, fraction) if values else float("nan")

    def cpu_us_per_delivered(self) -> float:
        """Server CPU (µs) per event delivered to one client: the cost of one delivery."""
        delivered = self.delivered()
        return self.server_cpu_s / delivered * 1e6 if delivered else float("nan")

    def saturated_at(self, rate: float) -> bool:
        """Every client got every event in order, at >= 98 % of ``rate``, p99 < 100 ms."""
        return (self.complete() and self.events_per_s() >= 0.98 * rate
                and self.p(0.99) < SATURATION_P99_S)


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
            listed = {**self.processes(), os.getpid(): CLIENT_PROCESS}
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
        usage[OTHER_WORK] = max(0.0, machine - sum(usage.values()))
        return usage

    def server_seconds(self) -> float:
        """CPU seconds used by every listed process but the clients."""
        return sum(last - self.first[pid] for pid, last in self.last.items()
                   if self.names[pid] != CLIENT_PROCESS)


async def _watch_lag(samples: list[float], woke_at: list[float],
                     period: float = 0.005) -> None:
    """How late this process's loop wakes up (and when, wall time): the share of latency that
    is the clients' own."""
    loop = asyncio.get_running_loop()
    while True:
        expected = loop.time() + period
        await asyncio.sleep(period)
        samples.append(loop.time() - expected)
        woke_at.append(time.time())


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
        stats[0].quote_latencies = []
        stats[0].sent = []
        # The clients are the instrument: a full collection of this process (45-160 ms here,
        # more as the runs' latencies pile up) showed as latency of whichever system was
        # measured. Refcounting frees the frames; cycles wait for the end of the run.
        gc.collect()
        gc.disable()
        readers = [asyncio.create_task(_read(ws, s)) for ws, s in opened]
        lag: list[float] = []
        lag_at: list[float] = []
        watcher = asyncio.create_task(_watch_lag(lag, lag_at))
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
            server_cpu_s = meter.server_seconds()
        finally:
            gc.enable()
            watcher.cancel()
            sampler.cancel()
            await asyncio.gather(*(asyncio.wait_for(ws.close(), 2.0) for ws, _ in opened),
                                 return_exceptions=True)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, watcher, sampler, return_exceptions=True)
    return RunResult(system, clients, count, emitted, stats, wall, cpu, lag, server_cpu_s,
                     lag_at)


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


BASELINE_MODULES = {"wellbuilt": "bench.wellbuilt_server", "seed": "bench.naive_server"}


class BaselineServer:
    """A baseline (:mod:`bench.naive_server` or :mod:`bench.wellbuilt_server`) in a
    subprocess, stopped by :meth:`stop`."""

    def __init__(self, system: str, log_path: Path) -> None:
        self.system = system
        self.module = BASELINE_MODULES[system]
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> BaselineServer:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "--port", str(self.port)],
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
                        batch: int, publish_window_ms: float = 0.0) -> RunResult:
    async def produce() -> int:
        # Not Daemon.produce: its fixed 120 s limit is too short for a loaded machine, and a
        # producer that fails must fail the run, not the whole benchmark.
        command = [sys.executable, "-m", "bench.produce_events", "--admin-port",
                   str(daemon.admin_port), "--count", str(count), "--rate", str(rate),
                   "--batch", str(batch), "--timeout", str(PRODUCER_TIMEOUT_S),
                   "--publish-window-ms", str(publish_window_ms)]
        process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO, env=daemon.environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, error = await process.communicate()
        if process.returncode != 0:
            print(f"         producer failed ({process.returncode}): "
                  f"{error.decode(errors='replace').strip().splitlines()[-1:]}", flush=True)
            return 0
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
                        max_seconds: float, quotes: int = 0,
                        quote_interval_ms: float = 250.0) -> RunResult:
    async def produce() -> int:
        timeout = aiohttp.ClientTimeout(total=max_seconds + 30)
        body = {"count": count, "rate": rate, "max_seconds": max_seconds, "quotes": quotes,
                "quote_interval_s": quote_interval_ms / 1000.0}
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
            server.url + "/run", json=body
        ) as response:
            return int((await response.json())["emitted"])

    assert server.process is not None
    url = server.url.replace("http", "ws", 1) + "/ws"
    pid = server.process.pid
    return await run_once(server.system, url, clients, count, produce,
                          lambda: {pid: f"{server.system} server"})


# --- report --------------------------------------------------------------------------------


def _row(result: RunResult) -> str:
    complete = "yes" if result.complete() else "no"
    if not result.complete():
        short = sum(1 for s in result.stats if s.ticks < result.count)
        disorder = sum(1 for s in result.stats if not s.in_order)
        complete += (f" (emitted {result.emitted}/{result.count}; {short} clients short, "
                     f"{disorder} out of order)")
    return (f"{result.system:<9} N={result.clients:<3} {result.events_per_s():7.0f} events/s "
            f"per client (median)  in-order-complete: {complete}  "
            f"latency p50 {result.p(0.5) * 1000:6.1f} ms  p99 {result.p(0.99) * 1000:7.1f} ms  "
            f"max {result.p(1.0) * 1000:7.1f} ms  cpu/delivered "
            f"{result.cpu_us_per_delivered():5.1f} us" + _quote_part(result))


def _quote_part(result: RunResult) -> str:
    if not any(s.quotes for s in result.stats):
        return ""
    return (f"  quotes {result.quotes_per_s():5.0f}/s per client, latency (one client) p50 "
            f"{result.quote_p(0.5) * 1000:.1f} ms p99 {result.quote_p(0.99) * 1000:.1f} ms")


def _cpu_line(result: RunResult) -> str:
    parts = sorted(result.cpu.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{name} {value:.2f}" for name, value in parts if value >= 0.01)
    lag = result.client_lag or [0.0]
    return (f"          cpu (cores): {shown}; total {sum(result.cpu.values()):.2f} of "
            f"{os.cpu_count()}; client loop lag p50 {percentile(lag, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(lag, 0.99) * 1000:.1f} ms")


def _tail_line(result: RunResult, spell_s: float = 0.1) -> str:
    """Where the run's p99 tail lies, on client 0: how many of the run's ``spell_s`` spells its
    slow events fall in (a few: stalls; most: the steady path), when the worst spells were, and
    how much of their latency the clients' own loop lag could account for (the longest lag
    sample while each was in flight, capped at its latency)."""
    stats = result.stats[0] if result.stats else None
    if stats is None or not stats.sent or not stats.latencies:
        return "          tail: no events"
    threshold = result.p(0.99)
    slow = [(sent, latency) for sent, latency in zip(stats.sent, stats.latencies, strict=True)
            if latency > threshold]
    start = stats.sent[0]
    spells = int((stats.sent[-1] - start) / spell_s) + 1
    by_spell: dict[int, int] = {}
    for sent, _ in slow:
        by_spell[int((sent - start) / spell_s)] = by_spell.get(int((sent - start) / spell_s),
                                                               0) + 1
    worst = sorted(by_spell.items(), key=lambda item: -item[1])[:3]
    times, lags = result.client_lag_at, result.client_lag
    covered = 0.0
    for sent, latency in slow:
        first = bisect.bisect_left(times, sent)
        last = bisect.bisect_right(times, sent + latency + 0.005)
        covered += min(latency, max(lags[first:last], default=0.0))
    total = sum(latency for _, latency in slow) or 1e-9
    shown = ", ".join(f"+{index * spell_s:.1f} s ({n})" for index, n in worst)
    return (f"          tail (client 0, above the run's p99 {threshold * 1000:.1f} ms): "
            f"{len(slow)} events in {len(by_spell)} of {spells} spells of "
            f"{spell_s * 1000:.0f} ms, worst at {shown or '-'}; the clients' loop lag "
            f"covers {covered / total:.0%} of their latency")


def _ratio_line(ours: RunResult, base: RunResult) -> str:
    p99 = ours.p(0.99) / base.p(0.99)
    throughput = ours.events_per_s() / max(base.events_per_s(), 1e-9)
    cpu = ours.cpu_us_per_delivered() / base.cpu_us_per_delivered()
    return (f"ratio     N={ours.clients:<3} {ours.system}/{base.system}: throughput "
            f"{throughput:.2f}, p99 latency {p99:.3g}, cpu per delivered event {cpu:.2f}")


def _target_line(results: list[RunResult]) -> str | None:
    at_target = [r for r in results if r.system == "ensemble" and r.clients == TARGET_CLIENTS]
    if not at_target:
        return None
    result = at_target[0]
    met = result.complete() and result.p(0.99) < TARGET_P99_S
    return (f"target    N={TARGET_CLIENTS}: every event in order and p99 < "
            f"{TARGET_P99_S * 1000:.0f} ms: "
            f"{'met' if met else 'NOT met'} (p99 {result.p(0.99) * 1000:.1f} ms, "
            f"complete {'yes' if result.complete() else 'no'})")


def _median_run(runs: list[RunResult]) -> RunResult:
    """The run with the median p99 (the figure that decides saturation most often)."""
    return sorted(runs, key=lambda run: run.p(0.99))[len(runs) // 2]


def _point_passes(runs: list[RunResult], rate: float) -> bool:
    """A ladder point holds when the median run (by p99) holds and most runs are complete."""
    return (_median_run(runs).saturated_at(rate)
            and sum(run.complete() for run in runs) * 2 > len(runs))


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


Runner = Callable[[int, int, float], Awaitable[RunResult]]


async def run_benchmark(client_counts: list[int], rate: float, duration: float, batch: int,
                        systems: list[str], scratch: Path, settings: tuple[str, ...] = (),
                        saturation: tuple[float, ...] = (),
                        saturation_duration: float = 5.0, quotes: int = 0,
                        quote_interval_ms: float = 250.0,
                        publish_window_ms: float = 0.0) -> list[RunResult]:
    count = int(rate * duration)
    results: list[RunResult] = []
    settings = (*quote_settings(quotes, quote_interval_ms),
                f"runtime.publish_window_ms={publish_window_ms:g}", *settings)
    daemon = Daemon(scratch / "data", *settings) if "ensemble" in systems else None
    servers = {name: BaselineServer(name, scratch / f"{name}.log")
               for name in BASELINE_MODULES if name in systems}
    runners: dict[str, Runner] = {}
    try:
        if daemon is not None:
            daemon = await asyncio.to_thread(_start_daemon, daemon, scratch, settings)
            started_daemon = daemon
            if quotes:
                await asyncio.to_thread(_wait_first_scan, daemon)

            async def ensemble(clients: int, count: int, rate: float) -> RunResult:
                return await _ensemble_run(started_daemon, clients, count, rate, batch,
                                           publish_window_ms)

            runners["ensemble"] = ensemble
        for name, server in servers.items():
            await asyncio.to_thread(server.start)

            async def baseline(clients: int, count: int, rate: float,
                               server: BaselineServer = server) -> RunResult:
                return await _baseline_run(server, clients, count, rate,
                                           max(3 * count / rate, WARM_UP_S * 3), quotes,
                                           quote_interval_ms)

            runners[name] = baseline
        # Warm-up, not reported: the first events after start-up pay for imports, caches and
        # the daemon's own start-up work.
        for runner in runners.values():
            await runner(1, max(1, int(rate * WARM_UP_S)), rate)
        for clients in client_counts:
            row: dict[str, RunResult] = {}
            for name, runner in runners.items():
                row[name] = await runner(clients, count, rate)
                print(_row(row[name]), flush=True)
                print(_cpu_line(row[name]), flush=True)
                print(_tail_line(row[name]), flush=True)
            for base in ("wellbuilt", "seed"):
                if "ensemble" in row and base in row:
                    print(_ratio_line(row["ensemble"], row[base]), flush=True)
            results.extend(row.values())
        if saturation:
            await _saturation_search(runners, saturation, saturation_duration)
    finally:
        if daemon is not None:
            await asyncio.to_thread(daemon.stop)
        for server in servers.values():
            server.stop()
    return results


async def _saturation_search(runners: dict[str, Runner], rates: tuple[float, ...],
                             duration: float) -> dict[str, float]:
    """Climb the ladder of ``rates`` at 100 clients, the systems taking turns run by run at each
    rate, until a point fails; a system's saturation is the last rate that held."""
    print(f"saturation at {TARGET_CLIENTS} clients: {SATURATION_RUNS} runs of {duration:g} s "
          f"per rate; holds = every event in order at >= 98 % of the rate, p99 < "
          f"{SATURATION_P99_S * 1000:.0f} ms (median run)", flush=True)
    saturation = dict.fromkeys(runners, 0.0)
    climbing = set(runners)
    for rate in rates:
        # The systems take turns, run by run, so that a busy spell of the machine falls on all
        # of them rather than on the three runs of one.
        runs_of: dict[str, list[RunResult]] = {name: [] for name in runners if name in climbing}
        for _ in range(SATURATION_RUNS):
            for name in runs_of:
                runs_of[name].append(await runners[name](TARGET_CLIENTS, int(rate * duration),
                                                         rate))
        for name, runs in runs_of.items():
            median = _median_run(runs)
            holds = _point_passes(runs, rate)
            print(f"  {name:<9} {rate:6.0f}/s: {'holds' if holds else 'fails'}; median run "
                  f"{median.events_per_s():6.0f} events/s per client, p50 "
                  f"{median.p(0.5) * 1000:6.1f} ms, p99 {median.p(0.99) * 1000:7.1f} ms, "
                  f"cpu/delivered {median.cpu_us_per_delivered():5.1f} us, complete "
                  f"{sum(run.complete() for run in runs)}/{len(runs)}", flush=True)
            if holds:
                saturation[name] = rate
            else:
                climbing.discard(name)
        print(f"  {_load()}", flush=True)
        if not climbing:
            break
    shown = ", ".join(f"{name} {value:.0f}/s" for name, value in saturation.items())
    print(f"saturation: {shown}", flush=True)
    if "ensemble" in saturation and saturation.get("wellbuilt"):
        print(f"saturation ratio ensemble/wellbuilt: "
              f"{saturation['ensemble'] / saturation['wellbuilt']:.2f}", flush=True)
    return saturation


def _wait_first_scan(daemon: Daemon, timeout: float = 120.0) -> None:
    """Wait for the strategy's start-up scan (of every symbol: a burst of market data on the
    broker), which would otherwise fall into the first measured runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.get("/api/scan").get("count"):
            return
        time.sleep(0.2)
    print(f"warning: no scan summary after {timeout:.0f} s; measuring anyway", flush=True)


def quote_settings(quotes: int, interval_ms: float) -> tuple[str, ...]:
    """The daemon's settings for ``quotes`` live quotes (none: no quotes at all)."""
    if not quotes:
        return ("broker.quote_interval_ms=0",)
    symbols = list(DEFAULT_UNIVERSE)
    if quotes > len(symbols):
        raise ValueError(f"--quotes {quotes}: the simulated terminal has {len(symbols)} symbols")
    names = ",".join(f'"{name}"' for name in symbols[:quotes])
    # A weekday's market 60x faster, so that every symbol's tick changes between two reads as
    # the baselines' quotes do; no scan while the benchmark runs (a scan of 40 symbols is the
    # strategy's work, not the pipeline's).
    return (f"broker.quote_interval_ms={interval_ms:g}", f"sim.symbols=[{names}]",
            "sim.speed=60", f"sim.start={WEEKDAY_MARKET_START}",
            "strategy.scan_interval_s=86400")


def _load() -> str:
    """The machine's load averages (1, 5, 15 min), as ``uptime`` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


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
    parser.add_argument("--systems", default="ensemble,wellbuilt,seed",
                        help="any of ensemble, wellbuilt, seed (baseline: seed)")
    parser.add_argument("--saturate", nargs="?", const=",".join(
        f"{rate:g}" for rate in SATURATION_RATES), default="", metavar="RATES",
        help="also search the saturation rate at 100 clients over this ladder")
    parser.add_argument("--saturation-duration", type=float, default=5.0,
                        help="seconds of events per saturation run")
    parser.add_argument("--quotes", type=int, default=0, metavar="SYMBOLS",
                        help="live quotes of this many symbols beside the stream (0: none)")
    parser.add_argument("--quote-interval-ms", type=float, default=250.0,
                        help="quotes: at most one per symbol this often")
    parser.add_argument("--publish-window-ms", type=float, default=0.0,
                        help="runtime.publish_window_ms of the producer and of every actor")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a daemon setting, e.g. web.flush_interval_ms=5 (repeatable)")
    args = parser.parse_args(argv)
    client_counts = [int(part) for part in args.clients.split(",") if part.strip()]
    systems = [{"baseline": "seed"}.get(part.strip(), part.strip())
               for part in args.systems.split(",") if part.strip()]
    unknown = set(systems) - {"ensemble", *BASELINE_MODULES}
    if unknown:
        parser.error(f"--systems: unknown {sorted(unknown)}; use ensemble, wellbuilt, seed")
    saturation = tuple(float(part) for part in args.saturate.split(",") if part.strip())
    print(f"fan-out: {args.rate:.0f} events/s for {args.duration:g} s, clients {client_counts}, "
          f"producer batch {args.batch}, quotes of {args.quotes} symbols every "
          f"{args.quote_interval_ms:g} ms, publish window {args.publish_window_ms:g} ms, "
          f"daemon settings {args.set or 'default'}; "
          f"{os.cpu_count()} cores shared by clients and server; {_load()}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the daemon and the server on SIGTERM too
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="ensemble-fanout-") as scratch:
            results = asyncio.run(run_benchmark(client_counts, args.rate, args.duration,
                                                args.batch, systems, Path(scratch),
                                                tuple(args.set), saturation,
                                                args.saturation_duration, args.quotes,
                                                args.quote_interval_ms,
                                                args.publish_window_ms))
    except KeyboardInterrupt:
        print("fan-out benchmark interrupted; its daemon and server are stopped", flush=True)
        return 130
    target = _target_line(results)
    if target is not None:
        print(target)
    print(f"fan-out benchmark took {time.monotonic() - started:.0f} s; {_load()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
