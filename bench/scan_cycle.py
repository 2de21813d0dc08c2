"""A full scan cycle, from the Strategy's wake-up to SCAN_SUMMARY, for 8 and 40 symbols.

The daemon runs on the simulated market; each SCAN_SUMMARY carries its cycle's duration (broker
state and market data over the actor hops, closed bars of M1, M5, H1 and H4, indicators and the
scan of every symbol). The baseline, in the same run, is the same work in one process with no
actor: a direct market snapshot through the gateway and the same scan of every symbol.

The simulated universe has 40 symbols, so the 100-symbol size of the issue cannot be measured
without inventing symbols; it is left out rather than faked.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from actors.broker.gateway import TIMEFRAMES, open_gateway
from actors.broker.sim.config import SimConfig
from actors.broker.sim.server_clock import server_utc_offset_at
from actors.broker.sim.universe import DEFAULT_UNIVERSE
from actors.runtime.clock import SimClock
from actors.strategy.market_inputs import symbol_market
from actors.strategy.signals import scan_symbol
from bench.stats import percentile, summary
from tests.support.daemon import Daemon

CYCLE_TIMEFRAMES = ("M1", "M5", "H1", "H4")
BARS = 300


async def _actor_cycles(symbols: list[str], cycles: int, root: Path) -> list[float]:
    listed = "[" + ",".join(f'"{s}"' for s in symbols) + "]"
    daemon = Daemon(root / f"scan{len(symbols)}", f"sim.symbols={listed}",
                    "strategy.scan_interval_s=1").start()
    durations: list[float] = []
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(
            f"{daemon.ws_url}?token={daemon.token}&types=SCAN_SUMMARY"
        ) as ws:
            deadline = time.monotonic() + cycles * 3 + 30
            async for message in ws:
                for event in message.json()["events"]:
                    if event["type"] == "SCAN_SUMMARY" and event.get("duration_ms"):
                        durations.append(event["duration_ms"] / 1000.0)
                if len(durations) >= cycles or time.monotonic() > deadline:
                    break
    finally:
        daemon.stop()
    return durations[2:]  # the first cycles build the simulated history


def _direct_cycles(symbols: list[str], cycles: int, root: Path) -> list[float]:
    config = SimConfig(symbols=tuple(symbols))
    gateway = open_gateway("sim", sim_config=config, data_dir=root / "direct",
                           clock=SimClock(1.0))
    durations = []
    try:
        for _ in range(cycles + 2):
            started = time.monotonic()
            snapshots = {tf: gateway.market_snapshot(symbols, TIMEFRAMES[tf], BARS)
                         for tf in CYCLE_TIMEFRAMES}
            now = time.time()
            for symbol in symbols:
                tick = snapshots["M5"][symbol].tick
                rates = {tf: snapshots[tf][symbol].rates for tf in CYCLE_TIMEFRAMES
                         if snapshots[tf][symbol].rates is not None}
                scan_symbol(symbol_market(symbol, tick, gateway.symbol(symbol), rates,
                                          server_utc_offset_at(config, now)), now)
            durations.append(time.monotonic() - started)
    finally:
        gateway.close()
    return durations[2:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    args = parser.parse_args()
    universe = list(DEFAULT_UNIVERSE)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for size in (8, 40):
            symbols = universe[:size]
            actor = asyncio.run(_actor_cycles(symbols, args.cycles, root))
            direct = _direct_cycles(symbols, args.cycles, root)
            ratio = percentile(actor, 0.5) / percentile(direct, 0.5)
            print(f"scan cycle, {size} symbols, actors: {summary(actor)}; "
                  f"direct in one process: {summary(direct)}; ratio {ratio:.2f}x (median)")


if __name__ == "__main__":
    main()
