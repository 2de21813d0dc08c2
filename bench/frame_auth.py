"""Frame authentication: what the HMAC on every Thespian frame costs.

Two figures, each a ratio against Thespian's plain pickle measured in the same run, for two
modes: ``auth``, what the daemon installs (the HMAC-SHA256 tag, the header naming sender,
counter and receiving port, the replay check and the bounded frame reader), and ``hmac``, the
tag alone (:class:`HmacOnlyPickle`: no header, no replay check), which says what the replay
protection adds on top of the tag:

* the serializer alone, ``dumps`` + ``loads`` of typical messages (a small command, a batch of
  20 events), the best of three runs of each;
* an actor round trip on ``multiprocTCPBase`` (system ask → echo actor → reply: four frames and
  their acks), each mode in a fresh process of its own, the three modes alternated round by
  round to spread the noise; the medians of the rounds are compared.

    python -m bench.frame_auth --rounds 5 --asks 1000
"""

from __future__ import annotations

import argparse
import hmac
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
from thespian.system.transport.streamBuffer import ackDataErrPacket, ackPacket, toSendBuffer

from actors.runtime.frame_auth import AuthenticatedPickle
from bench.stats import percentile

__all__ = ["MODES", "Echo", "HmacOnlyPickle", "main"]

MODES = ("plain", "hmac", "auth")

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


class HmacOnlyPickle:
    """The tag alone: ``HMAC-SHA256(secret, pickle) + pickle``, checked before unpickling, with
    no header and no replay check (a bench baseline, not something the daemon installs)."""

    def __init__(self, secret: bytes) -> None:
        self._key = secret

    def dumps(self, value: Any, *args: Any, **kwargs: Any) -> bytes:
        payload = pickle.dumps(value, *args, **kwargs)
        return hmac.digest(self._key, payload, "sha256") + payload

    def loads(self, data: bytes, *args: Any, **kwargs: Any) -> Any:
        view = memoryview(data)
        if not hmac.compare_digest(bytes(view[:32]), hmac.digest(self._key, view[32:],
                                                                 "sha256")):
            return ackDataErrPacket
        return pickle.loads(view[32:], *args, **kwargs)


def _install_hmac_only(secret: bytes) -> None:
    from thespian.system.transport import TCPTransport

    serializer = HmacOnlyPickle(secret)
    TCPTransport.serializer = serializer  # type: ignore[attr-defined]
    TCPTransport.ackMsg = toSendBuffer(ackPacket, serializer.dumps)  # type: ignore[attr-defined]
    TCPTransport.ackDataErrMsg = toSendBuffer(  # type: ignore[attr-defined]
        ackDataErrPacket, serializer.dumps)


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
    auth.listen(1, 0)  # this process receives what it sends: tag, header, time, replay guard

    def dumps(message: Any) -> bytes:
        return auth.dumps_to(message, 1)

    tag_only = HmacOnlyPickle(b"k" * 32)
    for name, message in _messages().items():
        plain = min(_serializer_seconds(pickle.dumps, pickle.loads, message, rounds)
                    for _ in range(3))
        tagged = min(_serializer_seconds(tag_only.dumps, tag_only.loads, message, rounds)
                     for _ in range(3))
        signed = min(_serializer_seconds(dumps, auth.loads, message, rounds)
                     for _ in range(3))
        print(f"serializer, {name} ({len(pickle.dumps(message))} bytes): plain "
              f"{plain * 1e6:.2f} µs, HMAC alone {tagged * 1e6:.2f} µs ({tagged / plain:.2f}x), "
              f"authenticated {signed * 1e6:.2f} µs, +{(signed - plain) * 1e6:.2f} µs "
              f"({signed / plain:.2f}x)", flush=True)


def _hop_child(mode: str, asks: int) -> None:
    """In a fresh process: a system (authenticated or not), an echo actor, ``asks`` asks."""
    from thespian.actors import ActorSystem

    from actors.runtime.frame_auth import install
    from actors.runtime.loopback import restrict_thespian_to
    from tests.support.daemon import free_port

    restrict_thespian_to("127.0.0.1")
    if mode == "auth":
        install(b"s" * 32)
    elif mode == "hmac":
        _install_hmac_only(b"s" * 32)
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
    medians: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode in MODES:
            result = subprocess.run(
                [sys.executable, "-m", "bench.frame_auth", "--hop-child", mode,
                 "--asks", str(asks)],
                cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
                stdin=subprocess.DEVNULL)
            medians[mode].append(float(result.stdout.strip().splitlines()[-1]))
    plain = percentile(medians["plain"], 0.5)
    tagged = percentile(medians["hmac"], 0.5)
    auth = percentile(medians["auth"], 0.5)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"actor round trip (median of {rounds} runs of {asks} asks): plain "
          f"{plain * 1000:.3f} ms, HMAC alone {tagged * 1000:.3f} ms ({tagged / plain:.2f}x), "
          f"authenticated {auth * 1000:.3f} ms ({auth / plain:.2f}x); load average {load}",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--asks", type=int, default=1000)
    parser.add_argument("--serializer-rounds", type=int, default=20_000)
    parser.add_argument("--hop-child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hop_child:
        _hop_child(args.hop_child, args.asks)
        return 0
    measure_serializer(args.serializer_rounds)
    measure_hops(args.asks, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
