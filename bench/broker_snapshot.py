"""Market snapshots through the MT5Broker actor: 8, 40 and 100 symbols, tick plus 200 closed
bars each, requested by an actor inside the running daemon, one request at a time.

The baseline, measured in the same run, is the same snapshot taken by a direct gateway call in
one process (the same :func:`~actors.broker.market_data.collect_market_data` the actor runs, on
a simulated terminal with the same configuration), so the difference is the actor hop: two
messages and the pickling of the bars. The simulated universe has 40 instruments; the other 60
are replayed from generated MT5 bar exports. Target: 40 symbols under 100 ms at p99.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from actors.broker.gateway import open_gateway
from actors.broker.market_data import SpecCache, collect_market_data
from actors.broker.sim.config import SimConfig
from actors.broker.sim.universe import DEFAULT_UNIVERSE
from actors.runtime.clock import SimClock
from bench.order_client import BENCH_START, ProbeRun, probing_daemon
from bench.stats import percentile, summary

__all__ = ["main", "write_replay_symbols"]

BARS = 200
TIMEFRAME = "M5"
TARGET_P99_S = 0.100


def write_replay_symbols(directory: Path, count: int, seed: int = 7) -> list[str]:
    """``count`` extra instruments as MT5 "export bars" files (H1, 2023-10-23 to 2023-11-30,
    server time), so the simulated terminal can offer more than its 40 built-in ones."""
    rng = np.random.default_rng(seed)
    first = np.datetime64("2023-10-23T00:00")
    hours = int((np.datetime64("2023-11-30T00:00") - first) / np.timedelta64(1, "h"))
    names = []
    for index in range(count):
        name = f"BENCH{index:02d}"
        closes = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, hours)))
        opens = np.concatenate(([100.0], closes[:-1]))
        spread = np.abs(rng.normal(0, 0.001, hours)) * closes
        lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
        for hour in range(hours):
            stamp = (first + np.timedelta64(hour, "h")).astype(object)
            high = max(opens[hour], closes[hour]) + spread[hour]
            low = min(opens[hour], closes[hour]) - spread[hour]
            lines.append(f"{stamp:%Y.%m.%d}\t{stamp:%H:%M:%S}\t{opens[hour]:.2f}\t{high:.2f}\t"
                         f"{low:.2f}\t{closes[hour]:.2f}\t600\t0\t30")
        (directory / f"{name}_H1_202310230000_202311300000.csv").write_text("\n".join(lines))
        names.append(name)
    return names


def measure_direct(config: SimConfig, data_dir: Path, symbols: tuple[str, ...],
                   runs: int, warmup: int) -> list[float]:
    gateway = open_gateway("sim", sim_config=config, data_dir=data_dir,
                           clock=SimClock(config.speed, config.start))
    specs = SpecCache()
    samples = []
    try:
        for run in range(warmup + runs):
            started = time.perf_counter()
            data = collect_market_data(gateway, symbols, (TIMEFRAME,), BARS, specs)
            elapsed = time.perf_counter() - started
            if data.errors:
                raise RuntimeError(f"direct snapshot failed: {dict(list(data.errors.items())[:3])}")
            if run >= warmup:
                samples.append(elapsed)
    finally:
        gateway.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="snapshots per size")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--sizes", default="8,40,100")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        replay = root / "replay"
        replay.mkdir()
        extra = write_replay_symbols(replay, max(0, max(sizes) - len(DEFAULT_UNIVERSE)))
        symbols = (*DEFAULT_UNIVERSE, *extra)
        config = SimConfig(start=BENCH_START, symbols=symbols, replay_csv=str(replay))
        listed = ",".join(f'"{symbol}"' for symbol in symbols)
        actor_samples: dict[int, list[float]] = {}
        with probing_daemon(root / "data", f"sim.symbols=[{listed}]",
                            f"sim.replay_csv='{replay}'") as (client, broker, probe):
            for size in sizes:
                chosen = symbols[:size]
                for count in (args.warmup, args.runs):
                    result = client.run_probe(probe, ProbeRun(
                        "market_data", count, broker, chosen, (TIMEFRAME,), BARS), 600)
                if result.failures:
                    raise RuntimeError(f"snapshots failed: {result.failures[:3]}")
                actor_samples[size] = list(result.samples)
        direct_samples = {
            size: measure_direct(config, root / f"direct{size}", symbols[:size], args.runs,
                                 args.warmup)
            for size in sizes
        }
    for size in sizes:
        actor, direct = actor_samples[size], direct_samples[size]
        ratio = percentile(actor, 0.5) / percentile(direct, 0.5)
        verdict = ""
        if size == 40:
            verdict = (" — target p99 < 100 ms: met" if percentile(actor, 0.99) < TARGET_P99_S
                       else " — target p99 < 100 ms: MISSED")
        print(f"market snapshot, {size} symbols x {BARS} closed {TIMEFRAME} bars + tick: "
              f"actor {summary(actor)}; direct gateway {summary(direct)}; "
              f"actor/direct {ratio:.2f}x (median){verdict}", flush=True)


if __name__ == "__main__":
    main()
