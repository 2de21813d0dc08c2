"""Running a backtest: the same actors as a live daemon, on a market clock moved bar by bar.

:func:`run_backtest` starts SharedState, the Broadcaster (so the run's journal opens in the
dashboard), the MT5Broker on a driven simulated terminal, the RiskManager, the Researcher
(rules), the Critic and one Strategy actor per strategy in one ActorSystem, configured as the
supervisors would configure them. Then, for every bar of ``--timeframe`` from ``--from`` to
``--to``, the driver:

1. tells every actor the market time at the bar's close (:class:`~messages.backtest.MarketTime`);
2. asks the broker to move the terminal there and poll it (SL/TP, swaps, closed trades reported
   to the Critic and the RiskManager), keeping the account as a point of the equity curve;
3. asks each Strategy actor to scan (:class:`~messages.backtest.ScanNow`) and waits until its
   cycle, with the orders it submitted through the RiskManager, is settled.

The ActorSystem is Thespian's ``simpleSystemBase``: every actor in this process, each message
handled to completion in order, so "the actors are idle" is exact (nothing left to deliver)
and a run never waits for wall time. The same inputs therefore give the same trades. The
run's data directory is ``OUT/data`` (state.db, events.db, sim.db), created afresh; no port
is opened. Ctrl+C ends the loop after the current bar, and the report of what was simulated is
still written.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from thespian.actors import ActorExitRequest, ActorSystem

from actors.app.settings import Settings, load_settings
from actors.backtest.bars_csv import check_data_dir
from actors.backtest.candidates import CandidatePlan, plan_candidates
from actors.backtest.report_files import write_report, write_summary, write_trades
from actors.backtest.results import EquityPoint, TradeRow, refusals, summarise
from actors.runtime.private import prepare_data_dir
from actors.shared_state.actor import STATE_FILE
from actors.shared_state.store import KeyValueStore
from actors.strategy.indicators import TIMEFRAME_SECONDS
from actors.strategy.loader import LoadedStrategy, load_strategies, strategy_child_name
from messages.backtest import MarketTime, MarketTimeSet, ScanDone, ScanNow
from messages.supervision import Configure, Peers, Started
from messages.trading import ControlCommand, ControlReply

__all__ = ["BacktestError", "BacktestRequest", "BacktestResult", "Progress", "parse_day",
           "run_backtest"]

ROLES = (
    ("shared_state", "actors.shared_state.actor.SharedStateActor"),
    ("broadcaster", "actors.broadcaster.actor.BroadcasterActor"),
    ("broker", "actors.broker.actor.MT5BrokerActor"),
    ("risk", "actors.risk.actor.RiskManagerActor"),
    ("researcher", "actors.researcher.actor.ResearcherActor"),
    ("critic", "actors.critic.actor.CriticActor"),
)
READY_TIMEOUT_S = 60.0
PAUSED_BY = "the backtest, at its end"
IDLE_S = None
"""No timeout: simpleSystemBase's ask and listen then deliver every pending message and return
at the reply or when nothing is left, never sleeping for a timer. With a timeout they first
check that it has not expired, and deliver nothing when it has: a 1 ms one, once the process
was descheduled for that long under load, lost the reply of a step (or of an actor's start)
to the next one."""


class BacktestError(ValueError):
    """A backtest that cannot run as asked (names the option and what is allowed)."""


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    strategies: tuple[str, ...]
    symbols: tuple[str, ...]
    timeframe: str
    start: float
    """UTC epoch seconds of the first bar's open."""
    end: float
    """UTC epoch seconds: the last bar closes at or before it."""
    out: Path
    data: Path | None = None
    seed: int | None = None
    balance: float = 10_000.0
    config: str | None = None
    assignments: tuple[str, ...] = ()
    scan_times: tuple[float, ...] = ()
    """Market times (UTC epoch seconds, ascending, within start..end) to step to instead of
    every bar's close: the parity test replays the instants a live daemon scanned at."""
    every_bar: bool = False
    """Step the actors at every bar even where the strategies' ``candidate_bars`` say nothing
    can happen (the same trades, slower: to check the hook, and the bench's full path)."""


@dataclass
class BacktestResult:
    summary: dict[str, Any]
    out: Path
    interrupted: bool = False
    problems: list[str] = field(default_factory=list)


def parse_day(text: str, option: str) -> float:
    """``YYYY-MM-DD`` (or a full ISO time) as UTC epoch seconds."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise BacktestError(f"{option} {text!r}: expected a date YYYY-MM-DD") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


class Progress:
    """A bar with the market date and an ETA on a terminal; otherwise one line every
    ``every_s`` seconds."""

    def __init__(self, total: int, stream: TextIO | None = None, every_s: float = 5.0) -> None:
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self.began = time.monotonic()
        self.last = -math.inf

    def update(self, done: int, market_time: float) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else self.every_s) and done < self.total:
            return
        self.last = now
        spent = now - self.began
        eta = spent / done * (self.total - done) if done else 0.0
        day = datetime.fromtimestamp(market_time, tz=UTC).strftime("%Y-%m-%d %H:%M")
        share = done / self.total
        text = f"{day}  {done}/{self.total} bars  {share:6.1%}  ETA {eta:5.0f} s"
        if self.tty:
            filled = int(share * 30)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {text}")
            if done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"backtest: {text}\n")
        self.stream.flush()


def _settings(request: BacktestRequest, data_dir: Path) -> Settings:
    bar_s = TIMEFRAME_SECONDS[request.timeframe]
    overrides: dict[str, Any] = {
        "runtime.data_dir": str(data_dir),
        "broker.kind": "sim",
        "sim.driven": True,
        "sim.start": request.start,
        "sim.balance": request.balance,
        "sim.symbols": list(request.symbols),
        "strategy.symbols": list(request.symbols),
        "strategy.plugins": list(request.strategies),
    }
    if not any(a.partition("=")[0].strip() == "sim.pessimistic_bar_s"
               for a in request.assignments):
        overrides["sim.pessimistic_bar_s"] = bar_s  # --set sim.pessimistic_bar_s=0: tick path
    if request.seed is not None:
        overrides["sim.seed"] = request.seed
    if request.data is not None:
        overrides["sim.replay_csv"] = str(request.data)
        overrides["sim.replay_warmup_days"] = 0.0
    return load_settings(request.config, request.assignments, overrides=overrides)


def _bar_closes(request: BacktestRequest) -> list[float]:
    if request.scan_times:
        return list(request.scan_times)
    bar_s = TIMEFRAME_SECONDS[request.timeframe]
    first = math.ceil(request.start / bar_s) * bar_s + bar_s
    count = int((request.end - first) // bar_s) + 1
    return [first + i * bar_s for i in range(max(count, 0))]


def check_request(request: BacktestRequest) -> None:
    if request.timeframe not in TIMEFRAME_SECONDS:
        raise BacktestError(f"--timeframe {request.timeframe!r}: one of "
                            f"{', '.join(TIMEFRAME_SECONDS)}")
    if not request.symbols:
        raise BacktestError("--symbols: name at least one symbol, e.g. EURUSD,GBPUSD")
    if request.end <= request.start:
        raise BacktestError("--to must be after --from")
    times = request.scan_times
    if times and (any(b <= a for a, b in itertools.pairwise(times))
                  or times[0] < request.start or times[-1] > request.end):
        raise BacktestError("scan_times: ascending market times within --from..--to")
    if not _bar_closes(request):
        raise BacktestError(f"--from/--to: not one whole {request.timeframe} bar between them")
    if request.balance <= 0:
        raise BacktestError(f"--balance {request.balance!r}: must be above 0")


class _Run:
    """The actors of one run and the conversation with them."""

    def __init__(self, system: ActorSystem, settings: Settings) -> None:
        self.system = system
        self.settings = settings
        self.directory: dict[str, Any] = {}
        self.strategies: list[str] = []
        self.loaded: list[LoadedStrategy] = []
        self.plans: list[CandidatePlan | None] = []
        self.unexpected: list[Any] = []

    def ask(self, role: str, message: Any, expected: type) -> Any:
        """Ask and return the reply of ``expected`` type; None when every actor went idle
        without one (simpleSystemBase returns once nothing is left to deliver)."""
        reply = self.system.ask(self.directory[role], message, IDLE_S)
        while reply is not None and not isinstance(reply, expected):
            self.unexpected.append(reply)
            reply = self.system.listen(IDLE_S)
        return reply

    def start(self) -> None:
        loaded = load_strategies(self.settings.strategy.plugins, self.settings.strategy.params,
                                 self.settings)
        self.loaded = loaded
        self.strategies = [strategy_child_name(item.name) for item in loaded]
        classes = [*ROLES, *((name, "actors.strategy.actor.StrategyActor")
                             for name in self.strategies)]
        for name, path in classes:
            self.directory[name] = self.system.createActor(path)
        start = float(self.settings.sim.start or 0.0)
        for name, _ in classes:
            started = self.ask(name, Configure(name, self.settings, os.getpid(),
                                               peers=dict(self.directory)), Started)
            if started is None:
                raise BacktestError(f"the {name} actor did not start "
                                    f"({[type(m).__name__ for m in self.unexpected]})")
            # Its clock is the market's from the start, so no timer of its own drives it.
            self.system.tell(self.directory[name], MarketTime("", start))
        for name, _ in classes:
            self.system.tell(self.directory[name], Peers(dict(self.directory), version=1))

    def wait_ready(self, now: float) -> MarketTimeSet:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            reply = self.ask("broker", MarketTime(uuid.uuid4().hex, now), MarketTimeSet)
            if reply is not None and reply.ok:
                return reply
            if time.monotonic() > deadline:
                detail = reply.detail if reply is not None else "no answer"
                raise BacktestError(f"the simulated broker is not ready: {detail}")
            self.system.listen(0.05)  # let its connection and reconciliation timers run

    def plan(self, steps: list[float]) -> None:
        """Where each strategy with a :meth:`~actors.strategy.api.Strategy.candidate_bars`
        hook may signal (``candidates.py``); the others are scanned at every step."""
        history = self.settings.strategy.bars
        self.plans = [plan_candidates(self.settings.sim, item.strategy,
                                      item.symbols if item.symbols is not None
                                      else tuple(self.settings.strategy.symbols),
                                      steps, max(item.strategy.history, history))
                      for item in self.loaded]

    def proposals(self, index: int) -> list[tuple[str, ...] | None]:
        """The symbols each strategy may signal on at step ``index`` (None: any of them)."""
        if not self.plans:
            return [None] * len(self.strategies)
        return [None if plan is None else plan.at(index) for plan in self.plans]

    def step(self, now: float, proposals: list[tuple[str, ...] | None] | None = None,
             ) -> tuple[MarketTimeSet | None, list[ScanDone | None]]:
        for name in self.directory:
            if name != "broker":
                self.system.tell(self.directory[name], MarketTime("", now))
        account = self.ask("broker", MarketTime(uuid.uuid4().hex, now), MarketTimeSet)
        key = f"{now:.3f}".rstrip("0").rstrip(".")  # a bar's close: its epoch second
        chosen = proposals or [None] * len(self.strategies)
        done = [self.ask(name, ScanNow(uuid.uuid4().hex, key, symbols), ScanDone)
                for name, symbols in zip(self.strategies, chosen, strict=True)]
        return account, done

    def pause_new_entries(self) -> str | None:
        """Pause new entries through the RiskManager, as an operator would, so that a daemon
        opened on the run's journal (``run --data-dir OUT/data``) does not trade on into it
        before its user resumes. None when done, otherwise why not."""
        reply = self.ask("risk", ControlCommand(uuid.uuid4().hex, "pause", "backtest-end",
                                                reason=PAUSED_BY), ControlReply)
        if reply is None or reply.status != 200:
            why = reply.detail if reply is not None else "no answer"
            return (f"new entries were not paused at the end ({why}): a daemon opened on the "
                    "journal will trade on")
        return None

    def stop(self) -> None:
        for name in reversed(list(self.directory)):
            self.system.tell(self.directory[name], ActorExitRequest())


@dataclass
class _Journal:
    """What the run's journal holds for its files."""

    trades: list[TradeRow]
    chains: dict[str, list[dict[str, Any]]]
    """Each traded decision's entries, oldest first."""
    reviews: dict[int, dict[str, Any]]
    """The Critic's review of each ticket."""
    refused: list[dict[str, Any]]
    """Why candidates did not trade (:func:`~actors.backtest.results.refusals`)."""


def _journal(data_dir: Path, gated: list[tuple[str, str, int]]) -> _Journal:
    store = KeyValueStore(data_dir / STATE_FILE)
    try:
        trades = list(store.journal_entries("trade"))
        reviews = {int(e["record"].get("ticket", 0)): e["record"]
                   for e in store.journal_entries("review")}
        refused = refusals((e["record"] for e in store.journal_entries("decision")), gated)
        chains: dict[str, list[dict[str, Any]]] = {}
        rows = []
        for entry in trades:
            record = entry["record"]
            decision = str(record.get("decision_id") or "")
            chain = store.journal_query(decision_id=decision, limit=1000) if decision else []
            chains[decision] = [e for e in chain if e["kind"] == "decision"]
            steps = {e["record"].get("step"): e["record"] for e in chains[decision]}
            strategy = str(steps.get("candidate", {}).get("strategy", ""))
            confidence = steps.get("research", {}).get("confidence")
            rows.append(TradeRow(
                strategy=strategy, symbol=record["symbol"], side=record["direction"],
                volume=float(record["volume"]), entry_time=float(record["opened_at"]),
                entry_price=float(record["entry_price"]), exit_time=float(record["closed_at"]),
                exit_price=float(record["exit_price"]), sl=float(record["sl"]),
                tp=float(record["tp"]), profit=float(record["profit"]),
                commission=float(record.get("commission", 0.0)),
                swap=float(record.get("swap", 0.0)), decision_id=decision,
                ticket=int(record["ticket"]),
                confidence=float(confidence) if confidence is not None else None,
                exit_reason=str(record.get("exit_reason", ""))))
    finally:
        store.close()
    rows.sort(key=lambda row: (row.exit_time, row.entry_time, row.ticket))
    return _Journal(rows, chains, reviews, refused)


def _fresh_data_dir(out: Path) -> Path:
    data_dir = out / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)  # a backtest's own; an earlier run of the same --out
    prepare_data_dir(data_dir)
    return data_dir


