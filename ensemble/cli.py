"""Ensemble's command line: ``run`` (the default) starts the daemon in the foreground,
``status`` prints the supervision tree of a running daemon, ``stop`` stops it; ``backtest``
and ``data download`` are in :mod:`ensemble.backtest_cli`.

With no configuration it trades a simulated MetaTrader 5 terminal (paper money). Three ways in,
one code path: the ``ensemble`` console script, ``python -m ensemble`` and, in a checkout,
``python run_system.py``. See ``--help`` and DESIGN.md §7 for the configuration keys.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from actors.app.settings import ConfigError, Settings, load_settings
from actors.notify.config import missing_secrets
from actors.runtime import portable
from actors.runtime.distribution import version
from actors.runtime.instance import DaemonInfo, read_daemon_info, why_not_the_daemon
from actors.runtime.logs import configure_logging
from actors.runtime.private import UnsafePath, open_private
from actors.strategy.loader import StrategyError, load_strategies
from web.auth import TOKEN_ENV, TOKEN_FILE

__all__ = ["main"]

STOP_WAIT_S = 20.0
EXIT_NOT_RUNNING = 3


def _parser(prog: str | None = None) -> argparse.ArgumentParser:
    name = prog or "ensemble"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Ensemble: an actor-model trading system for MetaTrader 5.",
        epilog=f"Backtests and history have options of their own: '{name} backtest --help', "
               f"'{name} data download --help'.",
    )
    parser.add_argument("--version", action="version", version=f"ensemble {version()}")
    parser.add_argument("command", nargs="?", default="run", choices=("run", "status", "stop"))
    parser.add_argument("--config", metavar="FILE.toml", help="a TOML configuration file")
    parser.add_argument("--set", dest="assignments", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="override one key (repeatable)")
    parser.add_argument("--host", help="web front bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="web front port (default 8000)")
    parser.add_argument("--admin-port", type=int, help="Thespian's admin port (default 1900)")
    parser.add_argument("--data-dir", help="where state.db, events.db and the token live "
                        "(default: var/ in a checkout, else the user's data directory)")
    parser.add_argument("--log-format", choices=("console", "json"))
    parser.add_argument("--strategy", dest="strategies", action="append", default=[],
                        metavar="SPEC", help="a strategy to run: PATH/file.py:Class or "
                        "package.module:Class (repeatable; default: the built-in Confluence)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    flags = {
        "web.host": args.host,
        "web.port": args.port,
        "runtime.admin_port": args.admin_port,
        "runtime.data_dir": args.data_dir,
        "log.format": args.log_format,
        "strategy.plugins": tuple(args.strategies) or None,
    }
    overrides = {key: value for key, value in flags.items() if value is not None}
    return load_settings(args.config, args.assignments, overrides=overrides)


def _fetch_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _print_tree(node: dict[str, Any], depth: int = 0) -> None:
    failure = node.get("last_failure") or {}
    extra = f"  last failure {failure.get('time')}: {failure.get('reason')}" if failure else ""
    strategy = f" [{node['strategy']}]" if node.get("strategy") else ""
    print(f"{'  ' * depth}{node['name']}{strategy}  {node['state']}  pid {node.get('pid')}  "
          f"restarts {node.get('restarts', 0)}{extra}")
    for child in node.get("children", []):
        _print_tree(child, depth + 1)


def _daemon_info(settings: Settings) -> DaemonInfo | None:
    try:
        return read_daemon_info(settings.runtime.admin_port)
    except UnsafePath as error:
        raise SystemExit(f"ensemble: {error}") from None


def _local_url(settings: Settings, path: str) -> str:
    """The configured web port, on loopback unless a specific address is configured: never an
    address read from a file."""
    host = settings.web.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.web.port}/{path}"


def _configured_token(settings: Settings) -> str:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    with os.fdopen(open_private(settings.data_path / TOKEN_FILE, os.O_RDONLY),
                   encoding="utf-8") as handle:
        return handle.read().strip()


def _status(settings: Settings) -> int:
    info = _daemon_info(settings)
    if info is None:
        print(f"no Ensemble daemon is running on admin port {settings.runtime.admin_port}")
        return EXIT_NOT_RUNNING
    print(f"daemon pid {info.pid}, started {info.started_at}, data directory {info.data_dir}")
    if Path(info.data_dir).resolve() != settings.data_path.resolve():
        print(f"it does not use the configured data directory ({settings.data_path}); "
              f"pass --data-dir {info.data_dir}", file=sys.stderr)
        return 2
    try:
        tree = _fetch_json(_local_url(settings, "api/supervisors"), _configured_token(settings))
    except (OSError, urllib.error.URLError, ValueError) as error:
        print(f"the web front does not answer ({error}); the daemon process is alive")
        return 1
    _print_tree(tree)
    _print_trading(settings)
    return 0


def _print_trading(settings: Settings) -> None:
    """The mode, what blocks trading, the day's P&L and the open positions."""
    token = _configured_token(settings)
    try:
        risk = _fetch_json(_local_url(settings, "api/risk"), token)
        positions = _fetch_json(_local_url(settings, "api/positions"), token)
    except (OSError, urllib.error.URLError, ValueError) as error:
        print(f"trading: not available yet ({error})")
        return
    blocked = ", ".join(risk.get("blocked_by") or []) or "nothing"
    day = risk.get("day") or {}
    print(f"trading: mode {risk.get('mode')}, kill switch "
          f"{'LATCHED' if risk.get('kill_switch') else 'off'}, blocked by {blocked}")
    print(f"  broker day: realised {day.get('realised')}, open risk {day.get('open_risk')}, "
          f"reserved {day.get('reserved')}, loss limit {day.get('loss_limit')}, "
          f"remaining {day.get('remaining')}")
    rows = positions if isinstance(positions, list) else positions.get("positions", [])
    print(f"  open positions: {len(rows)}")
    for row in rows:
        print(f"    {row.get('ticket')} {row.get('symbol')} {row.get('direction')} "
              f"{row.get('volume')} @ {row.get('entry_price')}  P&L {row.get('profit')}")


def _stop(settings: Settings) -> int:
    info = _daemon_info(settings)
    if info is None:
        print(f"no Ensemble daemon is running on admin port {settings.runtime.admin_port}")
        return EXIT_NOT_RUNNING
    problem = why_not_the_daemon(info)
    if problem is not None:
        print(f"ensemble: not signalling: {problem}", file=sys.stderr)
        return 2
    if portable.use_portable():
        portable.request_stop(Path(info.data_dir))  # os.kill on Windows would terminate it
    else:
        os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        if _daemon_info(settings) is None:
            print(f"stopped the daemon (pid {info.pid})")
            return 0
        time.sleep(0.1)
    print(f"the daemon (pid {info.pid}) did not stop within {STOP_WAIT_S:g} s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] in (["backtest"], ["data"]):  # commands with options of their own
        from ensemble.backtest_cli import main as backtest_main

        return backtest_main(arguments, prog)
    args = _parser(prog).parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "run":  # a strategy that cannot load stops the start, clearly
            load_strategies(settings.strategy.plugins, settings.strategy.params, settings)
            if problems := missing_secrets(settings.notify):
                raise ConfigError("; ".join(problems))
    except (ConfigError, StrategyError) as error:
        print(f"ensemble: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log.format, settings.log.level)
    if args.command == "status":
        return _status(settings)
    if args.command == "stop":
        return _stop(settings)
    from actors.app.daemon import run_daemon

    return run_daemon(settings)
