"""The MT5Broker on the real daemon with ``broker.kind=mt5linux``: the terminal lives in another
process (``python -m actors.broker.sim.rpyc_server``, as a Wine terminal would behind
mt5linux), so it outlives the broker. SIGKILL of the broker while the terminal holds its
order: the order executes anyway, and the restarted broker finds the position in the books,
reports it under the same record, and never sends it again.

The test drives the terminal directly over its own RPyC connection, as an operator at the
terminal would: fault switches, and a probe that says when ``order_send`` is under way.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_broker import (
    BROKER_SETTINGS,
    order_id,
    place,
    wait_broker,
)
from tests.integration.test_broker_restart import (
    intent_record,
    kill_broker_and_wait_for_its_replacement,
)
from tests.support.daemon import REPO, free_port

pytestmark = pytest.mark.integration

SYMBOL = "BTCUSD"  # trades around the clock: the remote terminal runs on today's date

# Installed on the terminal's side: records when order_send starts and when it returns.
_PROBE = """
import MetaTrader5 as _mt5
ORDER_SENDS = []
_unprobed_order_send = _mt5.order_send

def _probed_order_send(*args, **kwargs):
    ORDER_SENDS.append("entered")
    result = _unprobed_order_send(*args, **kwargs)
    ORDER_SENDS.append("returned")
    return result

_mt5.order_send = _probed_order_send
"""


class RemoteTerminal:
    """The simulated terminal served over RPyC in a process of its own."""

    def __init__(self, data_dir: Path) -> None:
        import rpyc

        self.port = free_port()
        self.log_path = data_dir.parent / "rpyc-terminal.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "actors.broker.sim.rpyc_server", "--port", str(self.port),
                 "--data-dir", str(data_dir)],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while b"READY" not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the RPyC terminal did not start: {self.log_path.read_text()}")
            time.sleep(0.05)
        self.conn = rpyc.classic.connect("127.0.0.1", self.port)
        self.conn.execute(_PROBE)

    def set_faults(self, **changes: Any) -> None:
        self.conn.eval(f"_mt5._sim.set_faults(**{changes!r})")

    def order_sends(self) -> list[str]:
        return list(self.conn.eval("tuple(ORDER_SENDS)"))

    def entry_deals(self, client_order_id: str) -> int:
        return int(self.conn.eval(
            f"sum(1 for d in _mt5._sim.deals if d.comment == {client_order_id!r} "
            "and d.entry == 0)"))  # fmt: skip

    def stop(self) -> None:
        self.conn.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[RemoteTerminal]:
    remote = RemoteTerminal(tmp_path / "terminal")
    try:
        yield remote
    finally:
        remote.stop()


def test_mt5linux_broker_trades_and_a_sigkill_mid_order_is_reconciled_not_resent(
    make_daemon: Any, terminal: RemoteTerminal,
) -> None:
    daemon = make_daemon(*BROKER_SETTINGS, "broker.kind=mt5linux",
                         f"broker.mt5linux_port={terminal.port}", "broker.order_timeout_s=10",
                         f'strategy.symbols=["{SYMBOL}"]', "broker.poll_interval_s=1")
    status = wait_broker(daemon)
    assert (status["kind"], status["trade_mode"]) == ("mt5linux", "demo")
    assert daemon.wait_until(lambda: daemon.get("/api/account"))["balance"] == 10_000.0
    refused, body = daemon.request("GET", "/api/sim/faults")
    assert refused == 409 and "mt5linux" in body["detail"]
    (first,) = place(daemon, order_id("L"), symbol=SYMBOL, volume=0.01)
    assert first is not None and first["status"] == "done"
    daemon.wait_until(lambda: [p["ticket"] for p in daemon.get("/api/positions")] ==
                      [first["ticket"]], what="the position on the API")

    # Hold the terminal's calls open, send an order, and kill the broker once the terminal
    # has it: the terminal executes it all the same, and nobody hears back.
    terminal.set_faults(call_delay_s=0.5)
    coid = order_id("L")
    replies: list[Any] = []
    sender = threading.Thread(target=lambda: replies.append(
        place(daemon, coid, symbol=SYMBOL, volume=0.01, timeout=10, wait_final=False)))
    sender.start()
    try:
        daemon.wait_until(lambda: "entered" in terminal.order_sends()[2:], 60,
                          "order_send to start")
        kill_broker_and_wait_for_its_replacement(daemon)
        daemon.wait_until(lambda: terminal.order_sends()[-1] == "returned", 30,
                          "the terminal to execute the order")
    finally:
        terminal.set_faults(call_delay_s=0.0)
        sender.join(60)
    assert replies == [[None]]
    assert terminal.entry_deals(coid) == 1
    wait_broker(daemon)
    record = daemon.wait_until(lambda: (r := intent_record(daemon, coid)) and
                               r["status"] == "done" and r, 30, "the order's record")
    daemon.wait_until(lambda: record["ticket"] in [p["ticket"] for p in
                                                   daemon.get("/api/positions")],
                      what="the adopted position")
    sends_before = terminal.order_sends()
    (retried,) = place(daemon, coid, symbol=SYMBOL, volume=0.01)
    assert retried is not None and (retried["status"], retried["ticket"]) == ("done",
                                                                             record["ticket"])
    assert terminal.order_sends() == sends_before  # answered from the record: nothing sent
    assert terminal.entry_deals(coid) == 1


def test_the_mt5linux_package_client_trades_the_terminal_served_as_metatrader5(
    make_daemon: Any, terminal: RemoteTerminal,
) -> None:
    """``broker.mt5linux_client=mt5linux``: the mt5linux package's own ``MetaTrader5`` class
    (1.0.x, rpyc 6) drives the simulated terminal that the RPyC server registered as the module
    ``MetaTrader5``, as mt5linux's server does with the real one under Wine."""
    import mt5linux

    assert mt5linux.MetaTrader5.__module__ == "mt5linux"
    daemon = make_daemon(*BROKER_SETTINGS, "broker.kind=mt5linux",
                         "broker.mt5linux_client=mt5linux",
                         f"broker.mt5linux_port={terminal.port}", "broker.order_timeout_s=20",
                         f'strategy.symbols=["{SYMBOL}"]', "broker.poll_interval_s=1")
    status = wait_broker(daemon)
    assert (status["kind"], status["trade_mode"]) == ("mt5linux", "demo")
    assert daemon.wait_until(lambda: daemon.get("/api/account"))["balance"] == 10_000.0
    coid = order_id("P")
    (report,) = place(daemon, coid, symbol=SYMBOL, volume=0.01, timeout=30)
    assert report is not None and report["status"] == "done"
    daemon.wait_until(lambda: report["ticket"] in [p["ticket"] for p in
                                                   daemon.get("/api/positions")],
                      30, "the position on the API")
    assert terminal.order_sends()[-2:] == ["entered", "returned"]
    assert terminal.entry_deals(coid) == 1
    # mt5linux's MetaTrader5() adds its Windows library folder on the server; Ensemble's does not.
    assert "C:\\mt5libs" in list(terminal.conn.modules.sys.path)
