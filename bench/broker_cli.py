"""Send commands to a running daemon's MT5Broker from the command line (and the tests).

``python -m bench.broker_cli --admin-port N --out result.json '<json>'`` runs a JSON list of
commands, one after the other, and writes a JSON list of their results::

    [{"op": "place", "client_order_id": "T1", "symbol": "EURUSD", "side": "BUY",
      "volume": 0.1, "sl": 0, "tp": 0, "decision_id": "D1"},
     {"op": "close", "op_id": "C1", "ticket": 100000001, "volume": null},
     {"op": "close_all", "op_id": "A1"},
     {"op": "modify", "op_id": "M1", "ticket": 100000001, "sl": 1.05, "tp": null},
     {"op": "market_data", "symbols": ["EURUSD"], "timeframes": ["M5"], "bars": 200},
     {"op": "snapshot"},
     {"op": "journal", "kind": "trade", "key": "EURUSD"}]

The result goes to a file, not to stdout: a process that joins an ActorSystem must never hold a
pipe its caller waits on (DESIGN.md §10). The message classes live in :mod:`bench.order_client`,
not in this ``__main__`` module, so the actors can unpickle what comes back.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.order_client import BrokerClient

__all__ = ["main", "run_commands", "run_in_subprocess"]

REPO = Path(__file__).resolve().parents[1]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return {"rows": len(value),
                "times": [int(t) for t in value["time"][-3:]] if len(value) else []}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _run(client: BrokerClient, command: dict[str, Any]) -> Any:
    op = command["op"]
    timeout = float(command.get("timeout", 15.0))
    if op == "place":
        return client.place(command["client_order_id"], command["symbol"], command["side"],
                            float(command["volume"]), sl=float(command.get("sl", 0.0)),
                            tp=float(command.get("tp", 0.0)),
                            decision_id=command.get("decision_id", ""),
                            wait_final=bool(command.get("wait_final", True)), timeout=timeout)
    if op == "close":
        return client.close(command["op_id"], int(command["ticket"]), command.get("volume"),
                            command.get("reason", "client"), timeout)
    if op == "close_all":
        return client.close_all(command["op_id"], timeout)
    if op == "modify":
        return client.modify(command["op_id"], int(command["ticket"]), command.get("sl"),
                             command.get("tp"), timeout)
    if op == "market_data":
        return client.market_data(tuple(command.get("symbols", ())),
                                  tuple(command.get("timeframes", ("M5",))),
                                  int(command.get("bars", 200)), timeout)
    if op == "snapshot":
        return client.snapshot(timeout)
    if op == "journal":
        return client.journal(command["kind"], command.get("key", ""),
                              int(command.get("limit", 100)), timeout)
    raise ValueError(f"unknown op {op!r}")


def run_commands(admin_port: int, commands: list[dict[str, Any]]) -> list[Any]:
    client = BrokerClient(admin_port)
    return [_plain(_run(client, command)) for command in commands]


def run_in_subprocess(admin_port: int, commands: Sequence[Mapping[str, Any]],
                      env: Mapping[str, str] | None = None, timeout: float = 90.0) -> list[Any]:
    """Run ``commands`` in a separate process (this module's command line) and return their
    results: the caller's process never joins the ActorSystem. Output goes through files."""
    with tempfile.TemporaryDirectory(prefix="broker-cli-") as scratch:
        out, err = Path(scratch) / "out.json", Path(scratch) / "err.txt"
        with open(err, "wb") as errors:
            finished = subprocess.run(
                [sys.executable, "-m", "bench.broker_cli", "--admin-port", str(admin_port),
                 "--out", str(out), json.dumps(list(commands))],
                cwd=REPO, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=errors, timeout=timeout, check=False,
            )  # fmt: skip
        if finished.returncode != 0:
            raise RuntimeError(f"broker_cli failed ({finished.returncode}):\n"
                               f"{err.read_text(errors='replace')[-3000:]}")
        return list(json.loads(out.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--out", required=True, help="file for the JSON results")
    parser.add_argument("commands", help="a JSON list of commands")
    args = parser.parse_args(argv)
    results = run_commands(args.admin_port, json.loads(args.commands))
    Path(args.out).write_text(json.dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
