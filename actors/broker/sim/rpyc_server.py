"""Serve the simulated terminal over RPyC, the way mt5linux serves a real one.

``python -m actors.broker.sim.rpyc_server --port N --data-dir D`` builds a simulated terminal,
registers it as the module ``MetaTrader5`` and runs an RPyC *classic* server (``SlaveService``),
so an mt5linux-style client can ``import MetaTrader5`` on it and call the module remotely.

A classic server runs any code its clients send: it binds 127.0.0.1 only (reference §9.3 item
8). ``--port 0`` picks a free port. Once listening, the server prints ``READY <port>`` on
stdout; SIGTERM or SIGINT stop it and close ``sim.db``. Options name the ``sim.*`` keys they set
(``--server-time``, ``--password-env``, ``--stops-level-scale``, ``--comment-rewrite``...).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from actors.broker.sim.config import SimConfig
from actors.broker.sim.module import create_sim_module, register_module
from actors.runtime.clock import SimClock

__all__ = ["config_from_args", "main", "serve"]

LOOPBACK = "127.0.0.1"


def serve(config: SimConfig, data_dir: str, port: int, *, ready_stream: object = None) -> None:
    """Run the server until SIGTERM/SIGINT (blocking)."""
    from rpyc.core import SlaveService
    from rpyc.utils.server import ThreadedServer

    module = create_sim_module(config, data_dir, SimClock(config.speed, config.start))
    register_module(module)
    server = ThreadedServer(
        SlaveService,
        hostname=LOOPBACK,
        port=port,
        reuse_addr=True,
        protocol_config={"allow_public_attrs": True, "allow_pickle": True},
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        server.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Listen before saying READY: rpyc only listens inside start(), and a client that
    # connected between the two was refused (a flaky test setup in CI).
    server._listen()
    stream = ready_stream if ready_stream is not None else sys.stdout
    print(f"READY {server.port}", file=stream, flush=True)  # type: ignore[call-overload]
    try:
        server.start()
    finally:
        module._sim.close()


def config_from_args(argv: Sequence[str] | None = None) -> tuple[SimConfig, str, int]:
    """The terminal's configuration, data directory and port from the command line; a bad
    value exits with a usage error naming the option."""
    defaults = SimConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port (0 = any free port)")
    parser.add_argument("--data-dir", required=True, help="directory of sim.db")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--speed", type=float, default=defaults.speed)
    parser.add_argument("--start", type=float, default=None, help="market start, epoch s UTC")
    parser.add_argument("--balance", type=float, default=defaults.balance)
    parser.add_argument("--server-time", default=defaults.server_time,
                        help="the server's clock (sim.server_time)")
    parser.add_argument("--password-env", default=None,
                        help="variable holding the account's password (sim.password_env)")
    parser.add_argument("--stops-level-scale", type=float, default=defaults.stops_level_scale)
    parser.add_argument("--execution-mode", default=None, help="market, instant or request")
    parser.add_argument("--execution-delay-ms", type=float, default=defaults.execution_delay_ms)
    parser.add_argument("--comment-rewrite", default=defaults.comment_rewrite,
                        help="off, truncate or replace")
    parser.add_argument("--comment-rewrite-length", type=int,
                        default=defaults.comment_rewrite_length)
    args = parser.parse_args(argv)
    try:
        config = SimConfig(
            seed=args.seed, speed=args.speed, start=args.start, balance=args.balance,
            server_time=args.server_time, password_env=args.password_env,
            stops_level_scale=args.stops_level_scale, execution_mode=args.execution_mode,
            execution_delay_ms=args.execution_delay_ms, comment_rewrite=args.comment_rewrite,
            comment_rewrite_length=args.comment_rewrite_length,
        )  # fmt: skip
    except ValueError as error:
        parser.error(str(error))
    return config, args.data_dir, args.port


def main(argv: Sequence[str] | None = None) -> int:
    config, data_dir, port = config_from_args(argv)
    serve(config, data_dir, port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
