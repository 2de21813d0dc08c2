"""Restart: from SIGKILL of an actor to its replacement answering, over many kills.

The baseline, measured in the same run, is what a system without supervision would do after a
crash: start the whole daemon again, from process start to its first answer.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path

from bench.stats import percentile, summary
from tests.support.daemon import Daemon


def _until_answers(daemon: Daemon, path: str) -> None:
    while True:
        try:
            status, _ = daemon.request("GET", path)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.002)


def measure_restarts(daemon: Daemon, victim: str, kills: int) -> list[float]:
    probe = "/api/kv/ops.bench" if victim == "shared_state" else "/api/health"
    daemon.request("PUT", "/api/kv/ops.bench", body={"value": 1})
    samples = []
    for _ in range(kills):
        node = daemon.node(victim)
        started = time.monotonic()
        os.kill(node["pid"], signal.SIGKILL)
        if victim == "shared_state":
            _until_answers(daemon, probe)  # answered by the replacement: the old one is dead
        else:
            while (current := daemon.node(victim))["pid"] == node["pid"] or \
                    current["state"] != "running":
                time.sleep(0.002)
        samples.append(time.monotonic() - started)
        time.sleep(1.0)  # stay inside the restart intensity (5 in 30 s)
    return samples


def measure_cold_starts(root: Path, runs: int) -> list[float]:
    samples = []
    for index in range(runs):
        daemon = Daemon(root / f"cold{index}")
        started = time.monotonic()
        try:
            daemon.start()
            samples.append(time.monotonic() - started)
        finally:
            daemon.stop()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--cold-starts", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        daemon = Daemon(root / "data", "supervision.max_restarts=100",
                        "supervision.period_s=1").start()
        try:
            results = {victim: measure_restarts(daemon, victim, args.kills)
                       for victim in ("shared_state", "broadcaster")}
        finally:
            daemon.stop()
        cold = measure_cold_starts(root, args.cold_starts)
    for victim, samples in results.items():
        ratio = percentile(cold, 0.5) / percentile(samples, 0.5)
        print(f"restart {victim}: {summary(samples)}; "
              f"{ratio:.0f}x faster than restarting the daemon (median)")
    print(f"baseline, whole-daemon cold start: {summary(cold)}")


if __name__ == "__main__":
    main()
