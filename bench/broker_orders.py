"""Simulated ``order_send`` round trips per second through the MT5Broker actor.

An actor inside the running daemon sends market orders to the broker one at a time, opening a
position and closing it in turn (each is one ``order_send``), and times each until its
:class:`~messages.trading.OrderReport`. Through the actor, each order is also written ahead to
SharedState (an SQLite commit with ``synchronous=FULL``) before it is sent, and its outcome
after: the price of never sending an order twice. The baseline, measured in the same run, is the
same opens and closes by direct gateway calls in one process, on a simulated terminal with the
same configuration (its own commits to ``sim.db`` included).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from actors.broker.gateway import open_gateway
from actors.broker.sim.config import SimConfig
from actors.runtime.clock import SimClock
from bench.order_client import BENCH_START, ProbeRun, probing_daemon
from bench.stats import summary
from messages.market import Side
from messages.orders import OrderIntent

__all__ = ["main", "measure_direct"]

SYMBOL = "EURUSD"
MAGIC = 234000


def measure_direct(data_dir: Path, count: int) -> tuple[list[float], float]:
    """Open and close in turn by direct gateway calls; the samples and the total seconds."""
    config = SimConfig(start=BENCH_START)
    gateway = open_gateway("sim", sim_config=config, data_dir=data_dir,
                           clock=SimClock(config.speed, config.start))
    samples: list[float] = []
    ticket: int | None = None
    started = time.perf_counter()
    try:
        for index in range(count):
            began = time.perf_counter()
            if ticket is None:
                side = Side.BUY if index % 4 == 0 else Side.SELL
                outcome = gateway.place_order(
                    OrderIntent(SYMBOL, side, 0.01, f"direct{index}", MAGIC))
                ticket = outcome.order
            else:
                outcome = gateway.close_position(ticket, client_order_id=f"dclose{index}",
                                                 magic=MAGIC)
                ticket = None
            if not outcome.ok:
                raise RuntimeError(f"direct order failed: {outcome}")
            samples.append(time.perf_counter() - began)
    finally:
        gateway.close()
    return samples, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=400, help="order_send round trips")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with probing_daemon(root / "data") as (client, broker, probe):
            client.run_probe(probe, ProbeRun("orders", 10, broker, (SYMBOL,)), 300)
            result = client.run_probe(probe, ProbeRun("orders", args.orders, broker, (SYMBOL,)),
                                      900)
        if result.failures:
            raise RuntimeError(f"orders failed: {result.failures[:3]}")
        direct, direct_seconds = measure_direct(root / "direct", args.orders)
    actor_rate = len(result.samples) / result.seconds
    direct_rate = len(direct) / direct_seconds
    print(f"order_send round trips (open, close, open…; {SYMBOL} 0.01 lots): "
          f"actor {actor_rate:.0f}/s, {summary(list(result.samples))}; "
          f"direct gateway {direct_rate:.0f}/s, {summary(direct)}; "
          f"direct/actor {direct_rate / actor_rate:.1f}x", flush=True)


if __name__ == "__main__":
    main()
