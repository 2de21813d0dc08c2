"""Frame authentication: what the HMAC on every Thespian frame costs.

Two figures, each a ratio against Thespian's plain pickle measured in the same run:

* the serializer alone (tag, header and replay check included), ``dumps`` + ``loads`` of
  typical messages (a small command, a batch of
  20 events);
* an actor round trip on ``multiprocTCPBase`` (system ask → echo actor → reply: four frames and
  their acks), each mode in a fresh process of its own, alternated to spread the noise.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thespian.actors import Actor

from actors.runtime.frame_auth import AuthenticatedPickle
from bench.stats import percentile

__all__ = ["Echo", "main"]

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class _Command:
    request_id: str
    symbol: str
    volume: float


class Echo(Actor):
    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, str | bytes):
            self.send(sender, message)


def _messages() -> dict[str, Any]:
    event = {"type": "TRADE_EXECUTION", "timestamp": "2026-12-02T10:00:00Z", "seq": 123,
             "data": {"symbol": "EURUSD", "volume": 0.1, "price": 1.08765, "ticket": 424242}}
    return {"command": _Command("a" * 32, "EURUSD", 0.1), "20 events": [event] * 20}


def _serializer_seconds(dumps: Any, loads: Any, message: Any, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        loads(dumps(message))
    return (time.perf_counter() - started) / rounds


def measure_serializer(rounds: int) -> None:
    auth = AuthenticatedPickle(b"k" * 32)
    auth.local_ports.add(1)  # this process receives what it sends: tag, header, replay guard

    def dumps(message: Any) -> bytes:
        return auth.dumps_to(message, 1)

    for name, message in _messages().items():
        plain = min(_serializer_seconds(pickle.dumps, pickle.loads, message, rounds)
                    for _ in range(3))
        signed = min(_serializer_seconds(dumps, auth.loads, message, rounds)
                     for _ in range(3))
        print(f"serializer, {name} ({len(pickle.dumps(message))} bytes): plain "
              f"{plain * 1e6:.2f} µs, authenticated {signed * 1e6:.2f} µs, "
              f"+{(signed - plain) * 1e6:.2f} µs ({signed / plain:.2f}x)", flush=True)


def _hop_child(mode: str, asks: int) -> None:
    """In a fresh process: a system (authenticated or not), an echo actor, ``asks`` asks."""
    from thespian.actors import ActorSystem

    from actors.runtime.frame_auth import install
    from actors.runtime.loopback import restrict_thespian_to
    from tests.support.daemon import free_port

    restrict_thespian_to("127.0.0.1")
    if mode == "auth":
        install(b"s" * 32)
    with tempfile.TemporaryDirectory() as directory:
        os.environ["THESPLOG_FILE"] = str(Path(directory) / "thespian.log")
        system = ActorSystem("multiprocTCPBase", capabilities={"Admin Port": free_port()})
        try:
            echo = system.createActor("bench.frame_auth.Echo")
            for _ in range(50):
                system.ask(echo, "warm", 5)
            samples = []
            for _ in range(asks):
                started = time.perf_counter()
                reply = system.ask(echo, "x" * 200, 5)
                samples.append(time.perf_counter() - started)
                if reply is None:
                    raise RuntimeError("the echo actor did not answer")
        finally:
            system.shutdown()
    print(percentile(samples, 0.5))


def measure_hops(asks: int, rounds: int) -> None:
    medians: dict[str, list[float]] = {"plain": [], "auth": []}
    for _ in range(rounds):
        for mode in ("plain", "auth"):
            result = subprocess.run(
                [sys.executable, "-m", "bench.frame_auth", "--hop-child", mode,
                 "--asks", str(asks)],
                cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
                stdin=subprocess.DEVNULL)
            medians[mode].append(float(result.stdout.strip().splitlines()[-1]))
    plain = percentile(medians["plain"], 0.5)
    auth = percentile(medians["auth"], 0.5)
    print(f"actor round trip (median of {rounds} runs of {asks} asks): plain "
          f"{plain * 1000:.3f} ms, authenticated {auth * 1000:.3f} ms ({auth / plain:.2f}x)",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--asks", type=int, default=1000)
    parser.add_argument("--serializer-rounds", type=int, default=20_000)
    parser.add_argument("--hop-child", choices=("plain", "auth"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hop_child:
        _hop_child(args.hop_child, args.asks)
        return 0
    measure_serializer(args.serializer_rounds)
    measure_hops(args.asks, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
