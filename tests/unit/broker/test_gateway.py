"""The gateway adapter on its three paths: the sim module, the sim as ``MetaTrader5``, and RPyC.

The RPyC path starts ``actors.broker.sim.rpyc_server`` as a subprocess on a free loopback port
and talks to it through :class:`~actors.broker.gateway.Mt5LinuxClient`, the mt5linux-style
client (the ``mt5linux`` package itself pins rpyc 5.2.3 or does not import on Python 3.11).
"""

from __future__ import annotations

import selectors
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from actors.broker.gateway import (
    TIMEFRAMES,
    BrokerUnavailable,
    Gateway,
    GatewayError,
    GatewayTimeout,
    open_gateway,
)
from actors.broker.sim.config import SimConfig
from actors.broker.sim.module import create_sim_module, register_module, unregister_module
from actors.runtime.clock import ManualClock, SimClock
from messages.books import AccountRecord, PositionRecord
from messages.market import Side
from messages.orders import FateStatus, OrderIntent, OrderKind, Outcome
from tests.unit.broker.conftest import WEDNESDAY_UTC

REPO = Path(__file__).resolve().parents[3]
MAGIC = 777


@pytest.fixture(scope="module")
def rpyc_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    data_dir = tmp_path_factory.mktemp("rpyc-sim")
    command = [
        sys.executable, "-m", "actors.broker.sim.rpyc_server", "--port", "0",
        "--data-dir", str(data_dir), "--start", str(WEDNESDAY_UTC),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        if not selector.select(timeout=60):
            raise RuntimeError("the RPyC simulator did not start")
        line = process.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("READY "):
            raise RuntimeError(f"unexpected output {line!r}: {process.stderr.read()}")  # type: ignore[union-attr]
        yield int(line.split()[1])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(params=["sim", "registered", "rpyc"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    previous = None
    registered = False
    if request.param == "sim":
        gw = open_gateway(
            "sim", sim_config=SimConfig(), data_dir=tmp_path, clock=ManualClock(WEDNESDAY_UTC)
        )
    elif request.param == "registered":
        module = create_sim_module(SimConfig(), tmp_path, ManualClock(WEDNESDAY_UTC))
        previous = register_module(module)
        registered = True
        gw = open_gateway("mt5", clock=module._sim.clock)
        assert gw.backend is module
    else:
        port = request.getfixturevalue("rpyc_port")
        gw = open_gateway(
            "mt5linux", host="127.0.0.1", port=port, clock=SimClock(1.0, WEDNESDAY_UTC)
        )
    try:
        yield gw
    finally:
        try:
            set_faults(gw)
        finally:
            gw.close()
            if registered:
                unregister_module(previous)
                if request.param == "registered":
                    gw.backend._sim.close()


def set_faults(gw: Gateway, **switches: Any) -> None:
    """Change (or, with no switches, clear) the simulator's faults through any path."""
    if gw.kind == "mt5linux":
        if switches:
            gw.backend.execute(f"mt5._sim.set_faults(**{switches!r})")
        else:
            gw.backend.execute("mt5._sim.faults.clear()")
    elif switches:
        gw.backend._sim.set_faults(**switches)
    else:
        gw.backend._sim.faults.clear()


def coid(request: pytest.FixtureRequest, tag: str) -> str:
    return f"{tag}-{abs(hash(request.node.name)) % 10**8}"


def mine(gw: Gateway, client_order_id: str) -> list[PositionRecord]:
    return [p for p in gw.positions() if p.comment == client_order_id and p.magic == MAGIC]


def test_reads_return_records(gateway: Gateway) -> None:
    account = gateway.account()
    assert isinstance(account, AccountRecord) and account.currency == "USD"
    assert account.margin_mode == 2
    assert gateway.terminal().connected is True
    spec = gateway.symbol("EURUSD")
    assert spec.digits == 5 and spec.volume_step == 0.01 and spec.filling_mode == 3
    tick = gateway.tick("EURUSD")
    assert tick.ask > tick.bid > 0 and isinstance(tick.time_msc, int)
    rates = gateway.rates_from_pos("EURUSD", TIMEFRAMES["H1"], 1, 250)
    assert len(rates) == 250 and rates.dtype.names[0] == "time"
    assert np.all(np.diff(rates["time"]) > 0)
    when = int(rates["time"][-1])
    assert len(gateway.rates_range("EURUSD", TIMEFRAMES["H1"], when - 7200, when)) == 3
    assert len(gateway.ticks_from("EURUSD", when, 5)) == 5
    margin = gateway.calc_margin(0, "EURUSD", 0.1, 1.0991)
    assert margin == 109.91
    assert gateway.calc_profit(0, "EURUSD", 1.0, 1.1, 1.103) == 300.0
    symbols = [s.name for s in gateway.symbols(group="*JPY*")]
    assert "USDJPY" in symbols and all("JPY" in s for s in symbols)
    snapshot = gateway.market_snapshot([*symbols, "NOPE"], TIMEFRAMES["M5"], 200)
    assert all(len(snapshot[s].rates) == 200 for s in symbols)
    assert snapshot["NOPE"].error is not None and snapshot["NOPE"].rates is None


def test_market_order_with_numpy_values_and_its_fate(
    gateway: Gateway, request: pytest.FixtureRequest
) -> None:
    client_order_id = coid(request, "mkt")
    tick = gateway.tick("EURUSD")
    intent = OrderIntent(
        symbol="EURUSD",
        side=Side.BUY,
        volume=np.float64(0.1),  # type: ignore[arg-type]
        client_order_id=client_order_id,
        magic=np.int64(MAGIC),  # type: ignore[arg-type]
        sl=np.float64(tick.bid - 0.005),  # type: ignore[arg-type]
        tp=np.float64(tick.bid + 0.005),  # type: ignore[arg-type]
    )
    outcome = gateway.place_order(intent)
    assert outcome.status is Outcome.DONE and outcome.retcode == 10009, outcome
    assert outcome.sent and outcome.order > 0 and outcome.deal > 0 and outcome.volume == 0.1
    (position,) = mine(gateway, client_order_id)
    assert position.ticket == outcome.order and position.sl == round(tick.bid - 0.005, 5)
    fate = gateway.find_order_fate(client_order_id, MAGIC)
    assert fate.status is FateStatus.FILLED and fate.position == outcome.order
    assert fate.deals == (outcome.deal,)
    modified = gateway.modify_position(position.ticket, sl=None, tp=tick.bid + 0.01)
    assert modified.status is Outcome.DONE
    (position,) = mine(gateway, client_order_id)
    assert position.sl == 0.0 and position.tp == round(tick.bid + 0.01, 5)
    closed = gateway.close_position(position.ticket, client_order_id=client_order_id, magic=MAGIC)
    assert closed.status is Outcome.DONE and not mine(gateway, client_order_id)
    deals = gateway.deals_of_position(position.ticket)
    assert [d.entry for d in deals] == [0, 1]
    assert gateway.find_order_fate("never-sent", MAGIC).status is FateStatus.NOT_FOUND


def test_pending_order_fate_and_cancel(gateway: Gateway, request: pytest.FixtureRequest) -> None:
    client_order_id = coid(request, "lim")
    tick = gateway.tick("EURUSD")
    intent = OrderIntent(
        "EURUSD", Side.BUY, 0.1, client_order_id, MAGIC,
        kind=OrderKind.LIMIT, price=tick.bid - 0.01,
    )  # fmt: skip
    outcome = gateway.place_order(intent)
    assert outcome.status is Outcome.DONE and outcome.retcode == 10008
    assert outcome.type_filling == 2
    fate = gateway.find_order_fate(client_order_id, MAGIC)
    assert fate.status is FateStatus.PENDING and fate.order == outcome.order
    cancelled = gateway.cancel_order(outcome.order)
    assert cancelled.status is Outcome.DONE
    assert gateway.find_order_fate(client_order_id, MAGIC).status is FateStatus.CANCELLED
    again = gateway.cancel_order(outcome.order)
    assert again.status is Outcome.REJECTED and again.reason == "invalid_request"


def test_timeout_after_execution_is_unknown_and_resolved_without_resending(
    gateway: Gateway, request: pytest.FixtureRequest
) -> None:
    client_order_id = coid(request, "amb")
    set_faults(gateway, timeout_after_execution=True)
    outcome = gateway.place_order(
        OrderIntent("EURUSD", Side.SELL, 0.2, client_order_id, MAGIC)
    )
    set_faults(gateway)
    assert outcome.status is Outcome.UNKNOWN and outcome.sent
    assert outcome.error == (-10005, "IPC timeout")
    fate = gateway.find_order_fate(client_order_id, MAGIC)
    assert fate.status is FateStatus.FILLED and fate.volume == 0.2
    assert len(mine(gateway, client_order_id)) == 1


def test_requotes_are_retried_then_reported(
    gateway: Gateway, request: pytest.FixtureRequest
) -> None:
    set_faults(gateway, requote_rate=1.0)
    outcome = gateway.place_order(
        OrderIntent("EURUSD", Side.BUY, 0.1, coid(request, "rq"), MAGIC)
    )
    assert outcome.status is Outcome.RETRY_PRICE and outcome.retcode == 10004
    assert outcome.attempts == gateway.price_retries + 1
    assert not mine(gateway, coid(request, "rq"))


def test_rejections_and_disconnects(gateway: Gateway, request: pytest.FixtureRequest) -> None:
    set_faults(gateway, algo_trading_off=True)
    outcome = gateway.place_order(OrderIntent("EURUSD", Side.BUY, 0.1, coid(request, "a"), 1))
    assert outcome.status is Outcome.REJECTED and outcome.reason == "algo_trading_disabled"
    set_faults(gateway)
    tiny = gateway.place_order(OrderIntent("EURUSD", Side.BUY, 0.004, coid(request, "t"), 1))
    assert tiny.status is Outcome.REJECTED and not tiny.sent
    set_faults(gateway, disconnect=True)
    with pytest.raises(GatewayError) as failure:
        gateway.account()
    assert failure.value.code == -10004
    lost = gateway.place_order(OrderIntent("EURUSD", Side.BUY, 0.1, coid(request, "d"), 1))
    assert lost.status is Outcome.WAIT and not lost.sent
    set_faults(gateway)
    assert gateway.account().balance > 0


# ---- paths that need the simulator in this process -------------------------------------------


@pytest.fixture
def sim_gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = open_gateway(
        "sim", sim_config=SimConfig(), data_dir=tmp_path, clock=ManualClock(WEDNESDAY_UTC),
        call_timeout=5.0, order_timeout=5.0,
    )  # fmt: skip
    try:
        yield gw
    finally:
        gw.backend._sim.faults.clear()
        gw.close()


class _RecordingBackend:
    """A backend wrapper that records the calling thread and can answer 10030 once."""

    def __init__(self, module: Any, refuse_first_fill: int | None = None) -> None:
        self._module = module
        self.threads: set[int] = set()
        self.fillings: list[int] = []
        self._refuse = refuse_first_fill

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._module, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.threads.add(threading.get_ident())
            if name == "order_send":
                self.fillings.append(args[0].get("type_filling"))
                if self._refuse is not None and args[0].get("type_filling") == self._refuse:
                    self._refuse = None
                    request = dict(args[0], type_filling=2)  # RETURN: refused by the symbol
                    return target(request)
            return target(*args, **kwargs)

        return call


def test_all_calls_run_on_one_worker_thread_and_invalid_fill_is_retried_once(
    sim_gateway: Gateway,
) -> None:
    backend = _RecordingBackend(sim_gateway.backend, refuse_first_fill=0)
    sim_gateway.backend = backend
    outcome = sim_gateway.place_order(OrderIntent("EURUSD", Side.BUY, 0.1, "fill-1", MAGIC))
    sim_gateway.positions()
    sim_gateway.market_snapshot(["EURUSD", "USDJPY"], TIMEFRAMES["M1"], 10)
    assert backend.threads == {sim_gateway.worker_thread.ident}
    assert threading.get_ident() not in backend.threads
    assert backend.fillings == [0, 1]
    assert outcome.status is Outcome.DONE and outcome.type_filling == 1 and outcome.attempts == 2


def test_ticks_within_a_budget_stop_after_the_first_symbol_once_it_is_spent(
    sim_gateway: Gateway,
) -> None:
    symbols = ("EURUSD", "NOPE", "USDJPY", "GBPUSD")
    everything, read = sim_gateway.ticks_within(symbols, None)
    assert read == 4 and list(everything) == ["EURUSD", "USDJPY", "GBPUSD"]
    first, read = sim_gateway.ticks_within(symbols, 0.0)  # spent after one read
    assert read == 1 and list(first) == ["EURUSD"]
    missing, read = sim_gateway.ticks_within(symbols[1:], 0.0)
    assert read == 1 and missing == {}  # a symbol that cannot be read still counts as read
    assert set(sim_gateway.ticks(symbols)) == set(everything)


def test_a_hung_terminal_times_out_and_the_order_is_never_sent_late(sim_gateway: Gateway) -> None:
    sim = sim_gateway.backend._sim
    sim_gateway.call_timeout = sim_gateway.order_timeout = 0.2
    sim.set_faults(call_delay_s=0.5)
    with pytest.raises(GatewayTimeout) as timeout:
        sim_gateway.account()
    assert timeout.value.started
    outcome = sim_gateway.place_order(OrderIntent("EURUSD", Side.BUY, 0.1, "hung-1", MAGIC))
    assert outcome.status is Outcome.WAIT and not outcome.sent
    sim.set_faults(call_delay_s=0.0)
    sim_gateway.call_timeout = sim_gateway.order_timeout = 10.0
    # Once the worker has drained, the abandoned order is still not in the books.
    assert sim_gateway.find_order_fate("hung-1", MAGIC).status is FateStatus.NOT_FOUND
    assert not sim_gateway.wedged


def test_connect_checks_the_account(tmp_path: Path) -> None:
    with pytest.raises(GatewayError) as failure:
        open_gateway(
            "sim", sim_config=SimConfig(), data_dir=tmp_path, clock=ManualClock(WEDNESDAY_UTC),
            login=1,
        )  # fmt: skip
    assert failure.value.code == -6


def test_missing_backends_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "MetaTrader5", None)
    with pytest.raises(BrokerUnavailable, match=r"Windows.*ensemble\[mt5\]"):
        open_gateway("mt5")
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:9"):
        open_gateway("mt5linux", port=9)
    with pytest.raises(ValueError, match="broker must be one of"):
        open_gateway("ib")


def test_intents_refuse_unsafe_client_order_ids() -> None:
    with pytest.raises(ValueError, match="31-character"):
        OrderIntent("EURUSD", Side.BUY, 0.1, "x" * 26, 1)
    with pytest.raises(ValueError):
        OrderIntent("EURUSD", Side.BUY, 0.1, "has space", 1)
    with pytest.raises(ValueError, match="needs a price"):
        OrderIntent("EURUSD", Side.BUY, 0.1, "ok", 1, kind=OrderKind.LIMIT)
