"""Talk to a running daemon's MT5Broker the way a trading role does: orders, closes, market data.

:class:`BrokerClient` joins the daemon's ActorSystem (loopback only), asks the root for the
directory, and sends broker commands to the broker's current address, waiting for the reply
with the same request id. It serves the integration tests (through :mod:`bench.broker_cli`, in a
process of its own) and the benchmarks.

:class:`BrokerProbe` is an actor the benchmarks create inside the daemon: it sends requests to
the broker one after the other and times each round trip from inside the actor system, so the
figures are actor-to-actor, without the external client's extra hop.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.app.tree import ROOT_CLASS
from actors.runtime.base import EnsembleActor, handles
from messages.commands import JournalQuery, StateReply
from messages.supervision import Configure, DirectoryRequest, Peers, Started
from messages.trading import (
    BrokerSnapshot,
    BrokerSnapshotRequest,
    CloseAll,
    ClosePosition,
    MarketData,
    MarketDataRequest,
    ModifyPosition,
    OrderReport,
    PlaceOrder,
)

__all__ = [
    "BENCH_SETTINGS",
    "BENCH_START",
    "BrokerClient",
    "BrokerProbe",
    "ProbeResult",
    "ProbeRun",
    "admin_listening",
    "probing_daemon",
    "terminal_books",
]

ASK_TIMEOUT_S = 15.0
BENCH_START = 1_700_046_800  # 2023-11-15 13:13 UTC: every market of the universe is open
BENCH_SETTINGS = (
    f"sim.start={BENCH_START}",
    "strategy.scan_interval_s=86400",  # the Strategy stays idle and places nothing
    "strategy.max_orders_per_cycle=0",
    "broker.require_approval=false",  # this client places orders itself, on a demo account
)


def admin_listening(admin_port: int) -> bool:
    """Whether a Thespian admin answers on the port. Joining a system whose admin is gone would
    start a new admin instead, one that outlives this process."""
    try:
        with socket.create_connection(("127.0.0.1", admin_port), timeout=1.0):
            return True
    except OSError:
        return False


def terminal_books(data_dir: str | os.PathLike[str], client_order_id: str) -> dict[str, int]:
    """What the simulated terminal's own books (``sim.db``, read-only) hold for one client order
    id: its entry deals, exit deals and open positions. The oracle of "sent at most once"."""
    from actors.broker.sim.store import DB_FILENAME

    path = os.path.join(os.fspath(data_dir), DB_FILENAME)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        entries, exits = db.execute(
            "SELECT COALESCE(SUM(entry = 0), 0), COALESCE(SUM(entry != 0), 0) FROM deals "
            "WHERE comment = ?", (client_order_id,)).fetchone()
        (positions,) = db.execute("SELECT COUNT(*) FROM positions WHERE comment = ?",
                                  (client_order_id,)).fetchone()
    return {"entries": int(entries), "exits": int(exits), "positions": int(positions)}


def _request_id() -> str:
    return uuid.uuid4().hex


class BrokerClient:
    """A process-local client of one daemon's broker (and SharedState, for the journal)."""

    def __init__(self, admin_port: int) -> None:
        from actors.runtime.system import join_actor_system

        if not admin_listening(admin_port):
            raise RuntimeError(f"no Ensemble daemon's admin listens on port {admin_port}")
        self.admin_port = admin_port
        self.system = join_actor_system(admin_port)

    def directory(self, timeout: float = ASK_TIMEOUT_S) -> dict[str, Any]:
        from actors.runtime.root import ROOT_GLOBAL_NAME

        root = self.system.createActor(ROOT_CLASS,
                                       globalName=ROOT_GLOBAL_NAME)
        reply = self.system.ask(root, DirectoryRequest(), timeout)
        if not isinstance(reply, Peers):
            raise RuntimeError(f"the root did not answer with the directory: {reply!r}")
        return dict(reply.directory)

    def address(self, role: str, timeout: float = ASK_TIMEOUT_S) -> Any:
        """The role's current address, waiting while it is (re)starting."""
        deadline = time.monotonic() + timeout
        while True:
            address = self.directory(timeout).get(role)
            if address is not None or time.monotonic() > deadline:
                return address
            time.sleep(0.1)

    def ask(self, role: str, message: Any, timeout: float = ASK_TIMEOUT_S) -> Any:
        """Send ``message`` to ``role`` and return the reply carrying its request id (None on
        timeout). Other messages that arrive meanwhile (a late report) are skipped."""
        address = self.address(role, timeout)
        if address is None:
            return None
        deadline = time.monotonic() + timeout
        reply = self.system.ask(address, message, timeout)
        while reply is not None and getattr(reply, "request_id", None) != message.request_id:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            reply = self.system.listen(remaining)
        return reply

    def listen_for(self, request_id: str, timeout: float) -> Any:
        """The next message carrying ``request_id`` (a second report after ``unknown``)."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            message = self.system.listen(remaining)
            if message is None:
                return None
            if getattr(message, "request_id", None) == request_id:
                return message
        return None

    # --- broker commands ---------------------------------------------------------------------

    def place(self, client_order_id: str, symbol: str, side: str, volume: float, *,
              sl: float = 0.0, tp: float = 0.0, decision_id: str = "", wait_final: bool = True,
              timeout: float = ASK_TIMEOUT_S) -> list[OrderReport | None]:
        """Place a market order; with ``wait_final``, also wait for the final report that
        follows an ``unknown`` one. Returns every report received (None: no answer)."""
        order = PlaceOrder(_request_id(), client_order_id, decision_id or client_order_id,
                           symbol, side, volume, sl, tp)
        reports = [self.ask("broker", order, timeout)]
        while wait_final and reports[-1] is not None and reports[-1].status == "unknown":
            reports.append(self.listen_for(order.request_id, timeout))
        return reports

    def close(self, op_id: str, ticket: int, volume: float | None = None,
              reason: str = "client", timeout: float = ASK_TIMEOUT_S) -> OrderReport | None:
        return self.ask("broker", ClosePosition(_request_id(), op_id, ticket, volume, reason),
                        timeout)

    def close_all(self, op_id: str, timeout: float = ASK_TIMEOUT_S) -> OrderReport | None:
        return self.ask("broker", CloseAll(_request_id(), op_id, "client"), timeout)

    def modify(self, op_id: str, ticket: int, sl: float | None, tp: float | None,
               timeout: float = ASK_TIMEOUT_S) -> OrderReport | None:
        return self.ask("broker", ModifyPosition(_request_id(), op_id, ticket, sl, tp), timeout)

    def market_data(self, symbols: tuple[str, ...], timeframes: tuple[str, ...],
                    bars: int, timeout: float = ASK_TIMEOUT_S) -> MarketData | None:
        return self.ask("broker", MarketDataRequest(_request_id(), symbols, timeframes, bars),
                        timeout)

    def snapshot(self, timeout: float = ASK_TIMEOUT_S) -> BrokerSnapshot | None:
        return self.ask("broker", BrokerSnapshotRequest(_request_id()), timeout)

    def journal(self, kind: str, key: str = "", limit: int = 100,
                timeout: float = ASK_TIMEOUT_S) -> list[dict[str, Any]]:
        reply = self.ask("shared_state", JournalQuery(request_id=_request_id(), kind=kind,
                                                      key=key, limit=limit), timeout)
        if not isinstance(reply, StateReply) or not reply.ok:
            raise RuntimeError(f"journal query failed: {reply!r}")
        return list(reply.value)

    # --- a probe inside the daemon -------------------------------------------------------------

    def start_probe(self, probe_class: str = "bench.order_client.BrokerProbe",
                    timeout: float = ASK_TIMEOUT_S) -> Any:
        from actors.app.settings import load_settings
        from actors.runtime.instance import read_daemon_info

        info = read_daemon_info(self.admin_port)
        probe = self.system.createActor(probe_class)
        started = self.system.ask(probe, Configure(
            "broker_probe", load_settings(environ={}), info.pid if info else os.getpid()
        ), timeout)  # fmt: skip
        if not isinstance(started, Started):
            raise RuntimeError(f"the probe did not start: {started!r}")
        return probe

    def run_probe(self, probe: Any, run: ProbeRun, timeout: float) -> ProbeResult:
        reply = self.system.ask(probe, run, timeout)
        if not isinstance(reply, ProbeResult):
            raise RuntimeError(f"the probe did not finish: {reply!r}")
        return reply

    def stop_probe(self, probe: Any) -> None:
        from thespian.actors import ActorExitRequest

        self.system.tell(probe, ActorExitRequest())


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """``kind``: ``market_data`` (``count`` snapshots of ``symbols``) or ``orders`` (``count``
    order_send round trips: opens and closes of ``symbols[0]`` in turn)."""

    kind: str
    count: int
    broker: Any
    symbols: tuple[str, ...]
    timeframes: tuple[str, ...] = ("M5",)
    bars: int = 200
    volume: float = 0.01


@dataclass(frozen=True, slots=True)
class ProbeResult:
    samples: tuple[float, ...]  # seconds per round trip
    failures: tuple[str, ...] = ()
    seconds: float = 0.0
    legs: tuple[float, ...] = ()  # seconds of each sample's last leg, where a probe times one


@dataclass(slots=True)
class _Running:
    run: ProbeRun
    requester: Any
    started: float = field(default_factory=time.perf_counter)
    sent_at: float = 0.0
    samples: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    open_ticket: int | None = None
    request_id: str = ""


class BrokerProbe(EnsembleActor):
    """Sends one broker request at a time and times each reply (benchmarks)."""

    role = "BrokerProbe"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._running: _Running | None = None

    @handles(ProbeRun)
    def _on_run(self, run: ProbeRun, sender: Any) -> None:
        self._running = _Running(run, sender)
        self._next()

    def _next(self) -> None:
        running = self._running
        assert running is not None
        run = running.run
        done = len(running.samples) + len(running.failures)
        if done >= run.count:
            self.send(running.requester, ProbeResult(
                tuple(running.samples), tuple(running.failures),
                time.perf_counter() - running.started))  # fmt: skip
            self._running = None
            return
        running.request_id = _request_id()
        if run.kind == "market_data":
            message: Any = MarketDataRequest(running.request_id, run.symbols, run.timeframes,
                                             run.bars)
        elif running.open_ticket is None:
            coid = f"bench{running.request_id[:16]}"
            message = PlaceOrder(running.request_id, coid, coid, run.symbols[0],
                                 "BUY" if done % 4 == 0 else "SELL", run.volume, 0.0, 0.0)
        else:
            message = ClosePosition(running.request_id, f"bench-{running.request_id}",
                                    running.open_ticket, None, "bench")
        running.sent_at = time.perf_counter()
        self.send(run.broker, message)

    def _settle(self, reply: Any, ok: bool, why: str) -> None:
        running = self._running
        if running is None or getattr(reply, "request_id", None) != running.request_id:
            return
        elapsed = time.perf_counter() - running.sent_at
        if ok:
            running.samples.append(elapsed)
        else:
            running.failures.append(why)
        self._next()

    @handles(MarketData)
    def _on_market_data(self, reply: MarketData, sender: Any) -> None:
        ok = bool(reply.bars) and not reply.errors
        self._settle(reply, ok, f"errors: {dict(list(reply.errors.items())[:3])}")

    @handles(OrderReport)
    def _on_report(self, reply: OrderReport, sender: Any) -> None:
        running = self._running
        if running is None or reply.request_id != running.request_id:
            return
        if reply.status == "unknown":
            return  # the final report follows
        ok = reply.status == "done"
        if ok:
            running.open_ticket = None if running.open_ticket is not None else reply.ticket
        self._settle(reply, ok, f"{reply.status}: {reply.reason}")


@contextlib.contextmanager
def probing_daemon(data_dir: Path, *settings: str,
                   probe_class: str = "bench.order_client.BrokerProbe",
                   ) -> Iterator[tuple[BrokerClient, Any, Any]]:
    """A daemon (:data:`BENCH_SETTINGS` plus ``settings``) whose broker is connected, a client
    joined to it, the broker's address and a probe (``probe_class``, by default a
    :class:`BrokerProbe`) inside it; all stopped after."""
    from tests.support.daemon import Daemon

    daemon = Daemon(data_dir, *BENCH_SETTINGS, *settings)
    try:
        daemon.start()
        daemon.wait_until(lambda: daemon.request("GET", "/api/health")[0] == 200, 90,
                          "every actor ready")
        daemon.wait_until(lambda: daemon.get("/api/state")["broker"].get("state") ==
                          "connected", 60, "the broker")
        client = BrokerClient(daemon.admin_port)
        probe = client.start_probe(probe_class)
        try:
            yield client, client.address("broker"), probe
        finally:
            client.stop_probe(probe)
    finally:
        daemon.stop()