def run_backtest(request: BacktestRequest, *, progress_stream: TextIO | None = None,
                 on_bar: Callable[[int], None] | None = None) -> BacktestResult:
    """Run ``request`` and write ``trades.csv``, ``summary.json`` and ``report.html`` into
    ``request.out``. Raises :class:`BacktestError` (bad request or data) before any actor
    starts."""
    check_request(request)
    if request.data is not None:
        problems = check_data_dir(request.data, request.symbols)
        if problems:
            raise BacktestError("--data: the history cannot be replayed:\n  "
                                + "\n  ".join(str(p) for p in problems[:50])
                                + (f"\n  ... and {len(problems) - 50} more"
                                   if len(problems) > 50 else ""))
    request.out.mkdir(parents=True, exist_ok=True)
    data_dir = _fresh_data_dir(request.out)
    settings = _settings(request, data_dir)
    closes = _bar_closes(request)
    stop = {"asked": False}
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum: int, frame: Any) -> None:
        stop["asked"] = True

    equity: list[EquityPoint] = []
    problems: list[str] = []
    gated: list[tuple[str, str, int]] = []  # candidates stopped by a blocked gate, per cycle
    bars = 0
    began = time.monotonic()
    system = ActorSystem("simpleSystemBase", transientUnique=True)
    try:
        if threading_main():
            signal.signal(signal.SIGINT, on_interrupt)
        run = _Run(system, settings)
        run.start()
        first = run.wait_ready(request.start)
        equity.append(EquityPoint(request.start, first.balance, first.equity))
        if not request.every_bar:
            run.plan(closes)
        meter = Progress(len(closes), progress_stream)
        busy = True  # a position or an order may be open: every bar is stepped
        last = equity[-1]
        for index, now in enumerate(closes):
            if stop["asked"]:
                break
            proposals = run.proposals(index)
            bars += 1
            if not busy and not any(p is None or p for p in proposals):
                # Nothing open and no strategy can signal: the account cannot change.
                equity.append(EquityPoint(now, last.balance, last.equity))
            else:
                # The first bar is scanned in full: the broker reads every symbol's spec
                # there, as a run without the hook does, and keeps it (SpecCache).
                account, done = run.step(now, proposals if index else None)
                if account is not None and account.ok:
                    last = EquityPoint(now, account.balance, account.equity)
                    equity.append(last)
                busy = (account is None or not account.ok or account.positions > 0
                        or any(d is None or not d.ok or d.orders > 0 for d in done))
                gated += [(d.gated_code, d.gated_words, d.gated) for d in done
                          if d is not None and d.gated]
            meter.update(bars, now)
            if on_bar is not None:
                on_bar(bars)
        problem = run.pause_new_entries()
        if problem is not None:
            problems.append(problem)
        run.stop()
    finally:
        system.shutdown()
        if threading_main():
            signal.signal(signal.SIGINT, previous)
    seconds = time.monotonic() - began
    journal = _journal(data_dir, gated)
    trades = journal.trades
    summary = summarise(trades, equity, bars=bars, symbols=len(request.symbols),
                        seconds=seconds, balance=request.balance, refused=journal.refused)
    summary["interrupted"] = stop["asked"]
    summary["period"] = {"from": request.start, "to": request.end,
                         "timeframe": request.timeframe, "symbols": list(request.symbols),
                         "strategies": list(request.strategies) or ["Confluence"]}
    write_trades(request.out / "trades.csv", trades)
    write_summary(request.out / "summary.json", summary)
    title = (f"Backtest {', '.join(request.strategies) or 'Confluence'} on "
             f"{', '.join(request.symbols)} {request.timeframe}")
    write_report(request.out / "report.html", summary, trades, equity, journal.chains,
                 journal.reviews, title)
    return BacktestResult(summary, request.out, interrupted=stop["asked"], problems=problems)


def threading_main() -> bool:
    """Signal handlers can be set only from the main thread."""
    return threading.current_thread() is threading.main_thread()
