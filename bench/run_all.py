"""Run every benchmark and print its figures: ``python -m bench.run_all`` (``make bench``).

Each benchmark listed in :data:`BENCHMARKS` is a module with a ``main()``; it runs in a process
of its own (``python -m bench.<name>``), so that one benchmark's failure, arguments or leftover
state cannot affect the next, and with a time limit, after which it is stopped. Its output goes
straight to this process's standard output. Extra arguments select benchmarks by name:
``python -m bench.run_all fanout``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["BENCHMARKS", "main", "run"]

REPO = Path(__file__).resolve().parents[1]

# name → time limit in seconds
BENCHMARKS: dict[str, float] = {
    "restart": 300.0,
    "fanout": 300.0,
    "broker_snapshot": 300.0,
    "broker_orders": 300.0,
    "order_latency": 300.0,
    "risk_path": 300.0,
    "backtest": 600.0,
    "scan_cycle": 300.0,
    "frame_auth": 300.0,
    "mt5linux_poll": 300.0,
}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:  # pgrp
                members.append(int(entry.name))
    return members


def _reap_group(pgid: int, grace: float = 15.0) -> list[int]:
    """Stop what a finished benchmark left in its process group (a daemon it did not stop):
    SIGTERM, which stops a daemon with all its actors, then SIGKILL after ``grace``."""
    left = _group_members(pgid)
    if not left:
        return []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return left


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the benchmark, so that its cleanup runs (Daemon.stop in ``finally``); then
    SIGTERM, then SIGKILL, to whatever is left of its process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
    process.wait()
    _reap_group(process.pid, grace=5.0)


def run(name: str, limit: float) -> int:
    """Run ``bench.<name>`` in a session of its own; its exit status, or -1 on time-out."""
    print(f"== bench.{name}", flush=True)
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", f"bench.{name}"], cwd=REPO,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        code = process.wait(limit)
    except subprocess.TimeoutExpired:
        _stop(process)
        print(f"== bench.{name}: stopped after its {limit:.0f} s limit\n", flush=True)
        return -1
    except BaseException:
        _stop(process)
        raise
    left = _reap_group(process.pid)
    if left:
        print(f"== bench.{name}: stopped {len(left)} process(es) it left behind: {left}",
              flush=True)
    status = "ok" if code == 0 else f"failed with exit status {code}"
    print(f"== bench.{name}: {status} in {time.monotonic() - started:.0f} s\n", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # so that a stopped run still cleans up
    names = list(sys.argv[1:] if argv is None else argv) or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    failures = [name for name in names if run(name, BENCHMARKS[name]) != 0]
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
