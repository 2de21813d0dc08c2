"""The broker's poll over RPyC (``broker.kind = "mt5linux"``): Ensemble's own client against the
mt5linux package's ``MetaTrader5`` class, in the same run.

The terminal is the simulator served over RPyC in a process of its own
(``python -m actors.broker.sim.rpyc_server``), the way mt5linux's server serves a real terminal
under Wine. One poll, through the :class:`~actors.broker.gateway.Gateway`, is what the broker
reads on a poll and a scan of one symbol: the account, our positions, a tick, the symbol's
specification and 200 closed M5 bars. The two clients take turns (``--rounds`` rounds of
``--polls`` polls each, after a warm-up), so both see the same load; the figure is the ratio
of their medians.

    python -m bench.mt5linux_poll --rounds 5 --polls 100

The package's results are RPyC proxies read field by field (a round trip per field), while
Ensemble's client makes one round trip per call and copies the structs locally
(``actors/broker/gateway.py``); that is why the default is Ensemble's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from actors.broker.gateway import Gateway, open_gateway
from actors.broker.sim.constants import TIMEFRAME_M5
from bench.stats import percentile
from tests.support.daemon import REPO, free_port

__all__ = ["main", "poll"]

SYMBOL = "BTCUSD"  # trades around the clock: the served terminal runs on today's date
BARS = 200
CLIENTS = ("ensemble", "mt5linux")


def poll(gateway: Gateway) -> None:
    """What the broker reads on a poll and a one-symbol scan."""
    gateway.account()
    gateway.positions()
    gateway.tick(SYMBOL)
    gateway.symbol(SYMBOL)
    bars = gateway.rates_from_pos(SYMBOL, TIMEFRAME_M5, 1, BARS)
    if len(bars) != BARS:
        raise RuntimeError(f"{len(bars)} bars instead of {BARS}")


def _serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log_path = data_dir / "rpyc-terminal.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "actors.broker.sim.rpyc_server", "--port", str(port),
             "--data-dir", str(data_dir)],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b"READY" not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the RPyC terminal did not start: {log_path.read_text()}")
        time.sleep(0.05)
    return process, port, log_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--polls", type=int, default=100, help="polls per client and round")
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(argv)
    samples: dict[str, list[float]] = {client: [] for client in CLIENTS}
    with tempfile.TemporaryDirectory(prefix="ensemble-mt5linux-") as directory:
        process, port, _ = _serve(Path(directory))
        gateways: dict[str, Gateway] = {}
        try:
            for client in CLIENTS:
                gateways[client] = open_gateway("mt5linux", port=port,
                                                use_mt5linux_package=client == "mt5linux")
                for _ in range(args.warmup):
                    poll(gateways[client])
            for _ in range(args.rounds):
                for client in CLIENTS:
                    for _ in range(args.polls):
                        started = time.perf_counter()
                        poll(gateways[client])
                        samples[client].append(time.perf_counter() - started)
        finally:
            for gateway in gateways.values():
                gateway.close()
            process.terminate()
            process.wait(30)
    median = {client: percentile(found, 0.5) for client, found in samples.items()}
    for client in CLIENTS:
        print(f"{client} client: poll median {median[client] * 1000:.1f} ms, p99 "
              f"{percentile(samples[client], 0.99) * 1000:.1f} ms "
              f"({len(samples[client])} polls)", flush=True)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"mt5linux package / Ensemble's client: "
          f"{median['mt5linux'] / median['ensemble']:.1f}x (median); load average {load}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
